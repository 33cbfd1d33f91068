import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ConfigError, formatProblem, loadEnvironment, parseEnvironment, resolveEnvironmentPath } from "../../src/config/load.js";
import { durationMs } from "../../src/config/schema.js";

const FP = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
const problems = (text: string) => {
  try {
    parseEnvironment(text, "env.yml");
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map(formatProblem);
    throw e;
  }
  return [];
};
/** the multi-service environments the tests load (paths in them are relative to the repository root) */
const FIXTURES = readdirSync("test/fixtures/environments").filter((f) => f.endsWith(".yml")).sort().map((f) => path.join("test/fixtures/environments", f));
const minimal = `hosts:\n  d1:\n    address: 10.0.0.1\n    host-key: "${FP}"\n`;

describe("values of line-oriented files are refused at file:line:col when they would start another line (issue #17)", () => {
  const svc = (extra: string) => `${minimal}services:\n  app:\n    kind: systemd\n    hosts: [d1]\n    deploy-to: /srv/app\n    exec: /usr/bin/app\n${extra}`;
  it.each([
    ["a newline in replaces-cron.match (every line a pattern: the whole crontab removed)", svc(`    replaces-cron: { user: deployer, match: "collector\\n" }\n`), /env\.yml:\d+:\d+: .*replaces-cron\.match: a newline.*crontab edit/],
    ["a leading '-' in replaces-cron.user", svc(`    replaces-cron: { user: "-r", match: collector }\n`), /replaces-cron\.user: a user name cannot start with '-'/],
    ["a space in a logrotate path (another pattern: /etc/passwd rotated)", svc(`    logrotate: { paths: ["/var/log/app/*.log /etc/passwd"] }\n`), /logrotate\.paths\.0: no whitespace/],
    ["a newline in logrotate.create (a postrotate script added)", svc(`    logrotate: { paths: [/var/log/app/a.log], create: "0644 a a\\npostrotate\\n touch /tmp/x\\nendscript" }\n`), /logrotate\.create: a newline/],
    ["a newline in an env value", svc(`    env: { A: "x\\nB=y" }\n`), /env\.A: a newline.*environment file/],
  ])("%s", (_, text, problem) => {
    expect(problems(text).join("\n")).toMatch(problem);
  });

  it("a newline in a supervisor program's directory (a [program:pwn] section added) is refused", () => {
    const text = `${minimal}services:\n  app:\n    kind: supervisor\n    hosts: [d1]\n    deploy-to: /srv/app\n    programs:\n      web: { command: /usr/bin/web, directory: "/srv\\n[program:pwn]\\ncommand=/bin/sh" }\n`;
    expect(problems(text).join("\n")).toMatch(/env\.yml:\d+:\d+: .*programs\.web\.directory: a newline.*supervisor configuration/);
  });

  it("ordinary values still validate", () => {
    expect(problems(svc(`    replaces-cron: { user: deployer, match: darkpool_collector }\n    logrotate: { paths: [/var/log/app/*.log], create: "0644 app app" }\n    env: { A: "x y=z" }\n`))).toEqual([]);
  });
});

