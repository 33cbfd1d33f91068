// Scripts for verified database backups. They run where the database client runs (on the host
// over ssh, or on the runner) under bash -euo pipefail, and write nothing under the final name
// until the dump is complete and readable.
import { pgDumpCommand, pgRestoreCommand, pgToolVersionCommand, psqlCommand, sqlIdent, type ClientOptions, type PgLocation } from "./postgres.js";
import { sh, Shell, type ShellValue } from "./quote.js";

/** Lines the scripts print (to stderr when stdout carries the dump) for the runner to parse. */
export const COUNT_MARK = "slipway:count";
export const INFO_MARK = "slipway:info";

/** psql that prints, for every user table, "slipway:count schema.table N" */
const COUNT_ALL_SQL = String.raw`SELECT format('SELECT %L || '' '' || %L || '' '' || count(*) FROM %I.%I', 'slipway:count', schemaname || '.' || tablename, schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1 \gexec`;

export interface PgBackupScript {
  loc: PgLocation;
  /** exports PGAPPNAME/PGPASSWORD for the clients */
  env: Shell;
  client: ClientOptions;
  /** file on the host; undefined: the dump goes to stdout (and the marks to stderr) */
  dest?: { dir: string; id: string; sudo: boolean };
}

/**
 * pg_dump -Fc inside an exported snapshot, so the row counts taken in the same snapshot describe
 * exactly what the dump contains (the application may keep writing meanwhile).
 */
export function pgDumpScript(s: PgBackupScript): Shell {
  const marks = s.dest ? new Shell("") : new Shell(">&2");
  const psql = psqlCommand(s.loc, s.client);
  const dump = pgDumpCommand(s.loc, { ...s.client, snapshot: new Shell('"$snap"') });
  const parts: ShellValue[] = [
    s.env,
    sh`dump_major=$(${pgToolVersionCommand(s.loc, "pg_dump")} | sed -E 's/^[^0-9]*([0-9]+).*/\\1/')`,
    sh`coproc SNAP { ${psql}; }`,
    // -f - makes psql read the coprocess pipe as a script, statement by statement
    sh`printf '%s\\n' "SHOW server_version_num;" "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;" "SELECT pg_export_snapshot();" ${COUNT_ALL_SQL} "\\echo slipway:end" >&"\${SNAP[1]}"`,
    sh`read -r server_num <&"\${SNAP[0]}"`,
    sh`read -r snap <&"\${SNAP[0]}"`,
    sh`server_major=$((server_num / 10000))`,
    // refuse a pg_dump whose major differs from the server's (Debian's pg_wrapper runs the newest installed)
    sh`if [ "$dump_major" != "$server_major" ]; then
  alt=/usr/lib/postgresql/$server_major/bin/pg_dump
  if [ -x "$alt" ]; then hint="call the versioned binary $alt: set version: $server_major on this database"; else hint="install postgresql-client-$server_major and set version: $server_major on this database"; fi
  echo "pg_dump major version $dump_major does not match the server's major version $server_major; refusing to dump. $hint" >&2
  exit 3
fi`,
    sh`echo ${INFO_MARK} server_version "$server_major" ${marks}`,
    sh`while read -r line <&"\${SNAP[0]}" && [ "$line" != slipway:end ]; do echo "$line" ${marks}; done`,
  ];
  if (s.dest) {
    const { dir, id } = s.dest;
    parts.push(
      s.dest.sudo ? sh`sudo -n install -d -m 0750 -o "$(id -un)" ${dir}` : sh`mkdir -p ${dir}`,
      sh`tmp=${dir}/.${id}.partial`,
      sh`trap 'rm -f "$tmp"' EXIT`,
      sh`(umask 077; ${dump} > "$tmp")`,
    );
  } else {
    parts.push(dump);
  }
  parts.push(sh`printf '%s\\n' "COMMIT;" "\\q" >&"\${SNAP[1]}"`, sh`wait "$SNAP_PID" || true`);
  if (s.dest) {
    const { dir, id } = s.dest;
    parts.push(
      sh`size=$(stat -c %s "$tmp")`,
      sh`[ "$size" -gt 0 ] || { echo "pg_dump wrote an empty file" >&2; exit 1; }`,
      sh`${pgRestoreCommand(s.loc, sh`--list`, {})} < "$tmp" > /dev/null || { echo "pg_restore --list cannot read the dump" >&2; exit 1; }`,
      sh`echo ${INFO_MARK} sha256 "$(sha256sum "$tmp" | cut -d' ' -f1)"`,
      sh`echo ${INFO_MARK} size "$size"`,
      sh`mv -f -- "$tmp" ${`${dir}/${id}.dump`}`,
      sh`trap - EXIT`,
    );
  }
  return sh`${parts.map((p) => sh`${p}`).reduce((a, b) => sh`${a}\n${b}`)}`;
}

