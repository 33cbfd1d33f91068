// The bodies of backup-db and apply-migrations: pick the databases, run the operation on each,
// write outputs and the job summary.
import { existsSync } from "node:fs";
import path from "node:path";
import { commandWords } from "../commands/health.js";
import { sh } from "../commands/quote.js";
import { priv } from "../commands/release.js";
import type { Database } from "../config/schema.js";
import { durationMs } from "../config/schema.js";
import { requireWindow } from "../config/window.js";
import { inWorkspace } from "../config/paths.js";
import { backupPostgres, backupSqlite, defaultBackupDir, findBackup, type BackupMeta } from "../operations/backup.js";
import { migrate, migrateAlembic, type MigrateResult } from "../operations/migrate.js";
import { pgClient, runIdentity, type PgClient } from "../operations/pg.js";
import { bytes, mdTable } from "../report/summary.js";
import type { ActionContext } from "./run-action.js";
import type { AppliedMigrationRecord } from "../ledger/ledger.js";
import { formatFinding } from "../lint/rules.js";
import { isBlocking, lintDatabase } from "../operations/lint-migrations.js";

/** The databases an action works on: the `database` input, else all those on the selected hosts. */
export function selectDatabases(ctx: ActionContext, want: (d: Database) => boolean): [string, Database][] {
  const named = ctx.input("database");
  const all = Object.entries(ctx.loaded.env.databases);
  if (named) {
    const d = ctx.loaded.env.databases[named];
    if (!d) throw new Error(`database input names unknown database ${named}; ${ctx.loaded.file} defines: ${all.map(([n]) => n).join(", ") || "none"}`);
    return [[named, d]];
  }
  return all.filter(([, d]) => want(d) && (!d.on || ctx.hosts.includes(d.on.host)));
}

/**
 * A database that lives in the container of a compose stack's database service, before the stack's
 * first deploy: the container does not exist yet. deploy.yml runs backup-db and apply-migrations
 * before deploy-compose, which creates the container and applies the migrations once the service is
 * healthy (no backup needed: the database is new). Returns why there is nothing to do, or undefined
 * (the container exists, or docker could not tell: then the normal path runs and reports).
 */
async function stackDatabaseNotCreated(ctx: ActionContext, name: string, def: Database): Promise<string | undefined> {
  if (def.engine !== "postgres" || !def.on?.container) return undefined;
  const host = def.on.host;
  const stack = Object.entries(ctx.loaded.env.services).flatMap(([n, s]) => (s.kind === "compose" && s["database-service"] && s.hosts.includes(host) ? [{ name: n, db: s["database-service"] }] : []))[0];
  if (!stack) return undefined;
  const h = ctx.loaded.env.hosts[host]!;
  const docker = priv(h.sudo, commandWords(h.commands?.docker, "docker"));
  const remote = await ctx.pool.get(host);
  const r = await remote.run(
    sh`if out=$(${docker} inspect -f '{{.Id}}' ${def.on.container} 2>&1); then echo slipway:container-exists; else case "$out" in *"No such object"*|*"No such container"*) echo slipway:container-missing ;; *) printf '%s\n' "$out" >&2 ;; esac; fi`,
    { step: `does container ${def.on.container} exist`, quiet: true, check: false },
  );
  if (!r.stdout.includes("slipway:container-missing")) return undefined;
  return `${name}: container ${def.on.container} does not exist on ${host} yet: the first deploy of compose service ${stack.name} creates it (database-service ${stack.db}) and deploy-compose applies the migrations once it is healthy`;
}


