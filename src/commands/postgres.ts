// psql/pg_dump command lines and the SQL sessions slipway feeds to psql. Shell words go through
// quote()/sh``; SQL literals and identifiers through sqlLiteral()/sqlIdent(). No value is pasted.
import { createHash, randomBytes } from "node:crypto";
import type { MigrationFile } from "../operations/migrations.js";
import { commandWords } from "./health.js";
import { Shell, sh } from "./quote.js";

export function sqlLiteral(value: string): string {
  if (value.includes("\0")) throw new Error("a SQL literal cannot contain a NUL byte");
  return `'${value.replace(/'/g, "''")}'`;
}
export function sqlIdent(name: string): string {
  if (name.includes("\0")) throw new Error("a SQL identifier cannot contain a NUL byte");
  return `"${name.replace(/"/g, '""')}"`;
}

/** Where and how psql/pg_dump run for one database. */
export interface PgLocation {
  /** in a container: docker exec into it */
  container?: string;
  /** the docker command on that host ("docker" or "/usr/local/bin/docker") */
  docker?: string;
  /** prefix privileged commands (docker) with sudo -n */
  sudo?: boolean;
  /** connection: host/port are omitted for the local socket */
  host?: string;
  port?: number;
  user: string;
  dbname: string;
  /** versioned binaries directory, e.g. /usr/lib/postgresql/15/bin; default: PATH */
  binDir?: string;
  /** the host's own commands for the clients (hosts.<h>.commands.psql …): command words, before binDir and PATH */
  tools?: Partial<Record<PgTool, string>>;
}

export type PgTool = "psql" | "pg_dump" | "pg_restore";

function tool(loc: PgLocation, name: PgTool | "createdb" | "dropdb"): string[] {
  const configured = name === "createdb" || name === "dropdb" ? undefined : loc.tools?.[name];
  if (configured) return commandWords(configured, name);
  return [loc.binDir ? `${loc.binDir.replace(/\/$/, "")}/${name}` : name];
}

/** connection flags shared by every PostgreSQL client */
function connFlags(loc: PgLocation, dbname = loc.dbname): Shell {
  return sh`${loc.host ? sh`-h ${loc.host}` : new Shell("")} ${loc.port ? sh`-p ${loc.port}` : new Shell("")} -U ${loc.user} -d ${dbname}`;
}

/**
 * `docker exec -i CONTAINER` (through sudo when the user cannot reach the socket), or nothing.
 * The application name (not secret) goes in as a value; secrets named in passEnv (PGPASSWORD) go
 * in by name only, never in argv (through sudo this needs the SETENV tag in sudoers).
 */
function inContainer(loc: PgLocation, opts: ClientOptions): Shell {
  if (!loc.container) return new Shell("");
  const passEnv = opts.passEnv ?? [];
  const sudo = loc.sudo ? (passEnv.length ? sh`sudo -n --preserve-env=${passEnv.join(",")} ` : sh`sudo -n `) : new Shell("");
  const env = [...(opts.appName ? [sh`-e ${`PGAPPNAME=${opts.appName}`} `] : []), ...passEnv.map((n) => sh`-e ${n} `)];
  return sh`${sudo}${loc.docker ?? "docker"} exec -i ${env}${loc.container} `;
}

export interface ClientOptions {
  dbname?: string;
  /** application_name for the session (shown to whoever waits for our lock) */
  appName?: string;
  /** secret environment variables the client needs from the calling shell, by name */
  passEnv?: string[];
}

export function psqlCommand(loc: PgLocation, opts: ClientOptions = {}): Shell {
  return sh`${inContainer(loc, opts)}${tool(loc, "psql")} -X -q -At -v ON_ERROR_STOP=1 -f - ${connFlags(loc, opts.dbname)}`;
}

export function pgDumpCommand(loc: PgLocation, opts: ClientOptions & { snapshot?: Shell } = {}): Shell {
  return sh`${inContainer(loc, opts)}${tool(loc, "pg_dump")} -Fc ${opts.snapshot ? sh`--snapshot=${opts.snapshot}` : new Shell("")} ${connFlags(loc, opts.dbname)}`;
}

export function pgRestoreCommand(loc: PgLocation, args: Shell, opts: ClientOptions = {}): Shell {
  return sh`${inContainer(loc, opts)}${tool(loc, "pg_restore")} ${args}`;
}

export function pgToolVersionCommand(loc: PgLocation, name: "pg_dump" | "pg_restore"): Shell {
  return sh`${inContainer(loc, {})}${tool(loc, name)} --version`;
}

/** Feed `input` to `command` as a quoted heredoc (nothing in it is expanded by the shell). */
export function withHeredoc(command: Shell, input: string): Shell {
  let delim: string;
  do delim = `SLIPWAY_EOF_${randomBytes(6).toString("hex")}`;
  while (input.split("\n").includes(delim));
  if (input.includes("\0")) throw new Error("input for a heredoc cannot contain a NUL byte");
  return new Shell(`${command.text} <<'${delim}'\n${input}${input.endsWith("\n") ? "" : "\n"}${delim}`);
}

