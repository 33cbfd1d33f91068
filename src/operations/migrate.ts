// apply-migrations for engine `sql`: plan against the history table, then one psql session that
// holds the advisory lock and applies each pending migration in its own transaction.
import { createHistorySql, historyFingerprintSql, MARK_BEGIN, MARK_DONE, migrationSession, sqlIdent, sqlLiteral, type MigrationNotes } from "../commands/postgres.js";
import { alembicScript, type AlembicScript } from "../commands/alembic.js";
import { INFO_MARK } from "../commands/backup.js";
import type { Log } from "../report/log.js";
import { MigrationError, planMigrations, readMigrations, type AppliedMigration, type MigrationFile } from "./migrations.js";
import type { PgClient } from "./pg.js";

export interface MigrateOptions {
  dir: string;
  table: string;
  outOfOrder: boolean;
  lockTimeoutSec: number;
  appliedBy: string;
  dryRun: boolean;
  log: Log;
  /** per file name: its class and allow reasons, recorded in the history table */
  notes?: Map<string, MigrationNotes>;
}

export interface MigrateResult {
  applied: string[];
  pending: string[];
  head: string | null;
}

/** Read the history (without creating anything): rows and the fingerprint checked under the lock. */
export async function readHistory(client: PgClient, table: string): Promise<{ rows: AppliedMigration[]; fingerprint: string }> {
  const sql = `SELECT to_regclass(${sqlLiteral(sqlIdent(table))}) IS NOT NULL;`;
  const exists = await client.psql(sql, "read migration history");
  if (exists.code !== 0) throw new MigrationError(`cannot query ${client.describe}: ${pgErrors(exists.stderr)}`);
  if (exists.stdout.trim() !== "t") return { rows: [], fingerprint: "" };
  const r = await client.psql(
    `SELECT version, checksum, success, name FROM ${sqlIdent(table)} ORDER BY version;\n${historyFingerprintSql(table)};`,
    "read migration history",
  );
  if (r.code !== 0) throw new MigrationError(`cannot read ${table} in ${client.describe}: ${pgErrors(r.stderr)}`);
  const lines = r.stdout.split("\n").filter((l) => l !== "");
  const fingerprint = lines.pop() ?? "";
  const rows = lines.map((l) => {
    const [version, checksum, success, ...name] = l.split("|");
    return { version: version!, checksum: checksum!, success: success === "t", name: name.join("|") };
  });
  return { rows, fingerprint: rows.length ? fingerprint : "" };
}

export async function migrate(client: PgClient, o: MigrateOptions): Promise<MigrateResult> {
  const files = readMigrations(o.dir);
  for (let attempt = 1; ; attempt++) {
    const history = await readHistory(client, o.table);
    const plan = planMigrations(files, history.rows, { outOfOrder: o.outOfOrder });
    const pending = plan.pending.map((m) => m.name);
    if (o.dryRun || plan.pending.length === 0) {
      o.log.info(plan.pending.length ? `pending migrations on ${client.describe}:\n  ${pending.join("\n  ")}` : `${client.describe}: no pending migrations (head ${plan.head ?? "none"})`);
      return { applied: [], pending, head: plan.head };
    }
    o.log.info(`applying ${plan.pending.length} migration(s) to ${client.describe}: ${pending.join(", ")}`);
    const session = migrationSession(plan.pending, { table: o.table, lockTimeoutSec: o.lockTimeoutSec, appliedBy: o.appliedBy, expectedHistory: history.fingerprint, notes: o.notes });
    const r = await client.psql(session.sql, "apply migrations");
    const done = [...r.stdout.matchAll(new RegExp(`^${MARK_DONE}(\\S+)$`, "gm"))].map((m) => m[1]!);
    for (const v of done) o.log.info(`  applied ${plan.pending.find((m) => m.version === v)?.name ?? v}`);
    if (r.code === 0) return { applied: plan.pending.map((m) => m.name), pending: [], head: plan.pending.at(-1)!.version };
    // another run applied migrations while we waited for the lock: plan again
    if (/the migration history changed while this run waited/.test(r.stderr) && attempt < 3) {
      o.log.info("the migration history changed while waiting for the lock; planning again");
      continue;
    }
    const begun = [...r.stdout.matchAll(new RegExp(`^${MARK_BEGIN}(\\S+)$`, "gm"))].map((m) => m[1]!);
    const failedVersion = begun.find((v) => !done.includes(v));
    const failed = plan.pending.find((m) => m.version === failedVersion);
    if (!failed) throw new MigrationError(`migrations on ${client.describe} did not start: ${pgErrors(r.stderr)}`);
    if (failed.noTransaction) await recordFailure(client, o, failed);
    throw new MigrationError(describeFailure(client, failed, session.offsets, r.stderr, done.length));
  }
}

