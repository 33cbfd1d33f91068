// The body of rollback: for every service (or the one named), every selected host of it goes back
// to the previous good release (or the one named), in parallel; the database is restored from a
// backup only when asked to (restore-db), after a fresh safety backup. Warns, naming them, about
// migrations applied since the target release: code goes back, the schema does not.
import path from "node:path";
import { durationMs } from "../config/schema.js";
import { inWorkspace } from "../config/paths.js";
import { readMigrations } from "../operations/migrations.js";
import { releasePaths } from "../commands/release.js";
import { backupPostgres, defaultBackupDir, findBackup, restorePostgres } from "../operations/backup.js";
import { supervisorDriver, systemdDriver } from "../operations/deploy.js";
import { pgClient, runIdentity } from "../operations/pg.js";
import { failureLines, runHealthChecks } from "../operations/health.js";
import { rollbackHost, RollbackRefused, type RollbackResult } from "../operations/rollback.js";
import type { AppliedMigrationRecord } from "../ledger/ledger.js";
import type { Environment } from "../config/schema.js";
import { mdDetails, mdTable } from "../report/summary.js";
import type { ActionContext } from "./run-action.js";
import { serviceEnv } from "./deploy.js";
import { lastDeployment, reportRollback } from "./github-report.js";

/** Migration versions applied after `fromHead` up to `toHead` (both versions from the ledger). */
export function migrationsBetween(dir: string, fromHead: string | undefined, toHead: string | undefined): string[] {
  if (!toHead || fromHead === toHead) return [];
  const order = (v: string) => (/^\d+$/.test(v) ? BigInt(v) : undefined);
  const from = fromHead ? order(fromHead) : -1n;
  const to = order(toHead);
  if (from === undefined || to === undefined) return [];
  return readMigrations(dir).filter((f) => f.order > from && f.order <= to).map((f) => f.name);
}

/**
 * The SQL migration files between two recorded heads, classified from the checkout (for deploys
 * that recorded a head but not what they applied). Heads are one version per database with SQL
 * migrations, in the environment file's order, joined by spaces; any other shape classifies nothing.
 */
async function betweenHeads(env: Environment): Promise<(fromHead: string | undefined, toHead: string) => AppliedMigrationRecord[]> {
  const dbs = Object.entries(env.databases).filter(([, d]) => d.migrations);
  const sql = dbs.filter(([, d]) => d.migrations!.engine === "sql");
  if (sql.length === 0 || sql.length !== dbs.length) return () => [];
  const { classifyMigrationSql } = await import("../lint/migrations.js");
  const files = new Map<string, { name: string; version: string; class: AppliedMigrationRecord["class"] }[]>();
  for (const [name, d] of sql) {
    const dir = inWorkspace(d.migrations!.dir);
    const all = readMigrations(dir);
    files.set(name, await Promise.all(all.map(async (f) => ({ name: f.name, version: f.version, class: (await classifyMigrationSql(f.sql, f.name)).class }))));
  }
  return (fromHead, toHead) => {
    const to = toHead.split(" ");
    const from = fromHead?.split(" ");
    if (to.length !== sql.length || (from && from.length !== sql.length)) return [];
    return sql.flatMap(([name, d], i) => migrationsBetween(inWorkspace(d.migrations!.dir), from?.[i], to[i]).map((file) => ({ database: name, name: file, class: files.get(name)!.find((f) => f.name === file)!.class })));
  };
}

