// The scripts verify-health runs on a host: one short, read-only script per probe. Every value
// (URL, unit, glob, path, query) goes in through sh``; the output is marked lines that
// src/operations/health.ts parses. None of them changes anything on the host.
import { priv } from "./release.js";
import { sh, Shell } from "./quote.js";

/** A configured command ("docker", "/usr/local/bin/docker-compose", "/usr/local/bin/docker compose") as words. */
export const commandWords = (configured: string | undefined, fallback: string): string[] => (configured ?? fallback).trim().split(/\s+/).filter(Boolean);

/** Seconds for `timeout`/`curl --max-time`: decimals allowed, never 0 (which means "no limit"). */
export const seconds = (ms: number): string => String(Math.max(0.1, Math.round(ms / 100) / 10));

export const HTTP_STATUS_MARK = "slipway-http-status:";

/** curl from the host: the body, then a marker line with the status code; curl's own errors on stderr. */
export function curlScript(url: string, timeoutMs: number): Shell {
  return sh`curl -sS -L --max-time ${seconds(timeoutMs)} -H ${"User-Agent: slipway verify-health"} -w ${`\\n${HTTP_STATUS_MARK}%{http_code}`} -- ${url}`;
}

/** A TCP connect from the host with bash's /dev/tcp (no nc needed), bounded by `timeout`. */
export function tcpScript(address: string, port: number, timeoutMs: number): Shell {
  return sh`if out=$(timeout ${seconds(timeoutMs)} bash --norc --noprofile -c ${'exec 3<>"/dev/tcp/$1/$2"'} slipway-tcp ${address} ${port} 2>&1); then
  echo slipway:open
else
  rc=$?
  echo "slipway:closed $rc $(printf '%s' "$out" | tail -n 1)"
fi`;
}

/** The user's command, run by bash (without our strict mode), as the login user. */
export function commandScript(command: string): Shell {
  return sh`cd ~ 2>/dev/null || true
exec bash --norc --noprofile -c ${command} 2>&1`;
}

export function systemdShowScript(o: { systemctl: string[]; unit: string }): Shell {
  return sh`${o.systemctl} show -p LoadState -p ActiveState -p SubState -p NRestarts -p MainPID -p Result -- ${o.unit}`;
}

export function journalTailScript(o: { unit: string; sudo: boolean; lines?: number }): Shell {
  return sh`${priv(o.sudo, sh`journalctl -u ${o.unit} -n ${o.lines ?? 15} --no-pager -o cat`)} 2>&1 || true`;
}

/** supervisorctl status of a program, group (`group:*`) or everything; exit codes are ignored (parsed instead). */
export function supervisorStatusScript(o: { supervisorctl: string[]; config?: string; sudo: boolean; target: string }): Shell {
  const conf = o.config ? sh`-c ${o.config}` : new Shell("");
  return sh`${priv(o.sudo, sh`${o.supervisorctl} ${conf} status ${o.target}`)} 2>&1 || true`;
}

/**
 * The containers of a compose service (by the labels compose puts on them), inspected as JSON.
 * With several candidate projects, each is asked; none found prints a marker line.
 */
export function composeInspectScript(o: { docker: string[]; sudo: boolean; service: string; projects: string[] }): Shell {
  const docker = (args: Shell) => priv(o.sudo, sh`${o.docker} ${args}`);
  const label = (k: string, v: string) => sh`--filter ${`label=com.docker.compose.${k}=${v}`}`;
  const lists = o.projects.length
    ? o.projects.map((p) => docker(sh`ps -aq --no-trunc ${label("service", o.service)} ${label("project", p)}`))
    : [docker(sh`ps -aq --no-trunc ${label("service", o.service)}`)];
  return sh`ids=$( { ${new Shell(lists.map((l) => l.text).join("; "))}; } | sort -u)
if [ -z "$ids" ]; then echo slipway:no-container; exit 0; fi
${docker(sh`inspect`)} $ids`;
}

export function composeLogsScript(o: { docker: string[]; sudo: boolean; container: string; lines?: number }): Shell {
  return sh`${priv(o.sudo, sh`${o.docker} logs --tail ${o.lines ?? 15} -- ${o.container}`)} 2>&1 || true`;
}

/**
 * Files matching a glob on the host with their modification times and the host's clock. The glob
 * is expanded by bash from an unquoted variable: pathname expansion only (no command substitution,
 * no word splitting with IFS empty).
 */
export function fileTimesScript(glob: string): Shell {
  return sh`pattern=${glob}
echo "slipway:now $(date +%s)"
IFS=
shopt -s nullglob
files=( $pattern )
for f in "\${files[@]}"; do
  if [ -e "$f" ] || [ -L "$f" ]; then printf 'slipway:file %s %s\\n' "$(stat -c %Y -- "$f")" "$f"; fi
done`;
}

/** Whether a path exists; "unknown" (with stat's message) when a directory on the way cannot be searched. */
export function pathStatusScript(path: string): Shell {
  return sh`if out=$(LC_ALL=C stat -c '%y, %s bytes, owner %U' -- ${path} 2>&1); then
  echo "slipway:present $out"
else
  case "$out" in
    *"No such file or directory"*|*"Not a directory"*) echo slipway:absent ;;
    *) echo "slipway:unknown $out" ;;
  esac
fi`;
}

/**
 * A unit's memory: systemd's MemoryCurrent, else the cgroup's own counter (v2 memory.current, v1
 * memory.usage_in_bytes), else the RSS sum of the unit's processes (when accounting is off).
 */
export function memoryScript(o: { systemctl: string[]; unit: string }): Shell {
  const show = (prop: string) => sh`${o.systemctl} show -p ${prop} --value -- ${o.unit}`;
  return sh`echo "slipway:state $(${show("LoadState")}) $(${show("ActiveState")})"
echo "slipway:current $(${show("MemoryCurrent")})"
cg=$(${show("ControlGroup")})
if [ -n "$cg" ]; then
  for f in "/sys/fs/cgroup$cg/memory.current" "/sys/fs/cgroup/memory$cg/memory.usage_in_bytes"; do
    if [ -r "$f" ]; then echo "slipway:cgroup $(cat "$f")"; break; fi
  done
  procs=""
  for f in "/sys/fs/cgroup$cg/cgroup.procs" "/sys/fs/cgroup/systemd$cg/cgroup.procs"; do
    if [ -r "$f" ]; then procs=$(paste -sd, "$f"); break; fi
  done
  if [ -n "$procs" ]; then
    echo "slipway:rss $(ps -o rss= -p "$procs" | awk '{ s += $1 } END { printf "%.0f", s * 1024 }') $(printf '%s\\n' "$procs" | tr , '\\n' | wc -l)"
  fi
fi`;
}

/** One read-only query on a SQLite file; the first column of the first row is the result. */
export function sqliteQueryScript(o: { sqlite3: string[]; path: string; query: string; timeoutMs: number }): Shell {
  // validate refuses it first; never let the query become a dot-command (.shell)
  if (o.query.startsWith(".")) throw new Error("an sqlite sql check cannot start with '.' (sqlite3 would run it as a dot-command)");
  return sh`test -r ${o.path} || { echo 'cannot read' ${o.path} "as $(id -un)" >&2; exit 1; }
${o.sqlite3} -readonly -batch -noheader -list -cmd ${`.timeout ${Math.max(100, Math.round(o.timeoutMs))}`} ${o.path} ${o.query}`;
}
