// The environment file format (environments/<env>.yml). One zod schema is the single source:
// it validates files, gives TypeScript types, and is emitted as environments/schema.json.
// Keys are kebab-case like GitHub's own YAML. Secrets are referenced by NAME only.
import * as z from "zod";
import { LINT_RULES, type LintRule } from "../lint/rules.js";
import { dotenvProblem } from "../commands/dotenv.js";
import { commandProblem, envValueProblem, iniProblem, iniTextProblem } from "../commands/supervisor-ini.js";

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "names use letters, digits, '.', '_' and '-'");
const secretName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, "a secret is referenced by its NAME (upper-case, e.g. DB_PASSWORD), never by its value");
const absPath = z.string().regex(/^\//, "must be an absolute path");
const relPath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "must be a path inside the repository (relative, no '..')");
/** "250ms", "10s", "5m", "1h" or a number of seconds. */
export const duration = z.union([
  z.number().nonnegative(),
  z.string().regex(/^\d+(\.\d+)?(ms|s|m|h)$/, "a duration like 500ms, 10s, 5m or 1h"),
]);
const strings = z.array(z.string().min(1));
/**
 * A value of a line-oriented file (crontab, logrotate, supervisor INI, .env): a newline, CR or NUL
 * would start another line of that file (another crontab pattern, a postrotate script, a whole
 * [program:x] section), so it is refused here with file:line:col, whatever the writer does.
 */
const oneLine = <T extends z.ZodString>(t: T, format: string) =>
  t.superRefine((v, ctx) => {
    if (/[\n\r\0]/.test(v)) ctx.addIssue({ code: "custom", message: `a newline, carriage return or NUL would start another line of the ${format}` });
  });
// Values that reach a systemd unit or timer (src/commands/systemd.ts through ./systemd-unit.ts's
// writers): refused here, with file:line:col, when a unit cannot carry them whatever the escaping.
const unitCarriable = (v: string) =>
  /[\n\r]/.test(v)
    ? "a newline or carriage return would start a new directive in the systemd unit"
    : v.includes("\0")
      ? "a NUL cannot be written into a systemd unit"
      : v.endsWith("\\")
        ? "a trailing backslash would continue the line into the next directive of the systemd unit"
        : undefined;
const unitRule = <T extends z.ZodString>(t: T, extra?: (v: string) => string | undefined) =>
  t.superRefine((v, ctx) => {
    const why = unitCarriable(v) ?? extra?.(v);
    if (why) ctx.addIssue({ code: "custom", message: why });
  });
