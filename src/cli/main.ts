// The slipway CLI: the same operations as the actions, from a terminal.
import { badReleases } from "../operations/rollback.js";
import "../remote/esm-shim.js"; // first: ssh2 needs __dirname while loading
import { Command, InvalidArgumentError } from "commander";
import { ConfigError, formatProblem, loadEnvironment } from "../config/load.js";
import { backupBody, migrateBody } from "../actions/database.js";
import { verifyHealthBody } from "../actions/health.js";
import { rollbackBody } from "../actions/rollback.js";
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { renderEnvironment } from "../operations/render.js";
import path from "node:path";
// bundled into dist/cli at build time: the version of the package the bundle was built from
import packageJson from "../../package.json" with { type: "json" };
import { deployComposeBody, deploySupervisorBody, deploySystemdBody } from "../actions/deploy.js";
import { forceReleaseLock, holderText, releaseStatus } from "../operations/deploy.js";
import { damagedWarnings, type LedgerEntry } from "../ledger/ledger.js";
import { RemotePool } from "../remote/pool.js";
import { runWithContext, type ActionBody } from "../actions/run-action.js";
import type { ActionName } from "../actions/specs.js";
import { Secrets } from "../config/secrets.js";
import { formatPlan } from "../operations/plan.js";
import { allFindings, isBlocking, lintEnvironment, lintReport } from "../operations/lint-migrations.js";
import { terminalLog } from "../report/log.js";
import { hostFingerprints } from "../remote/fingerprint.js";
import { driftReport, driftTargets } from "../operations/drift.js";
import { registerGithub } from "./github.js";
import { registerInit } from "./init.js";

const program = new Command("slipway")
  .description("GitOps deploys over SSH: back up, migrate, deploy, verify and roll back from environment files.")
  .version(packageJson.version, "-V, --version", "print slipway's version")
  .showHelpAfterError();

program
  .command("validate")
  .description("check environment files; print every problem as file:line:col (no argument: every environments/*.yml)")
  .argument("[env...]", "environment names (environments/<name>.yml) or paths")
  .action((given: string[]) => {
    const envs = given.length ? given : existsSync("environments") ? readdirSync("environments").filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join("environments", f)) : [];
    if (envs.length === 0) throw new Error(`no environment file in ${path.resolve("environments")}: name one (slipway validate path/to/env.yml) or create environments/<name>.yml`);
    let failed = 0;
    for (const ref of envs) {
      try {
        const { file, env, warnings = [] } = loadEnvironment(ref);
        for (const w of warnings) console.error(formatProblem(w));
        console.log(`${file}: ok${warnings.length ? ` with ${warnings.length} warning${warnings.length === 1 ? "" : "s"}` : ""} (${Object.keys(env.hosts).length} hosts, ${Object.keys(env.services).length} services, ${Object.keys(env.databases).length} databases, ${env.checks.length} checks)`);
      } catch (e) {
        failed++;
        if (e instanceof ConfigError) {
          for (const p of e.problems) console.error(formatProblem(p));
          console.error(`${e.file}: ${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}`);
        } else console.error(`error: ${(e as Error).message}`);
      }
    }
    if (failed) process.exitCode = 1;
  });

program
  .command("plan")
  .description("show what slipway would do on which host (changes nothing)")
  .argument("<env>", "environment name or path")
  .action((ref: string) => {
    const { name, env } = loadEnvironment(ref);
    console.log(formatPlan(name, env));
  });

program
  .command("lint-migrations")
  .description("lint every SQL migration of the environment's databases with PostgreSQL's own parser (data loss, breaking renames, long locks); exit 1 on an error-level finding")
  .argument("<env...>", "environment names or paths")
  .action(async (refs: string[]) => {
    for (const ref of refs) {
      const lints = await lintEnvironment(loadEnvironment(ref));
      console.log(lintReport(lints));
      if (allFindings(lints).some(isBlocking)) process.exitCode = 1;
    }
  });