export async function backupBody(ctx: ActionContext): Promise<void> {
  const dbs = selectDatabases(ctx, () => true);
  // deploy.yml runs this step in every deploy job: an environment without databases has nothing to back up
  if (dbs.length === 0) return ctx.log.info(`no database to back up in ${ctx.loaded.file} (on the selected hosts): nothing to do`);
  const metas: BackupMeta[] = [];
  for (const [name, def] of dbs) {
    const notYet = ctx.dryRun ? undefined : await stackDatabaseNotCreated(ctx, name, def);
    if (notYet) {
      ctx.log.info(`${notYet}; nothing to back up`);
      continue;
    }
    const to = (ctx.input("to") || def.backup?.to || "host") as "host" | "runner";
    const verify = (ctx.input("verify") || def.backup?.verify || "list") as "list" | "restore";
    if (!["host", "runner"].includes(to)) throw new Error(`to must be host or runner, not '${to}'`);
    if (!["list", "restore"].includes(verify)) throw new Error(`verify must be list or restore, not '${verify}'`);
    const where = def.on ? `${def.on.host}${def.engine === "postgres" && def.on.container ? ` (container ${def.on.container})` : ""}` : "the runner";
    if (ctx.dryRun) {
      ctx.log.info(`dry run: would back up ${def.engine} database ${name} on ${where} to ${to === "host" ? `${def.on?.host ?? "the host"}:${def.backup?.dir ?? defaultBackupDir(name)}` : `the runner (${ctx.input("runner-dir") || "backups"}/)`}, verify: ${def.engine === "sqlite" ? "integrity_check" : verify}, keep ${def.backup?.keep ?? 7}`);
      continue;
    }
    const opts = { database: name, def, to, runnerDir: inWorkspace(ctx.input("runner-dir") || "backups"), verify, runIdentity: runIdentity(), log: ctx.log };
    const meta = await ctx.log.group(`backup ${name} on ${where}`, async () => {
      if (def.engine === "sqlite") {
        const host = ctx.loaded.env.hosts[def.on.host]!;
        return backupSqlite(await ctx.pool.get(def.on.host), host.commands?.sqlite3 ?? "sqlite3", { ...opts, sudo: host.sudo });
      }
      const client = await pgClient(ctx.loaded.env, name, ctx.pool, ctx.secrets);
      try {
        return await backupPostgres(client, opts);
      } finally {
        await client.close();
      }
    });
    metas.push(meta);
  }
  if (ctx.dryRun) return;
  if (metas.length === 0) return void (await ctx.out.summary(`### slipway backup-db — ${ctx.loaded.name}\n\nNo backup: ${dbs.map(([n]) => n).join(", ")} does not exist yet (first deploy of its compose stack).\n`));
  const outputs = {
    "backup-id": metas.map((m) => m.id),
    path: metas.map((m) => m.path),
    size: metas.map((m) => String(m.size)),
    sha256: metas.map((m) => m.sha256),
    verified: [String(metas.every((m) => m.verified))],
  };
  for (const [k, v] of Object.entries(outputs)) ctx.out.set(k, v.join(" "));
  // each dump with its metadata (.json): what rollback's restore-db reads after fetching the artifact
  ctx.out.set("runner-paths", metas.filter((m) => m.where === "runner").flatMap((m) => [m.path, m.path.replace(/\.(dump|sqlite3)$/, ".json")]).join("\n"));
  let md = `### slipway backup-db — ${ctx.loaded.name}\n\n`;
  md += mdTable(["database", "backup id", "where", "size", "sha256", "verified by"], metas.map((m) => [m.database, m.id, m.where === "host" ? `${m.host}:${m.path}` : m.path, bytes(m.size), m.sha256.slice(0, 16) + "…", m.verification]));
  for (const m of metas) {
    const wanted = ctx.loaded.env.databases[m.database]?.backup?.tables ?? [];
    const rows = Object.entries(m.counts).filter(([t]) => wanted.length === 0 || wanted.includes(t) || wanted.includes(t.replace(/^public\./, "")));
    if (rows.length) md += `\n**Row counts of ${m.database} at the backup** (snapshot of the dump${m.restoredCounts ? "; identical after a test restore" : ""})\n\n` + mdTable(["table", "rows"], rows);
  }
  await ctx.out.summary(md);
}

export async function migrateBody(ctx: ActionContext): Promise<void> {
  const dbs = selectDatabases(ctx, (d) => d.migrations !== undefined);
  if (dbs.length === 0) return ctx.log.info(`no database with migrations in ${ctx.loaded.file} (on the selected hosts): nothing to do`);
  const totals = { applied: [] as string[], pending: [] as string[], head: [] as string[], records: [] as AppliedMigrationRecord[] };
  let md = `### slipway apply-migrations — ${ctx.loaded.name}\n\n`;
  for (const [name, def] of dbs) {
    const notYet = ctx.dryRun ? undefined : await stackDatabaseNotCreated(ctx, name, def);
    if (notYet) {
      ctx.log.info(`${notYet}; nothing to migrate here`);
      md += mdTable(["database", "applied", "pending", "head"], [[name, "none (deploy-compose applies them)", "all (no database yet)", "none"]]);
      continue;
    }
    const result = await migrateDatabase(ctx, name, def);
    totals.applied.push(...result.applied);
    totals.pending.push(...result.pending);
    totals.records.push(...result.records);
    if (result.head) totals.head.push(result.head);
    md += mdTable(["database", "applied", "pending", "head"], [[name, result.applied.map((f) => `${f}${withClass(result.records, f)}`).join(", ") || "none", result.pending.join(", ") || "none", result.head ?? "none"]]);
  }
  ctx.out.set("applied", String(totals.applied.length));
  ctx.out.set("pending", String(totals.pending.length));
  ctx.out.set("head", totals.head.join(" "));
  ctx.out.set("migrations", JSON.stringify(totals.records));
  await ctx.out.summary(md);
}

