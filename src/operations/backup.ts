// backup-db: a verified backup before anything destructive. PostgreSQL with pg_dump -Fc in an
// exported snapshot (row counts from the same snapshot), SQLite with the online backup API; the
// dump streams to a backup directory on the host or to a file on the runner, is checked
// (non-empty, readable, SHA-256; optionally restored into a scratch database and the row counts
// compared), described by a JSON file beside it, and old backups are pruned.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Transform } from "node:stream";
import { finished } from "node:stream/promises";
import { connArgs, COUNT_MARK, INFO_MARK, pgDumpScript, pgRestoreVerifyScript, removeOnExit, retentionScript, sqliteBackupScript } from "../commands/backup.js";
import { pgRestoreCommand, withHeredoc } from "../commands/postgres.js";
import { sh, type Shell } from "../commands/quote.js";
import * as z from "zod";
import type { Database } from "../config/schema.js";
import type { Remote } from "../remote/connection.js";
import { runLocal } from "../remote/local.js";
import type { Log } from "../report/log.js";
import type { PgClient } from "./pg.js";

export interface BackupMeta {
  id: string;
  database: string;
  engine: "postgres" | "sqlite";
  where: "host" | "runner";
  host?: string;
  path: string;
  size: number;
  sha256: string;
  verified: boolean;
  verification: "list" | "restore" | "integrity_check";
  counts: Record<string, number>;
  restoredCounts?: Record<string, number>;
  serverVersion?: number;
  created: string;
  run: string;
  runId?: string;
}

export interface BackupOptions {
  database: string;
  def: Database;
  to: "host" | "runner";
  /** absolute directory on the runner for runner-side backups */
  runnerDir: string;
  verify: "list" | "restore";
  runIdentity: string;
  log: Log;
}

export class BackupError extends Error {}

export function backupId(database: string, now = new Date(), runId = process.env.GITHUB_RUN_ID): string {
  // milliseconds included: ids sort in creation order, which retention relies on
  const stamp = now.toISOString().replace(/[-:.]/g, "");
  return `${database}-${stamp}${runId ? `-r${runId}` : ""}-${randomBytes(2).toString("hex")}`;
}

export const defaultBackupDir = (database: string) => `/var/backups/slipway/${database}`;

/** Marks the scripts print: "slipway:count public.t 12", "slipway:info sha256 …". */
function parseMarks(text: string): { counts: Record<string, number>; info: Record<string, string> } {
  const counts: Record<string, number> = {};
  const info: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const [mark, key, value] = line.trim().split(/\s+/);
    if (mark === COUNT_MARK && key && value !== undefined) counts[key] = Number(value);
    if (mark === INFO_MARK && key && value !== undefined) info[key] = value;
  }
  return { counts, info };
}