/** A migration outside a transaction may have left changes: mark it so later runs refuse until repaired. */
async function recordFailure(client: PgClient, o: MigrateOptions, m: MigrationFile): Promise<void> {
  await client.psql(
    `${createHistorySql(o.table)}\nINSERT INTO ${sqlIdent(o.table)} (version, name, checksum, applied_by, duration_ms, success) VALUES (${sqlLiteral(m.version)}, ${sqlLiteral(m.name)}, ${sqlLiteral(m.checksum)}, ${sqlLiteral(o.appliedBy)}, 0, false) ON CONFLICT (version) DO NOTHING;`,
    "record failed migration",
  );
}

/** The error a user needs: which file, which line of it, the statement, PostgreSQL's message. */
function describeFailure(client: PgClient, m: MigrationFile, offsets: { name: string; line: number; lines: number }[], stderr: string, appliedBefore: number): string {
  const at = offsets.find((o) => o.name === m.name)!;
  // psql (reading -f -) prints "psql:<stdin>:N: ERROR: ..." where N is the session line on which the
  // failing statement ENDS; "LINE k:" is the error's line within the statement, echoed after STATEMENT:
  const errorAt = /^psql:<stdin>:(\d+): ERROR:\s+(.*)$/m.exec(stderr);
  const statement = /^psql:<stdin>:\d+: STATEMENT:\s+([\s\S]*?)(?=^psql:|(?![\s\S]))/m.exec(stderr)?.[1]?.replace(/\s+$/, "") ?? "";
  const lineInStatement = Number(/^LINE (\d+):/m.exec(stderr)?.[1] ?? 1);
  let where = "";
  if (errorAt) {
    const endLine = Number(errorAt[1]) - at.line + 1;
    const stmtLines = statement ? statement.split("\n").length : 1;
    const startLine = endLine - stmtLines + 1;
    if (endLine >= 1 && endLine <= at.lines) where = ` at ${m.name}:${startLine + lineInStatement - 1} (statement starting at line ${startLine})`;
  }
  const detail = stderr
    .split("\n")
    .filter((l) => l.trim() !== "" && !/^psql:<stdin>:\d+: STATEMENT:/.test(l))
    .map((l) => l.replace(/^psql:<stdin>:\d+: /, ""))
    .filter((l) => !statement.split("\n").slice(1).includes(l));
  const state = m.noTransaction
    ? "It ran outside a transaction (slipway:no-transaction), so part of it may have been applied; it is recorded as failed and later runs refuse until it is repaired."
    : "Its transaction was rolled back: the database is exactly as before it.";
  return (
    `migration ${m.name} failed${where} on ${client.describe}${appliedBefore ? ` (after ${appliedBefore} migration(s) of this run were applied and kept)` : ""}:\n` +
    `  ${detail.join("\n  ")}\n` +
    (statement ? `  statement:\n    ${statement.split("\n").join("\n    ")}\n` : "") +
    state
  );
}

/** PostgreSQL's own error lines from psql's stderr (without the echoed statement). */
export function pgErrors(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => /^(psql:\S+:\d+: )?(ERROR|FATAL|DETAIL|HINT|CONTEXT):|^psql: error:|^\S.*: (could not|connection)/.test(l));
  return (lines.length ? lines : stderr.trim().split("\n").slice(-5)).map((l) => l.replace(/^psql:<stdin>:\d+: /, "")).join("\n");
}

/** What the alembic script needs besides the database client's own settings. */
export type AlembicOptions = Omit<AlembicScript, "loc" | "pgEnv" | "client"> & { log: Log };

/** alembic upgrade head on the host under the advisory lock; then current must equal heads. */
export async function migrateAlembic(client: PgClient, o: AlembicOptions): Promise<MigrateResult> {
  if (!client.remote) throw new MigrationError("alembic runs on a host: give the database an on: host (or set migrations.service to a service on its host)");
  const script = alembicScript({ loc: client.location, pgEnv: client.envScript(), client: client.clientOptions(), ...o });
  const r = await client.remote.run(script, { step: o.dryRun ? "alembic current" : "alembic upgrade head", quiet: true, check: false });
  const info = Object.fromEntries(
    r.stdout
      .split("\n")
      .filter((l) => l.startsWith(INFO_MARK))
      .map((l) => l.split(" ").slice(1))
      .map(([k, ...v]) => [k, v.join(" ")]),
  );
  if (r.code !== 0) throw new MigrationError(`alembic on ${client.remote.name} (${o.cwd}) failed with exit code ${r.code}:\n  ${pgErrorsOr(r.stderr)}`);
  const pending = info.current === info.heads ? [] : [`${info.current} -> ${info.heads}`];
  o.log.info(o.dryRun ? `alembic on ${client.remote.name}: current ${info.current}, heads ${info.heads}` : `alembic upgrade head on ${client.remote.name}: now at ${info.heads}`);
  return o.dryRun ? { applied: [], pending, head: info.current === "none" ? null : (info.current ?? null) } : { applied: [`alembic ${info.heads}`], pending: [], head: info.heads ?? null };
}

function pgErrorsOr(stderr: string): string {
  return stderr.trim().split("\n").slice(-12).join("\n  ");
}