const withClass = (records: AppliedMigrationRecord[], file: string) => {
  const c = records.find((r) => r.name === file)?.class;
  return c ? ` (${c})` : "";
};

/**
 * Plan, check the backup gate, apply. `freshDatabase`: the database was created by this very
 * deploy (deploy-compose's database service), so there is nothing a backup could save.
 */
export async function migrateDatabase(ctx: ActionContext, name: string, def: Database, o: { freshDatabase?: boolean } = {}): Promise<MigrateResult & { records: AppliedMigrationRecord[] }> {
  const m = def.migrations;
  if (!m) throw new Error(`database ${name} has no migrations: section`);
  if (def.engine !== "postgres") throw new Error(`database ${name}: migrations are supported for postgres (sqlite migrations are not implemented yet)`);
  // SQL files: linted (and classified expand / contract) before any connection
  const lint = m.engine === "sql" ? await lintDatabase(ctx.loaded, name) : undefined;
  const notes = new Map((lint?.files ?? []).map((f) => [f.name, { class: f.class, allowed: f.allowed }]));
  const client = await pgClient(ctx.loaded.env, name, ctx.pool, ctx.secrets);
  let cleanup: (() => Promise<void>) | undefined;
  try {
    const lockTimeoutSec = Math.ceil(durationMs(m["lock-timeout"]) / 1000);
    const alembic = m.engine === "alembic" ? await uploadAlembic(ctx, name, def, client) : undefined;
    const run = alembic
      ? (dryRun: boolean) => migrateAlembic(client, { ...alembic, table: m.table, lockTimeoutSec, dryRun, log: ctx.log })
      : (dryRun: boolean) => migrate(client, { dir: inWorkspace(m.dir), table: m.table, outOfOrder: m["out-of-order"], lockTimeoutSec, appliedBy: runIdentity(), dryRun, log: ctx.log, notes });
    cleanup = alembic?.cleanup;
    const planned = await run(true);
    // alembic: the SQL of the revisions after the database's current one, generated offline on the runner
    const revisions = alembic && planned.pending.length ? await lintDatabase(ctx.loaded, name, { from: planned.head ?? undefined }) : undefined;
    if (revisions?.notLinted) ctx.log.warn(`${name}: the pending alembic revisions were not linted: ${revisions.notLinted}`);
    // the findings of the files this run applies, annotated at their lines; the error-level ones refuse
    const pending = revisions ? revisions.files : (lint?.files ?? []).filter((f) => planned.pending.includes(f.name));
    for (const f of pending.flatMap((x) => x.findings)) ctx.log.annotate(isBlocking(f) ? "error" : "warn", formatFinding(f), f);
    const blocking = pending.flatMap((f) => f.findings.filter(isBlocking));
    if (blocking.length && !ctx.dryRun)
      throw new Error(
        `refusing to migrate ${name}: ${blocking.length} error-level finding(s) of the migration lint in pending migrations, nothing was applied:\n${blocking.map(formatFinding).join("\n")}\nchange the migration, add \`-- slipway:allow <rule> <reason>\` above the statement, or set the rule's severity in migrations.lint of ${ctx.loaded.file}`,
      );
    for (const f of pending.filter((f) => f.class !== "expand")) ctx.log.info(`${f.name} is a ${f.class} migration (${f.because.join("; ")}): once it is applied, rolling the code back past this release needs restore-db`);
    if (!ctx.dryRun && planned.pending.length > 0) requireWindow(ctx.loaded.env.policy, ctx.loaded.file, `apply ${planned.pending.length} pending migration(s) to ${name}`);
    if (!ctx.dryRun && planned.pending.length > 0 && ctx.loaded.env.policy["backup-before-migrate"]) {
      if (o.freshDatabase) ctx.log.info(`${name} was created by this deploy: no backup needed before its first migrations`);
      else await requireVerifiedBackup(ctx, name, def);
    }
    const result = ctx.dryRun ? planned : await ctx.log.group(`migrate ${name} (${client.describe})`, () => run(false));
    // what this run applied, expand or contract (alembic: the revisions linted above; none when they could not be)
    const records = !result.applied.length ? [] : alembic ? pending.map((f) => ({ database: name, name: f.name, class: f.class })) : result.applied.flatMap((file) => (notes.has(file) ? [{ database: name, name: file, class: notes.get(file)!.class }] : []));
    return { ...result, records };
  } finally {
    await cleanup?.();
    await client.close();
  }
}