/** Free text in a unit (Description=): anything but what unitCarriable refuses and surrounding whitespace, which systemd strips. */
const unitText = unitRule(z.string().min(1, "leave it out rather than empty"), (v) => (/^[ \t]|[ \t]$/.test(v) ? "systemd strips spaces and tabs at the start and end of a value" : undefined));
/** User=/Group=: systemd's (relaxed) user name rules, and no leading '-' (read as an option by chown and friends). */
const unitUser = unitRule(z.string().min(1), (v) =>
  /[\x00-\x1f\x7f]/.test(v)
    ? "a user or group name cannot hold control characters"
    : /[:/]/.test(v)
      ? "a user or group name cannot hold ':' or '/'"
      : /^\s|\s$/.test(v)
        ? "a user or group name cannot start or end with whitespace"
        : v.startsWith("-")
          ? "a user or group name cannot start with '-'"
          : v === "." || v === ".."
            ? "'.' and '..' are not user or group names"
            : /^\d+$/.test(v) && !(/^(0|[1-9]\d{0,9})$/.test(v) && Number(v) < 4294967295 && Number(v) !== 65535)
              ? "not a valid numeric user or group id"
              : undefined,
);
const UNIT_SUFFIXES = "service|socket|device|mount|automount|swap|target|path|timer|slice|scope";
/** A unit a dependency (After=, Wants=, Requires=) names: systemd's unit name characters and a type suffix; never a leading '-'. */
const unitDependency = unitRule(z.string(), (v) =>
  new RegExp(`^(?=.{1,255}$)[A-Za-z0-9:_.@\\\\][A-Za-z0-9:_.@\\\\-]*\\.(${UNIT_SUFFIXES})$`).test(v)
    ? undefined
    : v.startsWith("-")
      ? "a unit name cannot start with '-' (systemctl would read it as an option)"
      : `a unit name like network-online.target: letters, digits, ':', '_', '.', '@', '\\', '-' and a type suffix (.${UNIT_SUFFIXES.split("|").join(", .")})`,
);
/** A unit a check watches (systemctl show): unit name characters, the suffix optional (.service by default), never a leading '-'. */
const checkUnit = unitRule(z.string().min(1), (v) =>
  v.startsWith("-")
    ? "a unit name cannot start with '-' (systemctl would read it as an option)"
    : /^(?=.{1,255}$)[A-Za-z0-9:_.@\\-]+$/.test(v)
      ? undefined
      : "a unit name uses letters, digits, ':', '_', '.', '@', '\\' and '-'",
);
/** A path that reaches a unit (WorkingDirectory=, EnvironmentFile=, ReadWritePaths=): absolute and normalized, as systemd requires. */
const unitPath = unitRule(absPath, (v) =>
  v.split("/").slice(1, v.endsWith("/") ? -1 : undefined).some((c) => c === "" || c === "." || c === "..")
    ? "a path in a systemd unit must be normalized: no empty, '.' or '..' components"
    : undefined,
);
/** A path written into a unit as is (ReadWritePaths=): systemd drops a trailing '/', so it is refused rather than changed. */
const unitPathExact = unitPath.refine((v) => v === "/" || !v.endsWith("/"), "no trailing '/' (systemd would drop it)");
/** systemd refuses an executable path with quotes, backslashes or control characters ("Executable name contains special characters") and expands no variables in it, so '$' cannot be escaped there. */
const EXEC_PATH_UNSAFE = /["'\\$\x00-\x1f\x7f]/;
const EXEC_PATH_WHY = "systemd refuses quotes, backslashes and control characters in the executable's path and cannot escape '$' there";
/** A command line (ExecStart=, ExecReload=): words split at spaces and tabs, each written quoted as systemd requires. */
const unitCommand = (t: z.ZodString, opts: { reload?: boolean } = {}) =>
  unitRule(t, (v) => {
    const first = v.split(/[ \t]+/).find((w) => w !== "");
    if (first === undefined) return "a command needs at least one word";
    if (first.endsWith("/")) return "the command's first word is a directory";
    if (EXEC_PATH_UNSAFE.test(first)) return EXEC_PATH_WHY;
    if (opts.reload && /^[-@:+!]/.test(first)) return `a command cannot start with '${first[0]}' (systemd reads it as a prefix)`;
    if (opts.reload && !first.startsWith("/") && first.includes("/")) return "the command must be an absolute path or a plain file name (searched in systemd's PATH)";
    return undefined;
  });
/** OnCalendar=: the characters of systemd.time(7) calendar events (weekdays, dates, times, time zones). */
const onCalendar = unitRule(z.string(), (v) =>
  /^[A-Za-z0-9*:,./~+_-]+( [A-Za-z0-9*:,./~+_-]+)*$/.test(v) ? undefined : "a calendar event like '*:0/5' or 'Mon..Fri 09:00 Europe/Berlin' (letters, digits, '*:,./~+_-', single spaces between parts)",
);

const envMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name"), oneLine(z.string(), "environment file (.env, EnvironmentFile=, supervisor environment=)"));
const secretEnvMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name"), secretName);

const sha256Fingerprint = z.string().superRefine((v, ctx) => {
  if (/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(v)) return;
  // slipway init's placeholder for a host that did not answer: say exactly how to pin it
  const pin = /^PIN ME: (slipway fingerprint .+)$/.exec(v);
  ctx.addIssue({
    code: "custom",
    message: pin
      ? `the host key is not pinned yet: run \`${pin[1]}\` where the host answers, compare the key with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on the host, and paste its host-key line here`
      : "a host key fingerprint looks like SHA256:<43 base64 characters> (ssh-keygen -lf, or `slipway fingerprint`)",
  });
});
const knownHostsLine = z
  .string()
  .regex(/^\S+\s+(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-\S+)\s+[A-Za-z0-9+/=]+(\s.*)?$/, "a known_hosts line: '<host> <key-type> <base64-key>'");
const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1)]);

