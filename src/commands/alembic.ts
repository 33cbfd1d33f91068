// alembic (seed 003) on the host, in the release's directory and environment, under the same
// advisory lock as SQL migrations: a psql coprocess holds it while alembic runs.
import { INFO_MARK } from "./backup.js";
import { acquireLockSql, psqlCommand, type ClientOptions, type PgLocation } from "./postgres.js";
import { sh, Shell } from "./quote.js";

export interface AlembicScript {
  loc: PgLocation;
  /** exports PGAPPNAME/PGPASSWORD for psql */
  pgEnv: Shell;
  client: ClientOptions;
  /** the release directory (<deploy-to>/current) */
  cwd: string;
  /** the service's environment (values may be secrets: this script travels on stdin) */
  env: Record<string, string>;
  /** the alembic command words, e.g. ["alembic"] or ["venv/bin/alembic"] */
  alembic: string[];
  table: string;
  lockTimeoutSec: number;
  dryRun: boolean;
}

export function alembicScript(s: AlembicScript): Shell {
  const exports = Object.entries(s.env).map(([k, v]) => sh`export ${k}=${v}`);
  const alembic = sh`${s.alembic}`;
  const state = sh`current=$(${alembic} current 2>/dev/null | awk '{print $1}' | sort | xargs)
heads=$(${alembic} heads 2>/dev/null | awk '{print $1}' | sort | xargs)
echo ${INFO_MARK} current "\${current:-none}"
echo ${INFO_MARK} heads "\${heads:-none}"`;
  if (s.dryRun) return sh`cd ${s.cwd}\n${exports.length ? exports.reduce((a, b) => sh`${a}\n${b}`) : new Shell(":")}\n${state}`;
  return sh`${s.pgEnv}
cd ${s.cwd}
${exports.length ? exports.reduce((a, b) => sh`${a}\n${b}`) : new Shell(":")}
coproc LOCK { ${psqlCommand(s.loc, s.client)}; }
printf '%s\\n' ${acquireLockSql(s.table, s.lockTimeoutSec)} '\\echo slipway:locked' >&"\${LOCK[1]}"
if ! read -r locked <&"\${LOCK[0]}" || [ "$locked" != slipway:locked ]; then
  echo "could not take the migration lock (see the error above)" >&2
  exit 1
fi
${alembic} upgrade head
${state}
if [ "$current" != "$heads" ]; then
  echo "after alembic upgrade head, alembic current ($current) differs from alembic heads ($heads)" >&2
  exit 1
fi
printf '%s\\n' '\\q' >&"\${LOCK[1]}"
wait "$LOCK_PID" || true`;
}