program
  .command("kinds")
  .description("print which deploy actions an environment needs, as GITHUB_OUTPUT lines: systemd=true|false, supervisor=…, compose=…")
  .argument("<env>", "environment name or path")
  .action((ref: string) => {
    const { env } = loadEnvironment(ref);
    const kinds = new Set(Object.values(env.services).map((s) => s.kind));
    for (const kind of ["systemd", "supervisor", "compose"] as const) console.log(`${kind}=${kinds.has(kind)}`);
  });

program
  .command("render")
  .description("write every file a deploy would install (units, timers, supervisor conf, logrotate, env files, the crontab edit) under DIR/<host>/<path on the host>, without any SSH; secret values are placeholders")
  .argument("<env>", "environment name or path")
  .option("--service <name>", "only this service")
  .option("--host <name>", "only this host")
  .option("--out <dir>", "where to write", "slipway-render")
  .action((ref: string, opts: { service?: string; host?: string; out: string }) => {
    const { env } = loadEnvironment(ref);
    const files = renderEnvironment(env, opts);
    for (const f of files) {
      // DIR/<host>/<absolute path>: the host name and the path come from a validated file, never '..'
      const dest = path.join(opts.out, f.host, f.path.replace(/^\/+/, ""));
      mkdirSync(path.dirname(dest), { recursive: true });
      writeFileSync(dest, f.text, { mode: f.mode });
      chmodSync(dest, f.mode);
      console.log(`${dest}  ${f.what} of ${f.service} (mode ${f.mode.toString(8).padStart(4, "0")})`);
    }
    if (files.length === 0) console.log(`nothing to render${opts.service ? ` for service ${opts.service}` : ""}${opts.host ? ` on host ${opts.host}` : ""}`);
  });

program
  .command("fingerprint")
  .description("print every host key of a host as host-key: and known-hosts: lines to pin (checks nothing, runs nothing)")
  .argument("<address>", "host name or IP")
  .option("-p, --port <port>", "ssh port", (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError("a port number");
    return n;
  }, 22)
  .action(async (address: string, opts: { port: number }) => {
    const keys = await hostFingerprints(address, opts.port);
    if (keys.length === 0) throw new Error(`${address}:${opts.port} offered no host key slipway can use`);
    console.log(`# host keys of ${address}:${opts.port} — compare them with \`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub\` on the host before pinning`);
    for (const k of keys) console.log(`${k.type}\n  host-key: "${k.fingerprint}"\n  known-hosts: "${k.knownHosts}"`);
  });

/** An operation verb: the action's body, with options as its inputs; outputs and summary printed. */
function operation(verb: string, action: ActionName, body: ActionBody, describe: string, options: [string, string, string?][]) {
  const cmd = program.command(verb).description(describe).argument("<env>", "environment name or path").option("--hosts <list>", "only these hosts (comma separated)", "").option("--dry-run", "print what would be done, change nothing", false);
  for (const [flags, help, def] of options) cmd.option(flags, help, def);
  cmd.action(async (ref: string, opts: Record<string, string | boolean>) => {
    const secrets = new Secrets();
    const log = terminalLog(secrets);
    const summary: string[] = [];
    const outputs: [string, string][] = [];
    const input = (name: string) => String(opts[name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] ?? "");
    await runWithContext(action, { environment: loadEnvironment(ref), hosts: String(opts.hosts).split(",").filter(Boolean), dryRun: !!opts.dryRun, input, secrets, log, out: { set: (k, v) => outputs.push([k, v]), summary: async (md) => void summary.push(md) } }, body);
    if (summary.length) console.log(summary.join("\n"));
    for (const [k, v] of outputs) console.log(`${k}=${v}`);
  });
}