/** Restore a dump (a file on the host, or stdin) into a scratch database, count rows, drop it. */
export function pgRestoreVerifyScript(s: { loc: PgLocation; env: Shell; client: ClientOptions; file?: string; scratch: string }): Shell {
  const admin = psqlCommand(s.loc, { ...s.client, dbname: "postgres" });
  const scratch = psqlCommand(s.loc, { ...s.client, dbname: s.scratch });
  const restore = pgRestoreCommand(s.loc, sh`--no-owner --no-acl --exit-on-error -d ${s.scratch} ${connArgs(s.loc)}`, s.client);
  return sh`${s.env}
drop_scratch() { echo ${`DROP DATABASE IF EXISTS ${sqlIdent(s.scratch)};`} | ${admin} >/dev/null 2>&1 || true; }
trap drop_scratch EXIT
echo ${`CREATE DATABASE ${sqlIdent(s.scratch)};`} | ${admin}
${restore} ${s.file ? sh`< ${s.file}` : new Shell("")}
echo ${COUNT_ALL_SQL} | ${scratch}`;
}

export function connArgs(loc: PgLocation): Shell {
  return sh`${loc.host ? sh`-h ${loc.host}` : new Shell("")} ${loc.port ? sh`-p ${loc.port}` : new Shell("")} -U ${loc.user}`;
}

/**
 * SQLite online backup (the backup API: consistent while the application writes), checked. The
 * busy timeout lets it wait out a writer's lock instead of failing with "database is locked".
 */
export function sqliteBackupScript(s: { sqlite3: string; db: string; dir: string; id: string; sudo: boolean; tables: string[] }): Shell {
  const counts = s.tables.map((t) => sh`echo ${COUNT_MARK} ${t} "$(${s.sqlite3} "$tmp" ${`SELECT count(*) FROM "${t.replace(/"/g, '""')}";`})"`);
  return sh`${s.sudo ? sh`sudo -n install -d -m 0750 -o "$(id -un)" ${s.dir}` : sh`mkdir -p ${s.dir}`}
test -f ${s.db} || { echo 'SQLite database' ${s.db} 'does not exist' >&2; exit 1; }
tmp=${s.dir}/.${s.id}.partial
trap 'rm -f "$tmp"' EXIT
(umask 077; ${s.sqlite3} ${s.db} ${".timeout 30000"} ${`.backup ${sqliteDotArg(`${s.dir}/.${s.id}.partial`)}`})
check=$(${s.sqlite3} "$tmp" 'PRAGMA integrity_check;')
[ "$check" = ok ] || { echo "integrity_check of the backup failed: $check" >&2; exit 1; }
${counts.length ? counts.reduce((a, b) => sh`${a}\n${b}`) : new Shell(":")}
echo ${INFO_MARK} sha256 "$(sha256sum "$tmp" | cut -d' ' -f1)"
echo ${INFO_MARK} size "$(stat -c %s "$tmp")"
mv -f -- "$tmp" ${`${s.dir}/${s.id}.sqlite3`}
trap - EXIT`;
}

/**
 * An argument of a sqlite3 dot-command (`.backup FILE`) as the sqlite3 shell parses it: in double
 * quotes, where \\ and \" are escapes (a ' in a single-quoted argument would end it).
 */
export function sqliteDotArg(value: string): string {
  if (value.includes("\0")) throw new Error("a sqlite3 dot-command argument cannot contain a NUL byte");
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`;
}

/**
 * Run `body`, removing `file` when the script exits however it ends. The path goes in through a
 * variable: the trap's own text stays a fixed string (a value pasted into it would be parsed again).
 * `body` runs in a subshell, so an EXIT trap of its own (pgRestoreVerifyScript's) does not replace this one.
 */
export function removeOnExit(file: string, body: Shell): Shell {
  return sh`slipway_remove_on_exit=${file}
trap 'rm -f -- "$slipway_remove_on_exit"' EXIT
(
${body}
)`;
}

/** Keep the newest `keep` backups (and those younger than keepDays); never the newest verified one. */
export function retentionScript(s: { dir: string; keep: number; keepDays?: number }): Shell {
  return sh`cd ${s.dir} 2>/dev/null || exit 0
find . -maxdepth 1 -name '.*.partial' -mmin +1440 -delete
newest_verified=$(grep -l '"verified": *true' -- *.json 2>/dev/null | sort -r | head -n1 || true)
n=0
for meta in $(ls -1 -- *.json 2>/dev/null | sort -r); do
  n=$((n + 1))
  [ "$meta" = "$newest_verified" ] && continue
  [ "$n" -le ${s.keep} ] && continue
  ${s.keepDays ? sh`[ -n "$(find "$meta" -mtime -${s.keepDays})" ] && continue` : new Shell(":")}
  base=\${meta%.json}
  rm -f -- "$base.dump" "$base.sqlite3" "$meta"
  echo "removed backup $base"
done`;
}