/** The advisory lock key of a history table: (classid, objid) for pg_try_advisory_lock(int, int). */
export function lockKey(table: string): [number, number] {
  const h = createHash("sha256").update(`slipway:${table}`).digest();
  return [0x534c5057 /* "SLPW" */, h.readInt32BE(0)];
}

export interface SessionOptions {
  table: string;
  lockTimeoutSec: number;
  appliedBy: string;
  /** the history as planned, "version:checksum:success" joined by ","; checked again under the lock */
  expectedHistory: string;
  /** per file name: its class and `-- slipway:allow` reasons (the lint's), recorded with its row */
  notes?: Map<string, MigrationNotes>;
}

export interface MigrationNotes {
  class: string;
  allowed: string[];
}

export const historyFingerprintSql = (table: string) =>
  `SELECT coalesce(string_agg(version || ':' || checksum || ':' || success, ',' ORDER BY version), '') FROM ${sqlIdent(table)}`;

export const createHistorySql = (table: string) =>
  `CREATE TABLE IF NOT EXISTS ${sqlIdent(table)} (
  version text PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  applied_by text NOT NULL,
  duration_ms integer NOT NULL,
  success boolean NOT NULL
);
ALTER TABLE ${sqlIdent(table)} ADD COLUMN IF NOT EXISTS class text, ADD COLUMN IF NOT EXISTS lint_allowed text;`;

/** Wait for the advisory lock (session level: held until psql exits), naming the holder on timeout. */
export function acquireLockSql(table: string, timeoutSec: number): string {
  const [k1, k2] = lockKey(table);
  return `DO $slipway_lock$
DECLARE
  deadline timestamptz := clock_timestamp() + make_interval(secs => ${timeoutSec});
  holder text;
BEGIN
  LOOP
    IF pg_try_advisory_lock(${k1}, ${k2}) THEN RETURN; END IF;
    IF clock_timestamp() > deadline THEN
      SELECT string_agg(format('%s (pid %s, %s@%s, connected since %s)', coalesce(nullif(a.application_name, ''), 'unknown client'), a.pid, a.usename, coalesce(host(a.client_addr), 'local socket'), date_trunc('second', a.backend_start)), '; ')
        INTO holder
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = ${k1 >>> 0} AND l.objid = ${k2 >>> 0} AND l.objsubid = 2;
      RAISE EXCEPTION 'slipway: migrations of % are locked by another run: %; gave up after waiting ${timeoutSec}s', ${sqlLiteral(table)}, coalesce(holder, 'a session that just ended');
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
END
$slipway_lock$;`;
}

/** Lines psql prints around each migration so the runner can follow progress and find a failure. */
export const MARK_BEGIN = "slipway:begin ";
export const MARK_DONE = "slipway:done ";

export interface SessionScript {
  sql: string;
  /** first line (1-based, within `sql`) of each migration's own text */
  offsets: { name: string; line: number; lines: number }[];
}

/**
 * One psql session: take the lock, create the history table, check the history is still what was
 * planned, then apply each migration in its own transaction (or alone, outside one, when marked),
 * recording version, name, checksum, time, who and how long.
 */
export function migrationSession(pending: MigrationFile[], o: SessionOptions): SessionScript {
  const t = sqlIdent(o.table);
  const parts: string[] = [
    "\\set ECHO errors",
    "\\set VERBOSITY default",
    "SET client_min_messages = warning;",
    acquireLockSql(o.table, o.lockTimeoutSec),
    createHistorySql(o.table),
    `DO $slipway_check$ BEGIN
  IF (${historyFingerprintSql(o.table)}) IS DISTINCT FROM ${sqlLiteral(o.expectedHistory)} THEN
    RAISE EXCEPTION 'slipway: the migration history changed while this run waited for the lock';
  END IF;
END $slipway_check$;`,
  ];
  const offsets: SessionScript["offsets"] = [];
  let lines = parts.join("\n").split("\n").length;
  const push = (text: string) => {
    parts.push(text);
    lines += text.split("\n").length;
  };
  for (const m of pending) {
    const n = o.notes?.get(m.name);
    const notes = n ? `${sqlLiteral(n.class)}, ${n.allowed.length ? sqlLiteral(n.allowed.join("; ")) : "NULL"}` : "NULL, NULL";
    const record = `INSERT INTO ${t} (version, name, checksum, applied_by, duration_ms, success, class, lint_allowed) VALUES (${sqlLiteral(m.version)}, ${sqlLiteral(m.name)}, ${sqlLiteral(m.checksum)}, ${sqlLiteral(o.appliedBy)}, (extract(epoch from clock_timestamp() - :'slipway_t0'::timestamptz) * 1000)::int, true, ${notes});`;
    push(`\\echo ${MARK_BEGIN}${m.version}\nSELECT clock_timestamp() AS slipway_t0 \\gset${m.noTransaction ? "" : "\nBEGIN;"}`);
    const body = m.sql.endsWith("\n") ? m.sql.slice(0, -1) : m.sql;
    offsets.push({ name: m.name, line: lines + 1, lines: body.split("\n").length });
    push(body);
    push(`;\n${record}${m.noTransaction ? "" : "\nCOMMIT;"}\n\\echo ${MARK_DONE}${m.version}`);
  }
  return { sql: parts.join("\n") + "\n", offsets };
}