operation("backup", "backup-db", backupBody, "back up databases (verified; see backup-db)", [
  ["--database <name>", "only this database"],
  ["--to <where>", "host or runner (default: the environment's backup.to)"],
  ["--verify <how>", "list or restore (default: the environment's backup.verify)"],
  ["--runner-dir <dir>", "directory for runner-side backups", "backups"],
]);
operation("migrate", "apply-migrations", migrateBody, "apply pending migrations (see apply-migrations)", [
  ["--database <name>", "only this database"],
  ["--backup-id <id>", "a verified backup made before (required by the backup-before-migrate policy)"],
  ["--runner-dir <dir>", "where runner-side backups are", "backups"],
]);

const releaseOptions: [string, string, string?][] = [
  ["--service <name>", "only this service"],
  ["--release <path>", "directory or .tar.gz to deploy (default: the service's release:)"],
  ["--sha <sha>", "git commit being deployed", "manual"],
  ["--lock-wait <duration>", "wait this long for another deploy's lock", "0"],
  ["--backup-id <id>", "recorded in the ledger"],
  ["--migration-head <version>", "recorded in the ledger"],
];
operation("deploy", "deploy-systemd", deploySystemdBody, "deploy systemd services (see deploy-systemd)", releaseOptions);
operation("deploy-supervisor", "deploy-supervisor", deploySupervisorBody, "deploy supervisor programs (see deploy-supervisor)", releaseOptions);
operation("deploy-compose", "deploy-compose", deployComposeBody, "deploy docker compose stacks (see deploy-compose)", [...releaseOptions, ["--migrate <bool>", "apply migrations of the stack's database service", "true"]]);
operation("verify", "verify-health", verifyHealthBody, "run the environment's health checks (see verify-health); exit 1 when one fails", [["--checks <names>", "only the checks with these names (comma separated)"]]);
operation("rollback", "rollback", rollbackBody, "return services to the previous good release in the ledger, or to --to (see rollback)", [
  ["--service <name>", "only this service"],
  ["--to <release>", "release id or git sha to return to (default: the previous good release)"],
  ["--restore-db <bool>", "also restore the database from a backup", "false"],
  ["--backup-id <id>", "with --restore-db: the backup to restore (default: the one the target release left)"],
  ["--allow-contract <reason>", "roll the code back past a contract migration without --restore-db (refused otherwise); the reason is recorded"],
  ["--reason <text>", "why, recorded in the ledger"],
  ["--verify <bool>", "run the health checks on the hosts rolled back", "true"],
  ["--lock-wait <duration>", "wait this long for a deploy's lock"],
  ["--runner-dir <dir>", "where runner-side backups are", "backups"],
]);

/** Every (service, host, deploy-to) of the release-based services, optionally narrowed. */
function releaseTargets(ref: string, opts: { service?: string; host?: string }) {
  const loaded = loadEnvironment(ref);
  const targets = Object.entries(loaded.env.services).flatMap(([name, s]) =>
    (opts.service && opts.service !== name) ? [] : s.hosts.filter((h) => !opts.host || h === opts.host).map((h) => ({ name, host: h, deployTo: s["deploy-to"] })),
  );
  const secrets = new Secrets();
  return { loaded, targets, pool: RemotePool.forEnvironment(loaded.env, secrets, terminalLog(secrets)) };
}

/** The contract migrations a deploy applied, or a rollback crossed (and why it was allowed). */
function contractNote(e: LedgerEntry): string {
  if (e.outcome === "rollback") return Array.isArray(e.contractCrossed) ? `crossed contract migration(s) ${(e.contractCrossed as { name: string }[]).map((m) => m.name).join(", ")}: ${String(e.contractAllowed)}` : "";
  const contract = (e.migrations ?? []).filter((m) => m.class !== "expand");
  return contract.length ? `applied contract migration(s) ${contract.map((m) => m.name).join(", ")}: rolling back past it needs restore-db` : "";
}