describe("environment files", () => {
  it("the top-level environments/ holds the schema and the minimal example only; the multi-service files are test fixtures", () => {
    expect(readdirSync("environments", { withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name).sort()).toEqual(["example.yml", "schema.json"]);
    expect(FIXTURES.length).toBeGreaterThanOrEqual(3);
    // each file's first line points yaml-language-server at environments/schema.json
    for (const f of ["environments/example.yml", ...FIXTURES]) {
      const m = /^# yaml-language-server: \$schema=(\S+)\n/.exec(readFileSync(f, "utf8"));
      expect(m && path.resolve(path.dirname(f), m[1]!), f).toBe(path.resolve("environments/schema.json"));
    }
  });

  it("environments/example.yml validates with no errors, as `slipway validate` loads it; its one warning is the release the workflow builds", () => {
    const { name, file, env, warnings } = loadEnvironment("environments/example.yml");
    expect([name, file]).toEqual(["example", "environments/example.yml"]);
    expect(warnings?.map(formatProblem)).toEqual([
      "environments/example.yml:24:14: warning: services.app.release: dist/app is not in the repository now: build it in the workflow before the deploy step runs, or fix the path",
    ]);
    expect(Object.keys(env.hosts)).toEqual(["web-1"]);
    expect(Object.values(env.services).map((s) => s.kind)).toEqual(["systemd"]);
    expect(env.checks.map((c) => c.http)).toEqual(["http://localhost:8000/health"]);
    // the commented (optional) databases and policy blocks validate too once uncommented
    const uncommented = readFileSync("environments/example.yml", "utf8").replace(/^# ((?:databases|policy):.*|  .*)$/gm, "$1");
    const full = parseEnvironment(uncommented, "example.yml");
    expect(Object.keys(full.databases)).toEqual(["app"]);
    expect(full.databases.app!.migrations?.dir).toBe("migrations");
    expect(full.policy["auto-rollback"]).toBe(true);
  });

  it("every test fixture environment validates, one per target type", () => {
    const kinds = new Set<string>();
    for (const f of FIXTURES) {
      const { env } = loadEnvironment(f);
      Object.values(env.services).forEach((s) => kinds.add(s.kind));
    }
    expect([...kinds].sort()).toEqual(["compose", "supervisor", "systemd"]); // a fixture per target type
  });

  it("the five seed scenarios are example repositories (examples/<name>: app, environments, callers) that validate clean, each with its e2e test", () => {
    const names = readdirSync("examples").filter((n) => existsSync(path.join("examples", n, "environments"))).sort();
    expect(names).toEqual(["darkpool-collector", "etf-service", "ibkr-trading", "nas-collectors", "recio-trading"]);
    for (const n of names) {
      const root = path.resolve("examples", n);
      const [file, ...more] = readdirSync(path.join(root, "environments"));
      expect(more, n).toEqual([]);
      const { env, warnings } = loadEnvironment(file!.replace(/\.yml$/, ""), root);
      expect(warnings ?? [], n).toEqual([]); // every path it names is in the example repository
      expect(Object.keys(env.services).length, n).toBeGreaterThan(0);
      expect(env.checks.length, n).toBeGreaterThan(0);
      expect(env.policy["auto-rollback"], n).toBe(true);
      expect(readdirSync(path.join(root, ".github", "workflows")), n).toEqual(expect.arrayContaining(["deploy.yml", "rollback.yml"]));
      expect(readdirSync("test/lab"), n).toContain(`scenario-${n}.test.ts`);
    }
  });

  it("reports all three mistakes of a file at once, each with file:line:col", () => {
    const err = (() => {
      try {
        loadEnvironment("test/fixtures/three-mistakes.yml");
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems.map(formatProblem)).toEqual([
      "test/fixtures/three-mistakes.yml:5:5: hosts.droplet-1.usr: unknown key 'usr': did you mean 'user'? (allowed here: address, commands, host-key, identity-file, jump, known-hosts, port, ssh-key-secret, sudo, user)",
      "test/fixtures/three-mistakes.yml:10:13: services.app.hosts.0: unknown host 'droplet-2' (hosts: droplet-1)",
      "test/fixtures/three-mistakes.yml:14:18: policy.keep-releases: Invalid input: expected number, received string",
    ]);
  });

  it("applies defaults", () => {
    const env = parseEnvironment(minimal, "env.yml");
    expect(env.hosts.d1).toMatchObject({ port: 22, user: "root", sudo: false });
    expect(env.policy).toMatchObject({ "keep-releases": 5, "auto-rollback": false, "backup-before-migrate": true });
    expect(env.ssh["key-secret"]).toBe("SLIPWAY_SSH_KEY");
  });

  it("rejects unknown keys everywhere, at the key's own position", () => {
    expect(problems(minimal + "policy:\n  auto-rolback: true\n")).toEqual([
      "env.yml:6:3: policy.auto-rolback: unknown key 'auto-rolback': did you mean 'auto-rollback'? (allowed here: auto-rollback, backup-before-migrate, keep-releases, lock, maintenance-window, rollout)",
    ]);
    expect(problems(minimal + "checks:\n  - http: http://x/\n    timout: 5s\n")[0]).toMatch(/^env\.yml:7:5: checks\.0\.timout: unknown key/);
  });

  it("requires a pinned host key and never accepts a secret value inline", () => {
    expect(problems(`hosts:\n  d1:\n    address: 10.0.0.1\n`)[0]).toMatch(/env\.yml:3:5: hosts\.d1: pin the host key/);
    expect(problems(minimal + "services:\n  a:\n    kind: systemd\n    hosts: [d1]\n    deploy-to: /a\n    exec: x\n    secret-env: { PW: hunter2 }\n")[0]).toMatch(
      /secret-env\.PW: a secret is referenced by its NAME/,
    );
  });

  it("reports YAML syntax errors and duplicate keys with their line", () => {
    expect(problems(minimal + "policy: [unclosed\n")[0]).toMatch(/^env\.yml:6:1: Flow sequence .* must .* end with a ]/);
    expect(problems(minimal.replace("    address: 10.0.0.1\n", "    address: 10.0.0.1\n    address: 10.0.0.2\n"))[0]).toMatch(/^env\.yml:4:5: .*[Uu]nique/);
  });

  it("checks references between sections", () => {
    const text = `${minimal}databases:\n  db:\n    engine: postgres\n    on: { host: nope }\n    name: app\nchecks:\n  - sql: select 1\n    database: other\n    expect: "> 0"\n`;
    expect(problems(text)).toEqual([
      "env.yml:8:17: databases.db.on.host: unknown host 'nope' (hosts: d1)",
      "env.yml:12:15: checks.0.database: unknown database 'other'",
    ]);
  });

  it("explains kind and one-of mistakes", () => {
    expect(problems(minimal + "services:\n  a:\n    kind: systemdd\n    hosts: [d1]\n    deploy-to: /a\n")[0]).toMatch(/services\.a\.kind: /);
    expect(problems(minimal + "services:\n  a:\n    kind: systemd\n    hosts: [d1]\n    deploy-to: /a\n")[0]).toMatch(/exactly one of exec .* or unit-file/);
    expect(problems(minimal + "checks:\n  - http: http://x/\n    tcp: a:1\n")[0]).toMatch(/a check needs exactly one of/);
  });

  it("resolves a name to environments/<name>.yml and keeps paths as paths", () => {
    expect(resolveEnvironmentPath("production", "/repo")).toBe("/repo/environments/production.yml");
    expect(resolveEnvironmentPath("ci/env.yaml", "/repo")).toBe("/repo/ci/env.yaml");
    expect(() => loadEnvironment("no-such-env")).toThrow(/environment file not found: .*environments\/no-such-env\.yml/);
  });

  it("parses durations", () => {
    expect([durationMs("250ms"), durationMs("10s"), durationMs("5m"), durationMs("1h"), durationMs(3)]).toEqual([250, 10_000, 300_000, 3_600_000, 3000]);
  });

  it("schema.json lets an editor check the files: the example and the fixtures pass, a typo fails", () => {
    const schema = JSON.parse(readFileSync("environments/schema.json", "utf8"));
    const validate = new Ajv2020({ strict: false }).compile(schema);
    for (const f of ["environments/example.yml", ...FIXTURES])
      expect(validate(parse(readFileSync(f, "utf8"))), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
    expect(validate(parse(minimal + "polcy: {}\n"))).toBe(false);
  });
});

describe("what validate can see it refuses, at file:line:col (issue #17)", () => {
  const dbs = `databases:\n  pg: { engine: postgres, on: { host: d1 }, name: app }\n  lite: { engine: sqlite, on: { host: d1 }, path: /srv/app/app.db }\n`;
  it.each([
    ["an sqlite sql check starting with '.' (.shell runs despite -readonly)", `${minimal}${dbs}checks:\n  - sql: ".shell touch /tmp/pwned"\n    database: lite\n    expect: "= 0"\n`, "env.yml:9:10: checks.0.sql: sqlite3 would run a query starting with '.' as one of its dot-commands"],
    ["a backslash in a postgres sql check (psql's \\! runs a shell)", `${minimal}${dbs}checks:\n  - sql: "select 1 \\\\! touch /tmp/pwned"\n    database: pg\n    expect: "= 1"\n`, "env.yml:9:10: checks.0.sql: psql reads a backslash as one of its own commands"],
    ["a postgres name with '=' (libpq reads a connection string)", `${minimal}databases:\n  pg: { engine: postgres, on: { host: d1 }, name: "app host=evil.example" }\n`, "env.yml:6:51: databases.pg.name: libpq reads a database name holding '='"],
    ["a postgres name that is a URL", `${minimal}databases:\n  pg: { engine: postgres, on: { host: d1 }, name: "postgres://evil/app" }\n`, "databases.pg.name: libpq reads"],
    ["a supervisor check starting with '-' (an option of supervisorctl)", `${minimal}checks:\n  - supervisor: "-c/etc/evil.conf"\n`, "env.yml:6:17: checks.0.supervisor: a supervisor program"],
    ["a calendar event systemd cannot read", `${minimal}services:\n  app:\n    kind: systemd\n    hosts: [d1]\n    deploy-to: /srv/app\n    exec: /usr/bin/app\n    timer: { on-calendar: "Mon..Fry 09:00" }\n`, "env.yml:11:27: services.app.timer.on-calendar: systemd cannot read this calendar event"],
    ["a service name with a newline: at the key, quoted", `${minimal}services:\n  "app\\nx":\n    kind: systemd\n    hosts: [d1]\n    deploy-to: /srv/app\n    exec: /usr/bin/app\n`, `env.yml:6:3: services."app\\nx": the name "app\\nx" is not allowed: names use letters`],
    ["an unknown key with a newline: quoted", `${minimal}policy:\n  "keep\\nreleases": 3\n`, `env.yml:6:3: policy."keep\\nreleases": unknown key "keep\\nreleases": did you mean 'keep-releases'?`],
  ])("%s", (_, text, problem) => {
    const found = problems(text);
    expect(found.join("\n")).toContain(problem);
    for (const p of found) expect(p).not.toMatch(/\n/);
  });

  it("the same checks with ordinary values validate", () => {
    expect(problems(`${minimal}${dbs}checks:\n  - sql: "select count(*) from t where s = 'a\\\\b'"\n    database: lite\n    expect: "> 0"\n  - sql: select 1\n    database: pg\n    expect: "= 1"\n  - supervisor: "trading:*"\n  - compose: timescaledb\n`)).toEqual([]);
  });
});

describe("what the file names in the repository (issue #17: refused at validate, not first at deploy)", () => {
  it("a compose database-service that is not a service of the stack's files, at its line", async () => {
    const { mkdtempSync, mkdirSync, writeFileSync } = await import("node:fs");
    const os = await import("node:os");
    const root = mkdtempSync(path.join(os.tmpdir(), "slipway-dbsvc-"));
    mkdirSync(path.join(root, "stack"));
    writeFileSync(path.join(root, "stack", "compose.yml"), "services:\n  db: { image: postgres }\n  app: { image: app }\n");
    const text = (db: string) => `${minimal}services:\n  s:\n    kind: compose\n    hosts: [d1]\n    deploy-to: /srv/s\n    release: stack\n    files: [compose.yml]\n    database-service: ${db}\n`;
    const at = (t: string) => {
      try {
        parseEnvironment(t, "env.yml", root);
        return [];
      } catch (e) {
        return (e as ConfigError).problems.map(formatProblem);
      }
    };
    expect(at(text("timescaledb"))).toEqual(["env.yml:12:23: services.s.database-service: 'timescaledb' is not a service of compose.yml (services: db, app): name the stack's database service"]);
    expect(at(text("db"))).toEqual([]);
    // files not there yet (a release built later in the workflow): the deploy checks it
    expect(at(text("timescaledb").replace("release: stack", "release: build"))).toEqual([]);
  });
});