/**
 * alembic runs on the database's host in a copy of migrations.dir (the directory holding
 * alembic.ini) from this checkout, uploaded for the run and removed after it: the migrations of the
 * commit being deployed, applied before its release goes live (Capistrano's order), with the
 * environment of migrations.service (its env and secret-env, e.g. the database URL).
 */
async function uploadAlembic(ctx: ActionContext, name: string, def: Database, client: PgClient): Promise<{ cwd: string; env: Record<string, string>; alembic: string[]; cleanup: () => Promise<void> }> {
  const m = def.migrations!;
  const local = inWorkspace(m.dir);
  if (!existsSync(path.join(local, "alembic.ini"))) throw new Error(`database ${name}: migrations.dir ${m.dir} has no alembic.ini (engine alembic)`);
  if (!client.remote) throw new Error(`database ${name}: alembic runs on a host: give the database an on: host`);
  const svcName = m.service;
  const svc = svcName ? ctx.loaded.env.services[svcName] : undefined;
  if (svcName && !svc) throw new Error(`database ${name}: migrations.service names ${svcName}, which ${ctx.loaded.file} does not define`);
  const env = { ...svc?.env };
  for (const [k, secret] of Object.entries(svc?.["secret-env"] ?? {})) env[k] = ctx.secrets.get(secret, `${k} of service ${svcName}`);
  const host = def.on ? ctx.loaded.env.hosts[def.on.host] : undefined;
  const remote = client.remote;
  const dir = (await remote.run(sh`mktemp -d /tmp/slipway-alembic.XXXXXX`, { step: "alembic workdir", quiet: true })).stdout.trim();
  await remote.uploadDir(local, dir, `upload ${m.dir}/ (alembic)`);
  return { cwd: dir, env, alembic: host?.commands?.alembic?.split(/\s+/) ?? ["alembic"], cleanup: async () => void (await remote.run(sh`rm -rf ${dir}`, { step: "remove the alembic workdir", quiet: true, check: false })) };
}

/** The safety gate: no migration without a verified backup of that database from this run. */
async function requireVerifiedBackup(ctx: ActionContext, name: string, def: Database): Promise<void> {
  const ids = ctx.input("backup-id").split(/\s+/).filter(Boolean).filter((id) => id.startsWith(`${name}-`));
  const hint = `run backup-db for ${name} earlier in this job and pass its backup-id output (policy backup-before-migrate is on)`;
  if (ids.length === 0) throw new Error(`refusing to migrate ${name}: no backup-id given; ${hint}`);
  const remote = def.on ? await ctx.pool.get(def.on.host) : undefined;
  for (const id of ids) {
    const meta = await findBackup(remote, def.backup?.dir ?? defaultBackupDir(name), inWorkspace(ctx.input("runner-dir") || "backups"), id);
    if (!meta) continue;
    if (meta.database !== name) throw new Error(`refusing to migrate ${name}: backup ${id} is a backup of ${meta.database}; ${hint}`);
    if (!meta.verified) throw new Error(`refusing to migrate ${name}: backup ${id} is not verified; ${hint}`);
    const run = process.env.GITHUB_RUN_ID;
    if (run && meta.runId !== run) throw new Error(`refusing to migrate ${name}: backup ${id} was made in run ${meta.runId ?? "outside Actions"}, not this run (${run}); ${hint}`);
    ctx.log.info(`backup ${id} of ${name} is verified (${meta.verification}, sha256 ${meta.sha256}): migrating`);
    return;
  }
  throw new Error(`refusing to migrate ${name}: backup ${ids.join(", ")} not found on ${def.on?.host ?? "the runner"}; ${hint}`);
}