program
  .command("status")
  .description("what is live on each host, what came before (the ledger), and who holds a deploy lock")
  .argument("<env>", "environment name or path")
  .option("--service <name>", "only this service")
  .option("-n, --lines <n>", "ledger entries per host", "5")
  .action(async (ref: string, opts: { service?: string; lines: string }) => {
    const { targets, pool } = releaseTargets(ref, opts);
    try {
      for (const t of targets) {
        const st = await releaseStatus(await pool.get(t.host), t.name, t.deployTo, Number(opts.lines));
        console.log(`${t.host}  ${t.name}  live: ${st.current ?? "nothing deployed"}${st.lock ? `  LOCKED by ${holderText(st.lock)}` : ""}`);
        for (const w of damagedWarnings(t.host, st.ledger, st.damaged)) console.error(`warning: ${w}`);
        // compose: the image id each service of the live release runs (pinned at deploy time)
        const digests = [...st.history].reverse().find((e) => e.release === st.current && e.digests)?.digests as Record<string, string> | undefined;
        if (digests) console.log(`    images: ${Object.entries(digests).map(([svc, id]) => `${svc}=${id.slice(0, 19)}`).join("  ")}`);
        const bad = badReleases(st.history);
        for (const e of [...st.history].reverse()) {
          const notes = [e.restored ? "previous restored" : "", e.outcome !== "rollback" && bad.has(String(e.release)) ? "BAD: abandoned by a rollback, never chosen again" : "", e.outcome === "rollback" && e.reason ? `reason: ${e.reason}` : "", contractNote(e)].filter(Boolean);
          console.log(`    ${e.time}  ${e.outcome}  ${e.release}  sha ${e.sha}  by ${e.actor}${notes.length ? `  (${notes.join("; ")})` : ""}`);
        }
      }
    } finally {
      await pool.closeAll();
    }
  });

program
  .command("lock")
  .description("show deploy locks, or release one whose run is dead")
  .argument("<action>", "status or release")
  .argument("<env>", "environment name or path")
  .option("--service <name>", "only this service")
  .option("--host <name>", "only this host")
  .action(async (action: string, ref: string, opts: { service?: string; host?: string }) => {
    if (action !== "status" && action !== "release") throw new InvalidArgumentError(`lock status or lock release, not lock ${action}`);
    const { targets, pool } = releaseTargets(ref, opts);
    try {
      for (const t of targets) {
        const remote = await pool.get(t.host);
        if (action === "status") {
          const st = await releaseStatus(remote, t.name, t.deployTo, 0);
          console.log(`${t.host}  ${t.name}  ${st.lock ? `locked by ${holderText(st.lock)}` : "free"}`);
        } else {
          const was = await forceReleaseLock(remote, t.deployTo);
          console.log(`${t.host}  ${t.name}  ${was ? `released the lock held by ${holderText(was)}` : "was not locked"}`);
        }
      }
    } finally {
      await pool.closeAll();
    }
  });

program
  .command("drift")
  .description("compare what is live on each host with the desired release; exit 1 with a diff when they differ or a host has nothing live")
  .argument("<env>", "environment name or path")
  .option("--sha <sha>", "the commit that should be live (full or short); without it: every host runs a recorded release and the hosts of a service agree")
  .option("--service <name>", "only this service")
  .action(async (ref: string, opts: { sha?: string; service?: string }) => {
    const { loaded, pool } = releaseTargets(ref, opts);
    try {
      const statuses = await driftTargets(loaded.env, pool, { service: opts.service });
      const { text, problems } = driftReport(loaded.name, statuses, opts.sha || undefined);
      console.log(text);
      if (problems) process.exitCode = 1;
    } finally {
      await pool.closeAll();
    }
  });

registerGithub(program);
registerInit(program);
import { registerLintWorkflows } from "./lint-workflows.js"; // (imports are hoisted)
registerLintWorkflows(program);

program.parseAsync(process.argv).catch((e: Error) => {
  if (e instanceof ConfigError) for (const p of e.problems) console.error(formatProblem(p));
  else console.error(`error: ${e.message}`);
  process.exitCode = 1;
});