export const hostSchema = z
  .strictObject({
    address: z.string().min(1).describe("DNS name or IP address"),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().min(1).default("root").describe("login user; with sudo: true privileged commands run through sudo -n"),
    "host-key": oneOrMany(sha256Fingerprint).optional().describe("pinned SHA256 fingerprint(s) of the host key"),
    "known-hosts": oneOrMany(knownHostsLine).optional().describe("pinned known_hosts line(s)"),
    jump: name.optional().describe("another host of this file used as bastion"),
    sudo: z.boolean().default(false),
    "ssh-key-secret": secretName.optional().describe("secret holding the private key (default: ssh.key-secret)"),
    "identity-file": z.string().min(1).optional().describe("private key file on the runner (local use; CI uses a secret)"),
    commands: z
      .strictObject({
        docker: z.string().min(1).optional(),
        compose: z.string().min(1).optional().describe("e.g. '/usr/local/bin/docker-compose' or '/usr/local/bin/docker compose'"),
        systemctl: z.string().min(1).optional(),
        supervisorctl: z.string().min(1).optional(),
        psql: z.string().min(1).optional(),
        pg_dump: z.string().min(1).optional(),
        pg_restore: z.string().min(1).optional(),
        sqlite3: z.string().min(1).optional(),
        alembic: z.string().min(1).optional(),
      })
      .optional(),
  })
  .refine((h) => (h["host-key"] === undefined) !== (h["known-hosts"] === undefined), {
    message: "pin the host key: give exactly one of host-key (SHA256 fingerprint) or known-hosts (a known_hosts line); `slipway fingerprint <address>` prints both",
  });

const restartSchema = z.strictObject({
  policy: z.enum(["always", "on-failure", "on-abnormal", "on-abort", "no"]).default("on-failure"),
  delay: duration.optional().describe("RestartSec"),
  burst: z.number().int().positive().optional().describe("StartLimitBurst: restarts allowed per interval"),
  interval: duration.optional().describe("StartLimitIntervalSec"),
  "stop-exit-status": z
    .array(z.number().int().min(1).max(255))
    .optional()
    .describe("exit statuses by which the app stops on purpose (e.g. on a panic flag): never restarted whatever the policy (RestartPreventExitStatus=) and not a failure, so the unit ends inactive (SuccessExitStatus=)"),
});

const logrotateSchema = z.strictObject({
  paths: z
    .array(
      oneLine(absPath, "logrotate configuration")
        .regex(/^\S+$/, "no whitespace: logrotate reads each word as another path pattern")
        .regex(/^[^{}\\]+$/, "no '{', '}' or '\\': logrotate ends the list of paths at a brace whatever the quoting, and its glob reads a backslash as an escape")
        .regex(/[^/]$/, "a log file, not a directory: no '/' at the end (logrotate's glob drops it)"),
    )
    .min(1),
  keep: z.number().int().positive().default(7),
  frequency: z.enum(["daily", "weekly", "monthly"]).default("daily"),
  compress: z.boolean().default(true),
  copytruncate: z.boolean().default(false),
  create: oneLine(z.string(), "logrotate configuration")
    .regex(/^[0-7]{3,4}( [A-Za-z0-9_][A-Za-z0-9_.-]*\$?){0,2}$/, "MODE [OWNER [GROUP]] like '0644 trader trader' (octal mode, user and group names, single spaces): logrotate reads nothing else")
    .optional()
    .describe("e.g. '0644 trader trader'"),
  postrotate: oneLine(z.string().min(1, "leave it out rather than empty"), "logrotate configuration (a newline could end the postrotate script and add directives)")
    .refine((v) => !/^[ \t]*endscript(?![A-Za-z])/.test(v), "a line starting with the word 'endscript' ends logrotate's script there")
    .optional()
    .describe("one command line, run after rotation"),
});

const serviceCommon = {
  hosts: z.array(name).min(1),
  "deploy-to": unitPath.describe("absolute, normalized path (it reaches WorkingDirectory= of a unit)"),
  release: relPath.optional().describe("directory (or .tar.gz) built earlier in the workflow"),
  shared: z.array(relPath).default([]).describe("paths linked from <deploy-to>/shared into every release"),
  env: envMap.default({}),
  "secret-env": secretEnvMap.default({}),
  stabilize: duration.optional().describe("how long the service must stay up after a restart (default 5s); a timer-driven job is not started by a deploy, so nothing is waited for"),
  logrotate: logrotateSchema.optional(),
};