export async function backupPostgres(client: PgClient, o: BackupOptions): Promise<BackupMeta> {
  const id = backupId(o.database);
  const dir = o.def.backup?.dir ?? defaultBackupDir(o.database);
  const sudo = !!client.location.sudo;
  const base = { id, database: o.database, engine: "postgres" as const, created: new Date().toISOString(), run: o.runIdentity, runId: process.env.GITHUB_RUN_ID, host: client.remote?.name };
  const fail = (step: string, e: unknown) => new BackupError(`backup of ${o.database} (${client.describe}) failed at "${step}": ${(e as Error).message}`);

  let meta: BackupMeta;
  if (o.to === "host" && client.remote) {
    const script = pgDumpScript({ loc: client.location, env: client.envScript(), client: client.clientOptions(), dest: { dir, id, sudo } });
    const r = await client.runScript(script, { step: "pg_dump", quiet: true }).catch((e) => Promise.reject(fail("pg_dump", e)));
    const { counts, info } = parseMarks(r.stdout);
    meta = { ...base, where: "host", path: `${dir}/${id}.dump`, size: Number(info.size), sha256: info.sha256!, verified: false, verification: o.verify, counts, serverVersion: Number(info.server_version) };
  } else {
    // stream the dump to the runner; the marks arrive on stderr
    mkdirSync(o.runnerDir, { recursive: true });
    const file = path.join(o.runnerDir, `${id}.dump`);
    const tmp = `${file}.partial`;
    const file$ = createWriteStream(tmp, { mode: 0o600 });
    const hash = createHash("sha256");
    // hashed on the way to disk: no second read of a large dump
    const out = new Transform({
      transform(chunk: Buffer, _e, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    out.pipe(file$);
    const script = pgDumpScript({ loc: client.location, env: client.envScript(), client: client.clientOptions() });
    let r;
    try {
      r = await client.runScript(script, { step: "pg_dump", quiet: true, output: out });
      out.end();
      await finished(file$);
    } catch (e) {
      file$.destroy();
      rmSync(tmp, { force: true });
      throw fail("pg_dump", e);
    }
    const { counts, info } = parseMarks(r.stderr);
    const size = statSync(tmp).size;
    if (size === 0) {
      rmSync(tmp, { force: true });
      throw new BackupError(`backup of ${o.database} failed: pg_dump wrote an empty file`);
    }
    const sha256 = hash.digest("hex");
    const list = await runLocal(sh`pg_restore --list ${tmp} > /dev/null`, { step: "pg_restore --list", check: false });
    if (list.code !== 0) {
      rmSync(tmp, { force: true });
      throw new BackupError(`backup of ${o.database} failed: pg_restore --list cannot read the dump: ${list.stderr.trim()}`);
    }
    renameSync(tmp, file);
    meta = { ...base, where: "runner", path: file, size, sha256, verified: false, verification: o.verify, counts, serverVersion: Number(info.server_version) };
  }

  if (o.verify === "restore") meta.restoredCounts = await restoreAndCount(client, meta);
  meta.verified = true;
  await writeMeta(client.remote, meta, o.log);
  await prune(client.remote, meta, o);
  return meta;
}

/** The dump where the clients run: a runner-side dump is uploaded to the host first (removed after). */
async function dumpWhereClientsRun(client: PgClient, meta: BackupMeta, step: string): Promise<{ file: string; cleanup: (script: Shell) => Shell }> {
  if (meta.where !== "runner" || !client.remote) return { file: meta.path, cleanup: (s) => s };
  const uploaded = `/tmp/slipway-restore-${meta.id}.dump`;
  await client.remote.uploadFile(meta.path, uploaded, { mode: "0600", step });
  return { file: uploaded, cleanup: (s) => removeOnExit(uploaded, s) };
}

/**
 * Restore a backup INTO the live database (rollback with restore-db): one transaction, so a dump
 * that fails part-way leaves the database as it was. The caller takes a fresh backup first.
 */
/** A dump on the runner is the one its metadata describes (it may have travelled as an artifact): same SHA-256. */
async function checkRunnerDump(meta: BackupMeta): Promise<void> {
  if (meta.where !== "runner") return;
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(meta.path)) hash.update(chunk as Buffer);
  const got = hash.digest("hex");
  if (got !== meta.sha256) throw new BackupError(`refusing to restore ${meta.id}: ${meta.path} has SHA-256 ${got}, its metadata records ${meta.sha256} (a damaged or replaced dump); nothing was changed`);
}

export async function restorePostgres(client: PgClient, meta: BackupMeta): Promise<void> {
  await checkRunnerDump(meta);
  const { file, cleanup } = await dumpWhereClientsRun(client, meta, "upload dump to restore");
  const loc = client.location;
  const restore = pgRestoreCommand(loc, sh`--clean --if-exists --no-owner --no-acl --single-transaction --exit-on-error -d ${loc.dbname} ${connArgs(loc)}`, client.clientOptions());
  const r = await client.runScript(cleanup(sh`${client.envScript()}\n${restore} < ${file}`), { step: `restore ${meta.id}`, quiet: true, check: false });
  if (r.code !== 0) throw new BackupError(`restoring ${meta.id} into ${client.describe} failed (nothing was changed: one transaction): ${r.stderr.trim().split("\n").slice(-8).join("\n")}`);
}

/** Restore into a scratch database on the same server and compare every table's row count. */
async function restoreAndCount(client: PgClient, meta: BackupMeta): Promise<Record<string, number>> {
  const scratch = `slipway_verify_${randomBytes(4).toString("hex")}`;
  const { file, cleanup } = await dumpWhereClientsRun(client, meta, "upload dump for restore check");
  const script = pgRestoreVerifyScript({ loc: client.location, env: client.envScript(), client: client.clientOptions(), file, scratch });
  const wrapped = cleanup(script);
  const r = await client.runScript(wrapped, { step: "restore check", quiet: true, check: false });
  if (r.code !== 0) throw new BackupError(`backup ${meta.id} could not be restored into a scratch database: ${r.tail.slice(-5).join("\n")}`);
  const restored = parseMarks(r.stdout).counts;
  const diff = Object.keys({ ...meta.counts, ...restored }).filter((t) => meta.counts[t] !== restored[t]);
  if (diff.length)
    throw new BackupError(`backup ${meta.id} restored with different row counts: ${diff.map((t) => `${t}: ${meta.counts[t] ?? "missing"} in the snapshot, ${restored[t] ?? "missing"} restored`).join("; ")}`);
  return restored;
}

export async function backupSqlite(remote: Remote, sqlite3: string, o: BackupOptions & { sudo: boolean }): Promise<BackupMeta> {
  const def = o.def;
  if (def.engine !== "sqlite") throw new Error("not a sqlite database");
  const id = backupId(o.database);
  const dir = o.def.backup?.dir ?? defaultBackupDir(o.database);
  const tables = o.def.backup?.tables ?? [];
  const r = await remote.run(sqliteBackupScript({ sqlite3, db: def.path, dir, id, sudo: o.sudo, tables }), { step: "sqlite online backup", quiet: true }).catch((e) => {
    throw new BackupError(`backup of ${o.database} (sqlite ${def.path} on ${remote.name}) failed: ${(e as Error).message}`);
  });
  const { counts, info } = parseMarks(r.stdout);
  let meta: BackupMeta = {
    id, database: o.database, engine: "sqlite", where: "host", host: remote.name, path: `${dir}/${id}.sqlite3`, size: Number(info.size), sha256: info.sha256!,
    verified: true, verification: "integrity_check", counts, created: new Date().toISOString(), run: o.runIdentity, runId: process.env.GITHUB_RUN_ID,
  };
  if (o.to === "runner") {
    const local = path.join(o.runnerDir, `${id}.sqlite3`);
    const got = await remote.downloadFile(meta.path, local);
    if (got.sha256 !== meta.sha256) throw new BackupError(`backup ${id}: the copy on the runner has SHA-256 ${got.sha256}, the host computed ${meta.sha256}`);
    meta = { ...meta, where: "runner", path: local };
  }
  await writeMeta(remote, meta, o.log);
  await prune(remote, meta, o);
  return meta;
}

/** The JSON beside each backup: what it is, how it was verified, who made it in which run. */
async function writeMeta(remote: Remote | undefined, meta: BackupMeta, log: Log): Promise<void> {
  const json = JSON.stringify(meta, null, 2) + "\n";
  const metaPath = meta.path.replace(/\.(dump|sqlite3)$/, ".json");
  if (meta.where === "runner" || !remote) writeFileSync(metaPath, json, { mode: 0o600 });
  else await remote.run(withHeredoc(sh`cat > ${metaPath}`, json), { step: "write backup metadata", quiet: true });
  log.info(`backup ${meta.id}: ${meta.path} (${meta.size} bytes, sha256 ${meta.sha256}, verified by ${meta.verification})`);
}

async function prune(remote: Remote | undefined, meta: BackupMeta, o: BackupOptions): Promise<void> {
  const keep = o.def.backup?.keep ?? 7;
  const keepDays = o.def.backup?.["keep-days"];
  const dir = path.dirname(meta.path);
  const script = retentionScript({ dir, keep, keepDays });
  const r = meta.where === "runner" || !remote ? await runLocal(script, { step: "retention" }) : await remote.run(script, { step: "retention", quiet: true });
  for (const line of r.stdout.split("\n").filter(Boolean)) o.log.info(line);
}

/** What backupId() makes: <database>-<UTC stamp to the millisecond>[-r<run id>]-<4 hex digits>. */
export const BACKUP_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*-\d{8}T\d{9}Z(-r\d+)?-[0-9a-f]{4}$/;

const counts = z.record(z.string(), z.number().int().nonnegative());
/** The metadata JSON as writeMeta writes it (unknown keys are dropped; NaN numbers were written as null). */
const backupMetaSchema = z.object({
  id: z.string().regex(BACKUP_ID, "not a backup id"),
  database: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "not a database name"),
  engine: z.enum(["postgres", "sqlite"]),
  where: z.enum(["host", "runner"]),
  host: z.string().optional(),
  path: z.string().min(1),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "not a SHA-256"),
  verified: z.boolean(),
  verification: z.enum(["list", "restore", "integrity_check"]),
  counts,
  restoredCounts: counts.optional(),
  serverVersion: z.number().int().nullish().transform((v) => v ?? undefined),
  created: z.string(),
  run: z.string(),
  runId: z.string().regex(/^\d+$/).optional(),
});