export async function rollbackBody(ctx: ActionContext): Promise<void> {
  const env = ctx.loaded.env;
  const only = ctx.input("service");
  if (ctx.input("auto") === "true" && !env.policy["auto-rollback"]) {
    ctx.log.warn(`policy auto-rollback is off in ${ctx.loaded.file}: not rolling back automatically (run the rollback workflow to do it by hand)`);
    ctx.out.set("release-id", "");
    ctx.out.set("restored-db", "false");
    return;
  }
  const services = Object.entries(env.services).filter(([n]) => !only || n === only);
  if (only && services.length === 0) throw new Error(`service input names ${only}, which is not a service in ${ctx.loaded.file}`);
  const to = ctx.input("to") || undefined;
  const onlyIf = ctx.input("only-if-live") || undefined;
  const run = runIdentity();
  const actor = process.env.GITHUB_ACTOR ?? process.env.USER ?? "unknown";
  const expires = new Date(Date.now() + durationMs(env.policy.lock.expiry)).toISOString().replace(/\.\d+Z$/, "Z");
  const reason = ctx.input("reason") || (to ? `rollback to ${to} requested by ${actor}` : `rollback requested by ${actor}`);
  const results: RollbackResult[] = [];
  const failures: { host: string; service: string; error: Error }[] = [];
  // a dispatched rollback retires the deployment it replaces (an automatic one follows a deployment verify-health already failed)
  const before = ctx.dryRun || ctx.input("auto") === "true" ? undefined : await lastDeployment(ctx);
  // crossing a contract migration needs the database back too, or a recorded reason
  const allowContract = ctx.input("allow-contract").trim();
  const schema = {
    allowed: ctx.input("restore-db") === "true" ? "restore-db: the database goes back with the code" : allowContract ? `allow-contract: ${allowContract}` : undefined,
    between: ctx.dryRun ? undefined : await betweenHeads(env),
  };
  for (const [name, s] of services) {
    const hosts = s.hosts.filter((h) => ctx.hosts.includes(h));
    if (ctx.dryRun) {
      ctx.log.info(`dry run: would roll back ${name} on ${hosts.join(", ")} to ${to ?? "the previous good release"}`);
      continue;
    }
    const envVars = serviceEnv(name, s, ctx.secrets);
    const stabilizeSec = s.stabilize !== undefined ? durationMs(s.stabilize) / 1000 : 5;
    const settled = await Promise.allSettled(
      hosts.map((h) =>
        ctx.log.group(`roll back ${name} on ${h}`, async () => {
          const sudo = env.hosts[h]!.sudo;
          return rollbackHost(await ctx.pool.get(h), {
            serviceName: name,
            deployTo: s["deploy-to"],
            to,
            onlyIf,
            reason,
            schema,
            sudo,
            log: ctx.log,
            lockWaitMs: durationMs(ctx.input("lock-wait") || env.policy.lock.wait),
            owner: { run, actor, sha: to ?? "rollback", since: new Date().toISOString().replace(/\.\d+Z$/, "Z"), expires },
            cronUser: s.kind === "systemd" ? s["replaces-cron"]?.user : undefined,
            driver:
              s.kind === "systemd"
                ? (rel) => systemdDriver(name, s, releasePaths(s["deploy-to"], rel), sudo, { hasEnv: Object.keys(envVars).length > 0, startTimeoutSec: 60, stabilizeSec })
                : s.kind === "supervisor"
                  ? (rel) => supervisorDriver(name, s, releasePaths(s["deploy-to"], rel), sudo, envVars, { startTimeoutSec: 60, stabilizeSec })
                  : undefined,
            compose: s.kind === "compose" ? { service: s, commands: env.hosts[h]!.commands ?? {}, timeoutSec: durationMs(s["wait-timeout"]) / 1000, stabilizeSec } : undefined,
          });
        }),
      ),
    );
    settled.forEach((r, i) => (r.status === "fulfilled" ? results.push(r.value) : failures.push({ host: hosts[i]!, service: name, error: r.reason as Error })));
  }
  if (ctx.dryRun) return;

  // code goes back; the schema does not: name every migration applied since the target release
  const warnings: string[] = [];
  for (const r of results.filter((r) => r.to && !r.skipped)) {
    const fromHead = r.abandoned?.migrationHead as string | undefined;
    const toHead = r.target?.migrationHead as string | undefined;
    for (const [dbName, db] of Object.entries(env.databases)) {
      if (!db.migrations || db.migrations.engine !== "sql" || !fromHead || fromHead === toHead) continue;
      const since = migrationsBetween(inWorkspace(db.migrations.dir), toHead, fromHead);
      if (since.length) warnings.push(`[${r.host}] ${r.service} is back on ${r.to}, but ${dbName} keeps the migrations applied since: ${since.join(", ")} (restore-db restores a backup)`);
    }
  }
  for (const w of warnings) ctx.log.warn(w);

  // the database, only when asked to, and after a fresh backup so that nothing is lost
  // default: the database as the target release left it (the backup a later deploy took before its migrations)
  const backupId = ctx.input("backup-id") || (results.find((r) => r.targetBackupId)?.targetBackupId ?? "");
  let restoredDb = false;
  if (ctx.input("restore-db") === "true" && failures.length === 0) {
    if (!backupId) throw new Error(`restore-db is true but no backup-id was given and the ledger has no backup taken after release ${results.find((r) => r.to)?.to ?? "(none)"} while its schema was live: name one with backup-id`);
    const dbName = Object.keys(env.databases).filter((n) => backupId.startsWith(`${n}-`)).sort((a, b) => b.length - a.length)[0] ?? "";
    const def = env.databases[dbName];
    if (!def || def.engine !== "postgres") throw new Error(`backup ${backupId} is not of a postgres database of ${ctx.loaded.file} (databases: ${Object.keys(env.databases).join(", ")})`);
    const remote = def.on ? await ctx.pool.get(def.on.host) : undefined;
    const meta = await findBackup(remote, def.backup?.dir ?? defaultBackupDir(dbName), inWorkspace(ctx.input("runner-dir") || "backups"), backupId);
    if (!meta) throw new Error(`backup ${backupId} not found on ${def.on?.host ?? "the runner"} (${def.backup?.dir ?? defaultBackupDir(dbName)})`);
    if (meta.database !== dbName || meta.engine !== "postgres") throw new Error(`backup ${backupId} is a ${meta.engine} backup of ${meta.database}, not of postgres database ${dbName}`);
    const client = await pgClient(env, dbName, ctx.pool, ctx.secrets);
    try {
      const safety = await backupPostgres(client, { database: dbName, def, to: def.backup?.to ?? "host", runnerDir: inWorkspace(ctx.input("runner-dir") || "backups"), verify: "list", runIdentity: run, log: ctx.log });
      ctx.log.info(`safety backup of ${dbName} before the restore: ${safety.id} (${path.basename(safety.path)})`);
      await ctx.log.group(`restore ${dbName} from ${backupId}`, () => restorePostgres(client, meta));
      restoredDb = true;
      ctx.log.warn(`${dbName} was restored from ${backupId}; its state before the restore is in ${safety.id}`);
    } finally {
      await client.close();
    }
  }

  // verify: the environment's checks on the hosts that went back
  // (after a database restore also where the release was already live: the service runs on the restored data)
  const back = [...new Set(results.filter((r) => r.to && (!r.skipped || restoredDb)).map((r) => r.host))];
  let verifyFailure: string | undefined;
  if (ctx.input("verify") !== "false" && env.checks.length && back.length && failures.length === 0) {
    const report = await ctx.log.group("verify the rolled-back release", () => runHealthChecks(ctx, { hosts: back }));
    if (!report.healthy) verifyFailure = `rolled back, but the health checks still fail:\n${failureLines(report).join("\n")}`;
    else ctx.log.info(`rolled back and verified: ${report.results.length} check(s) passed`);
  }

  const live = [...new Set(results.filter((r) => r.to).map((r) => r.to!))];
  // for a restore-db job after this one: which backup (and so which run's artifact) it needs
  ctx.out.set("backup-id", backupId);
  ctx.out.set("release-id", live.join(" "));
  ctx.out.set("restored-db", String(restoredDb));
  let md = `### slipway rollback — ${ctx.loaded.name}\n\n`;
  md += mdTable(
    ["host", "service", "result", "from", "to", "ms"],
    [
      ...results.map((r) => [r.host, r.service, r.skipped ? `➖ ${r.skipped}` : "↩️ rolled back", r.from ?? "none", r.to ?? "", r.ms]),
      ...failures.map((f) => [f.host, f.service, "❌ failed", "", "", ""]),
    ],
  );
  if (warnings.length) md += `\n> [!WARNING]\n${warnings.map((w) => `> ${w}`).join("\n")}\n`;
  if (restoredDb) md += `\nDatabase restored from \`${ctx.input("backup-id") || "the target release's backup"}\`.\n`;
  for (const f of failures) md += mdDetails(`${f.host}: why the rollback failed`, f.error.message);
  if (verifyFailure) md += mdDetails("verification after the rollback failed", verifyFailure);
  await ctx.out.summary(md);
  const moved = results.filter((r) => r.to && !r.skipped);
  const refused = failures.filter((f) => f.error instanceof RollbackRefused);
  if (refused.length) ctx.out.set("refused", refused.map((f) => f.error.message).join(" "));
  if (moved.length || failures.length > refused.length) {
    const release = live[0] ?? to ?? "unknown";
    const deployment = await reportRollback(ctx, { release, hosts: [...new Set([...moved.map((r) => r.host), ...failures.map((f) => f.host)])], ok: !verifyFailure && !failures.length, before: before?.id });
    ctx.out.set("deployment-id", deployment === undefined ? "" : String(deployment));
  }
  if (verifyFailure) throw new Error(verifyFailure);
  if (failures.length) throw new Error(`rollback failed on ${failures.length} host(s):\n${failures.map((f) => f.error.message).join("\n\n")}`);
}