export const systemdServiceSchema = z
  .strictObject({
    kind: z.literal("systemd"),
    ...serviceCommon,
    "unit-file": relPath.optional().describe("use this unit file verbatim instead of rendering one"),
    "unit-name": z.string().regex(/^[A-Za-z0-9@_.:][A-Za-z0-9@_.:-]*\.service$/, "a service unit name like app.service (letters, digits, '@', '_', '.', ':', '-'; not starting with '-')").optional(),
    description: unitText.optional(),
    after: z.array(unitDependency).default([]),
    wants: z.array(unitDependency).default([]),
    requires: z.array(unitDependency).default([]),
    user: unitUser.optional(),
    group: unitUser.optional(),
    exec: unitCommand(z.string().min(1)).optional().describe("ExecStart: words separated by spaces, each passed as one argument as written (no shell, no $VARIABLE or %specifier expansion); the first relative to the release or absolute"),
    "exec-reload": unitCommand(z.string(), { reload: true }).optional().describe("ExecReload: words separated by spaces, each passed as one argument as written; no $VARIABLE expansion except a word that is exactly $MAINPID (e.g. /bin/kill -HUP $MAINPID)"),
    "on-change": z.enum(["restart", "reload"]).default("restart"),
    restart: restartSchema.optional(),
    hardening: z.enum(["none", "basic", "strict"]).default("none"),
    "read-write-paths": z.array(unitPathExact).default([]),
    limits: z
      .strictObject({
        memory: z.string().regex(/^\d+[KMGT]?$/).optional(),
        "cpu-quota": z.string().regex(/^\d+%$/).optional(),
        nofile: z.number().int().positive().optional(),
        tasks: z.number().int().positive().optional(),
      })
      .optional(),
    timer: z
      .strictObject({
        "on-calendar": onCalendar.optional(),
        "on-boot": duration.optional(),
        "on-unit-active": duration.optional(),
        persistent: z.boolean().default(false),
      })
      .optional(),
    "replaces-cron": z
      .strictObject({
        user: oneLine(z.string().min(1), "crontab command line")
          .regex(/^[^-]/, "a user name cannot start with '-'")
          .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/, "a login name like deployer (letters, digits, '_', '.', '-'; what crontab -u takes)"),
        match: oneLine(z.string().min(1), "crontab edit: every line of the match would be a pattern of its own, and an empty one removes the whole crontab"),
      })
      .optional(),
  })
  .refine((s) => (s["unit-file"] === undefined) !== (s.exec === undefined), {
    message: "a systemd service needs exactly one of exec (a unit is rendered) or unit-file (used verbatim)",
  })
  .superRefine((s, ctx) => {
    // a relative exec runs as <deploy-to>/current/<exec>: the executable's path, where systemd expands no variables
    const first = s.exec?.split(/[ \t]+/).find((w) => w !== "");
    if (first && !first.startsWith("/") && EXEC_PATH_UNSAFE.test(s["deploy-to"]))
      ctx.addIssue({ code: "custom", path: ["deploy-to"], message: `with a relative exec, deploy-to is part of the executable's path: ${EXEC_PATH_WHY}` });
  });

// Values of a supervisor conf.d file: what its parser cannot carry (src/commands/supervisor-ini.ts says why) is refused here.
const iniRule = <T extends z.ZodString>(t: T, problem: (v: string) => string | undefined) =>
  t.superRefine((v, ctx) => {
    const why = problem(v);
    if (why) ctx.addIssue({ code: "custom", message: why });
  });
const supervisorEnvMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name"), iniRule(z.string(), envValueProblem));

const programSchema = z.strictObject({
  command: iniRule(z.string().min(1), commandProblem).describe("words separated by whitespace, each one argument as written (no shell); the first relative to the release when it holds a '/', else searched in PATH"),
  directory: iniRule(absPath, iniTextProblem).optional().describe("default: <deploy-to>/current"),
  user: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/, "a user name: letters, digits, '_', '.', '-' (not first) and a final '$'").optional(),
  environment: supervisorEnvMap.default({}),
  autorestart: z.union([z.boolean(), z.literal("unexpected")]).default(true),
  startsecs: z.number().int().nonnegative().optional(),
  startretries: z.number().int().nonnegative().default(3),
  stopasgroup: z.boolean().default(true),
  killasgroup: z.boolean().default(true),
  stopsignal: z.enum(["TERM", "HUP", "INT", "QUIT", "KILL", "USR1", "USR2"]).default("TERM"),
  stopwaitsecs: z.number().int().positive().optional(),
  numprocs: z.number().int().positive().default(1),
});

export const supervisorServiceSchema = z.strictObject({
  kind: z.literal("supervisor"),
  ...serviceCommon,
  // unitPath already refuses newlines, CR and NUL
  "deploy-to": iniRule(unitPath, (v) => (/[\n\r\0]/.test(v) ? undefined : iniProblem(v))).describe("absolute, normalized path (it reaches the programs' command= and directory=)"),
  env: supervisorEnvMap.default({}),
  group: name.optional().describe("supervisor group (default: the service name)"),
  programs: z.record(name, programSchema),
  "config-dir": absPath.default("/etc/supervisor/conf.d"),
  "supervisord-config": absPath.optional().describe("pass -c to supervisorctl (a private supervisord)"),
});