/**
 * Parse a backup's metadata read back from where it was stored (`where`: the runner's backup
 * directory, or a host's). Nothing in it is trusted: it must be of backup `id`, recorded where it
 * was found, and name the dump beside it in that directory (a metadata file on a host that points
 * at a file of the runner, or anywhere else, is refused).
 */
export function parseBackupMeta(text: string, o: { id: string; where: "host" | "runner"; dir: string; source: string }): BackupMeta {
  const refuse = (why: string) => new BackupError(`refusing the metadata of backup ${o.id} in ${o.source}: ${why}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw refuse(`not JSON (${(e as Error).message})`);
  }
  const parsed = backupMetaSchema.safeParse(json);
  if (!parsed.success) throw refuse(parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; "));
  const meta = parsed.data;
  if (meta.id !== o.id) throw refuse(`it describes backup ${JSON.stringify(meta.id)}`);
  if (!meta.id.startsWith(`${meta.database}-`)) throw refuse(`its id is not one of database ${JSON.stringify(meta.database)}`);
  if (meta.where !== o.where) throw refuse(`it says the dump is on the ${meta.where}, but it was found on the ${o.where}`);
  const p = o.where === "runner" ? path : path.posix;
  const dir = p.resolve(o.dir);
  const expected = [".dump", ".sqlite3"].map((ext) => p.join(dir, `${o.id}${ext}`));
  // on the runner a dump moves with its metadata (an artifact of another run, fetched into this
  // workspace): it is the file of that name beside the metadata; on a host it never moves
  const recorded = o.where === "runner" && p.isAbsolute(meta.path) ? p.join(dir, p.basename(meta.path)) : meta.path;
  if (!p.isAbsolute(recorded) || !expected.includes(p.resolve(recorded)))
    throw refuse(`its path ${JSON.stringify(meta.path)} is not the dump beside it (${expected.join(" or ")})`);
  if (path.extname(recorded) !== (meta.engine === "postgres" ? ".dump" : ".sqlite3")) throw refuse(`its path ${JSON.stringify(meta.path)} is not a ${meta.engine} backup`);
  return { ...meta, path: recorded };
}

/** The backup made in this run, for apply-migrations' safety gate (and the one restore-db restores). */
export async function findBackup(remote: Remote | undefined, dirOnHost: string, runnerDir: string, id: string): Promise<BackupMeta | undefined> {
  if (!BACKUP_ID.test(id)) throw new BackupError(`not a backup id: ${JSON.stringify(id)} (backup-db makes ids like <database>-20261201T100000000Z-r123-1a2b)`);
  const local = path.join(runnerDir, `${id}.json`);
  let text: string | undefined;
  try {
    text = readFileSync(local, "utf8");
  } catch {
    /* not on the runner */
  }
  if (text !== undefined) return parseBackupMeta(text, { id, where: "runner", dir: runnerDir, source: `${local} on the runner` });
  if (!remote) return undefined;
  const file = `${dirOnHost}/${id}.json`;
  const r = await remote.run(sh`cat -- ${file} 2>/dev/null || true`, { step: "find backup", quiet: true });
  return r.stdout.trim() ? parseBackupMeta(r.stdout, { id, where: "host", dir: dirOnHost, source: `${file} on ${remote.name}` }) : undefined;
}