export const composeServiceSchema = z.strictObject({
  kind: z.literal("compose"),
  ...serviceCommon,
  // written to the stack's .env, which compose v1 and v2 must both read as written (src/commands/dotenv.ts)
  env: envMap.superRefine((env, ctx) => {
    for (const [k, v] of Object.entries(env)) {
      const why = /[\n\r\0]/.test(v) ? undefined : dotenvProblem(v); // those are refused by envMap already
      if (why) ctx.addIssue({ code: "custom", path: [k], message: why });
    }
  }).default({}),
  files: z.array(relPath).min(1),
  project: name.optional().describe("compose project name, stable across releases (default: the service name)"),
  strategy: z.enum(["in-place", "recreate"]).default("in-place"),
  pull: z.enum(["missing", "always", "never"]).default("missing").describe("pull images of services without build: when missing on the host (default), always, or never"),
  "database-service": name.optional().describe("started and healthy before migrations run"),
  "wait-timeout": duration.default("120s"),
  "keep-images": z.number().int().min(2).default(3),
});

export const serviceSchema = z.discriminatedUnion("kind", [systemdServiceSchema, supervisorServiceSchema, composeServiceSchema]);

const migrationsSchema = z.strictObject({
  dir: relPath,
  engine: z.enum(["sql", "alembic"]).default("sql"),
  table: z.string().regex(/^[a-z_][a-z0-9_]*$/).default("slipway_schema_history"),
  "out-of-order": z.boolean().default(false),
  "lock-timeout": duration.default("60s"),
  service: name.optional().describe("alembic: run with this service's env and secret-env (dir is the repository directory holding alembic.ini, uploaded for the run)"),
  lint: z
    .partialRecord(z.enum(Object.keys(LINT_RULES) as [LintRule, ...LintRule[]]), z.enum(["error", "warn", "off"]))
    .default({})
    .describe("sql: the severity of each rule of the migration lint (slipway lint-migrations), e.g. { require-concurrent-index-creation: error, renaming-column: off }"),
});

const backupSchema = z.strictObject({
  dir: absPath.optional().describe("backup directory on the host (default: /var/backups/slipway/<database>)"),
  to: z.enum(["host", "runner"]).default("host"),
  keep: z.number().int().positive().default(7),
  "keep-days": z.number().int().positive().optional(),
  verify: z.enum(["list", "restore"]).default("list"),
  tables: z.array(z.string().min(1)).default([]).describe("tables whose row counts go into the summary"),
});

const dbOn = z.strictObject({
  host: name,
  container: z.string().min(1).optional().describe("run inside this container (docker exec)"),
  port: z.number().int().min(1).max(65535).optional(),
});

export const postgresSchema = z
  .strictObject({
    engine: z.literal("postgres"),
    on: dbOn.optional(),
    "url-secret": secretName.optional().describe("secret holding a postgres:// URL (managed database)"),
    via: name.optional().describe("with url-secret: tunnel through this host"),
    name: z
      .string()
      .min(1)
      .refine((v) => !v.includes("=") && !/^postgres(ql)?:\/\//.test(v), "libpq reads a database name holding '=' or starting with postgres:// as a connection string (other hosts, users, options): give the plain database name")
      .refine((v) => !/[\0\n\r]/.test(v), "a database name cannot hold a newline or NUL"),
    user: z.string().min(1).refine((v) => !/[\0\n\r]/.test(v) && !v.startsWith("-"), "a role name without newline or NUL, not starting with '-'").default("postgres"),
    "password-secret": secretName.optional(),
    tls: z.enum(["disable", "require", "verify-full"]).optional(),
    version: z.number().int().min(9).optional().describe("server major version, to pick pg_dump-<major>"),
    migrations: migrationsSchema.optional(),
    backup: backupSchema.optional(),
  })
  .refine((d) => (d.on === undefined) !== (d["url-secret"] === undefined), {
    message: "a postgres database is either on a host (on:) or reached by URL (url-secret:), exactly one",
  });

export const sqliteSchema = z.strictObject({
  engine: z.literal("sqlite"),
  on: z.strictObject({ host: name }),
  path: absPath,
  migrations: migrationsSchema.optional(),
  backup: backupSchema.optional(),
});

export const databaseSchema = z.discriminatedUnion("engine", [postgresSchema, sqliteSchema]);

export const checkKinds = ["http", "tcp", "command", "systemd", "supervisor", "compose", "sql", "file-fresh", "file-absent", "memory"] as const;
export const checkSchema = z
  .strictObject({
    name: z.string().optional(),
    http: z.string().regex(/^https?:\/\//, "an http(s) URL").optional(),
    tcp: z.string().regex(/^[^\s:]+:\d+$/, "host:port").optional(),
    command: z.string().min(1).optional(),
    systemd: checkUnit.optional(),
    supervisor: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*(:([A-Za-z0-9][A-Za-z0-9_.-]*|\*))?$/, "a supervisor program, group:program or group:* (names as in programs:; never a leading '-', which supervisorctl reads as an option)").optional(),
    compose: name.optional().describe("a service of a compose stack"),
    sql: z.string().min(1).optional().describe("one read-only query; its first column of the first row is compared with expect"),
    "file-fresh": z.string().min(1).optional(),
    "file-absent": z.string().min(1).optional(),
    memory: z.strictObject({ unit: checkUnit, max: z.string().regex(/^\d+[KMGT]?$/) }).optional(),
    // qualifiers
    from: name.optional().describe("run the check on this host instead of the runner"),
    hosts: z.array(name).optional(),
    status: z.number().int().min(100).max(599).optional(),
    contains: z.string().optional(),
    json: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
    database: name.optional(),
    expect: z.string().regex(/^(=|==|!=|>|>=|<|<=)\s*-?\d+(\.\d+)?$/, "a comparison like '> 0' or '= 12'").optional(),
    within: duration.optional(),
    timeout: duration.default("5s"),
    retries: z.number().int().nonnegative().default(10),
    interval: duration.default("2s"),
    stable: z.number().int().positive().default(1).describe("must pass this many times in a row"),
  })
  .refine((c) => checkKinds.filter((k) => c[k] !== undefined).length === 1, {
    message: `a check needs exactly one of: ${checkKinds.join(", ")}`,
  });

export const policySchema = z.strictObject({
  "keep-releases": z.number().int().min(2).default(5),
  "auto-rollback": z.boolean().default(false),
  "backup-before-migrate": z.boolean().default(true),
  "maintenance-window": z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d UTC$/, "like '02:00-04:00 UTC'")
    .optional(),
  rollout: z
    .strictObject({
      mode: z.enum(["parallel", "batches", "canary"]).default("parallel"),
      "batch-size": z.number().int().positive().optional(),
      canary: name.optional(),
    })
    .default({ mode: "parallel" }),
  lock: z.strictObject({ wait: duration.default(0), expiry: duration.default("30m") }).default({ wait: 0, expiry: "30m" }),
});

export const sshSchema = z.strictObject({
  "key-secret": secretName.default("SLIPWAY_SSH_KEY"),
  "identity-file": z.string().min(1).optional(),
  "connect-timeout": duration.default("15s"),
  "command-timeout": duration.default("10m"),
  keepalive: duration.default("10s"),
});

export const environmentSchema = z.strictObject({
  name: z.string().optional(),
  description: z.string().optional(),
  ssh: sshSchema.default({ "key-secret": "SLIPWAY_SSH_KEY", "connect-timeout": "15s", "command-timeout": "10m", keepalive: "10s" }),
  hosts: z.record(name, hostSchema).refine((h) => Object.keys(h).length > 0, "at least one host is needed"),
  services: z.record(name, serviceSchema).default({}),
  databases: z.record(name, databaseSchema).default({}),
  checks: z.array(checkSchema).default([]),
  policy: policySchema.default({
    "keep-releases": 5,
    "auto-rollback": false,
    "backup-before-migrate": true,
    rollout: { mode: "parallel" },
    lock: { wait: 0, expiry: "30m" },
  }),
});

export type Environment = z.output<typeof environmentSchema>;
export type Host = z.output<typeof hostSchema>;
export type Service = z.output<typeof serviceSchema>;
export type Database = z.output<typeof databaseSchema>;
export type Check = z.output<typeof checkSchema>;
export type Policy = z.output<typeof policySchema>;

/** Milliseconds of a duration value ("10s", 250, "5m"). Plain numbers are seconds. */
export function durationMs(d: z.output<typeof duration>): number {
  if (typeof d === "number") return d * 1000;
  if (/^\d+(\.\d+)?$/.test(d)) return Number(d) * 1000; // an action input: "30" means 30 s
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Number(m[1]) * unit;
}
