// The release model, as scripts: <deploy-to>/releases/<id>, shared paths linked into each
// release, `current` switched by an atomic rename, a per-host deploy lock (mkdir) and a ledger
// (JSON lines) under <deploy-to>/_slipway. Shared by systemd, supervisor and compose deploys.
import { sh, Shell, type ShellValue } from "./quote.js";

export interface ReleasePaths {
  deployTo: string;
  releases: string;
  release: string;
  current: string;
  shared: string;
  meta: string; // <deploy-to>/_slipway (no leading dot: sudoers rules refuse dot-paths)
  lock: string;
  ledger: string;
}

export function releasePaths(deployTo: string, releaseId: string): ReleasePaths {
  const d = deployTo.replace(/\/+$/, "");
  return {
    deployTo: d,
    releases: `${d}/releases`,
    release: `${d}/releases/${releaseId}`,
    current: `${d}/current`,
    shared: `${d}/shared`,
    meta: `${d}/_slipway`,
    lock: `${d}/_slipway/lock`,
    ledger: `${d}/_slipway/ledger.jsonl`,
  };
}

/** `sudo -n CMD` when the login user needs it for privileged commands, else CMD. */
export const priv = (sudo: boolean, cmd: ShellValue): Shell => (sudo ? sh`sudo -n ${cmd}` : sh`${cmd}`);

export const LOCK_HELD_EXIT = 75;

export interface LockOwner {
  run: string;
  actor: string;
  sha: string;
  host: string;
  since: string;
  expires: string;
}

/**
 * Make <deploy-to> (owned by the login user), take the deploy lock (atomic mkdir) and print the
 * live release. A lock past its expiry is taken over (and said so); a live one is waited for up to
 * waitSec on the host (no round trip per attempt), then the script exits 75 printing its owner.
 */
export function prepareAndLockScript(p: ReleasePaths, o: { sudo: boolean; owner: LockOwner; waitSec?: number }): Shell {
  const owner = JSON.stringify(o.owner);
  const ownerFile = `${p.lock}/owner.json`;
  const sameRun = /\/actions\/runs\/\d+ /.test(o.owner.run) ? sh`grep -qF ${`"run":${JSON.stringify(o.owner.run)}`} ${ownerFile} 2>/dev/null` : sh`false`;
  return sh`if [ ! -d ${p.deployTo} ]; then ${priv(o.sudo, sh`mkdir -p ${p.deployTo}`)}; ${o.sudo ? sh`sudo -n chown "$(id -un)" ${p.deployTo}` : sh`:`}; fi
test -w ${p.deployTo} || { echo "cannot write to" ${p.deployTo} "as $(id -un)" >&2; exit 1; }
mkdir -p ${p.releases} ${p.shared} ${p.meta}
lock_until=$((SECONDS + ${Math.max(0, Math.ceil(o.waitSec ?? 0))}))
until mkdir ${p.lock} 2>/dev/null; do
  expires=$(sed -n 's/.*"expires":"\\([^"]*\\)".*/\\1/p' ${ownerFile} 2>/dev/null || true)
  if [ -n "$expires" ] && [ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \\> "$expires" ]; then
    echo "slipway:lock-expired $(cat ${ownerFile} 2>/dev/null)"
    # renamed first: of two runs taking over the same expired lock, only one can move it away
    if mv -T ${p.lock} ${`${p.lock}.expired`}."$$" 2>/dev/null; then rm -rf ${`${p.lock}.expired`}."$$"; fi
  elif ${sameRun}; then
    # a re-run of the same workflow run: its earlier attempt died holding the lock (runs attempts one at a time)
    echo "slipway:lock-expired (an earlier attempt of this run) $(cat ${ownerFile})"
    break
  elif [ $SECONDS -ge $lock_until ]; then
    echo "slipway:lock-held $(cat ${ownerFile} 2>/dev/null || echo '{}')"
    exit ${LOCK_HELD_EXIT}
  else
    if [ -z "\${lock_waiting:-}" ]; then lock_waiting=1; echo "slipway:lock-waiting $(cat ${ownerFile} 2>/dev/null || echo '{}')"; fi
    sleep 1
  fi
done
printf '%s\\n' ${owner} > ${ownerFile}
if [ -e ${p.release} ]; then rm -rf ${p.lock}; echo 'release directory' ${p.release} 'already exists; refusing to overwrite it' >&2; exit 1; fi
slipway_previous=$(basename "$(readlink ${p.current} 2>/dev/null || true)")
echo "slipway:current $slipway_previous"`;
}

/** Release the lock only if this run holds it. */
export function releaseLockScript(p: ReleasePaths, run: string): Shell {
  return sh`if grep -qF ${`"run":${JSON.stringify(run)}`} ${`${p.lock}/owner.json`} 2>/dev/null; then rm -rf ${p.lock}; fi`;
}

/** Link <deploy-to>/shared/<path> into the release (replacing what the artifact had there). */
export function linkSharedScript(p: ReleasePaths, shared: string[], owner?: string): Shell {
  const lines = shared.map((s) => {
    const target = `${p.shared}/${s}`;
    const link = `${p.release}/${s}`;
    return sh`mkdir -p ${target} "$(dirname ${link})"
rm -rf ${link}
ln -s ${target} ${link}${owner ? sh`\nsudo -n chown ${owner} ${target}` : new Shell("")}`;
  });
  return lines.length ? lines.reduce((a, b) => sh`${a}\n${b}`) : sh`:`;
}

/** Point `current` at a release atomically: a new symlink under a temporary name, then mv -T. */
export function switchCurrentScript(p: ReleasePaths, releaseId: string): Shell {
  return sh`ln -sfn -- ${`releases/${releaseId}`} ${`${p.deployTo}/.current.tmp`}
mv -T -- ${`${p.deployTo}/.current.tmp`} ${p.current}`;
}

/** Keep the newest `keep` releases; never the current one or the previous one named (a word: an id or "$var"). */
export function pruneReleasesScript(p: ReleasePaths, keep: number, previous: string | Shell | undefined): Shell {
  return sh`cur=$(basename "$(readlink ${p.current} 2>/dev/null || true)")
n=0
for r in $(ls -1 ${p.releases} | sort -r); do
  n=$((n + 1))
  [ "$n" -le ${keep} ] && continue
  [ "$r" = "$cur" ] && continue
  [ "$r" = ${previous ?? ""} ] && continue
  rm -rf -- ${p.releases}/"$r"
  echo "slipway:pruned $r"
done`;
}

export function appendLedgerScript(p: ReleasePaths, entry: object): Shell {
  return sh`printf '%s\\n' ${JSON.stringify(entry)} >> ${p.ledger}`;
}

export function readLedgerScript(p: ReleasePaths, lines = 50): Shell {
  return sh`tail -n ${lines} ${p.ledger} 2>/dev/null || true`;
}

/** The release's environment as a systemd EnvironmentFile (0600, readable by the service user). */
export function envFileText(env: Record<string, string>): string {
  return (
    Object.entries(env)
      .map(([k, v]) => {
        if (/[\n\r\0]/.test(v)) throw new Error(`environment value ${k} contains a newline, carriage return or NUL, which an EnvironmentFile cannot hold`);
        return `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\$/g, "\\$")}"`;
      })
      .join("\n") + "\n"
  );
}

/** Where a streamed release lands before it is checked and unpacked (outside releases/: never mistaken for one). */
export const uploadPath = (p: ReleasePaths) => `${p.meta}/upload-${p.release.slice(p.releases.length + 1)}.tar`;

/**
 * Receive the release streamed on fd 3 right after the script: exactly `size` bytes, checked
 * against the runner's SHA-256 before anything is unpacked, then unpacked into the release dir.
 * Leftovers of a dead deploy's upload go first (the lock is held: nobody else is uploading).
 */
export function receiveReleaseScript(p: ReleasePaths, a: { size: number; sha256: string; gzip: boolean }): Shell {
  const tmp = uploadPath(p);
  const fail = (why: string) => sh`rm -f ${tmp}; echo ${`upload of release ${p.release} ${why}`} >&2; exit 1`;
  return sh`rm -f ${p.meta}/upload-*.tar
(umask 077; head -c ${a.size} <&3 > ${tmp})
got=$(stat -c %s ${tmp})
if [ "$got" != ${a.size} ]; then ${fail(`incomplete: the runner sent ${a.size} bytes, fewer arrived`)}; fi
if [ "$(sha256sum ${tmp} | cut -d' ' -f1)" != ${a.sha256} ]; then ${fail(`corrupted: its SHA-256 is not the runner's ${a.sha256}`)}; fi
mkdir -p ${p.release}
tar --no-same-owner -x${a.gzip ? "z" : ""}f ${tmp} -C ${p.release}
rm -f ${tmp}`;
}

/** A value of a ledger line that only the host knows: the name of a script variable holding it. */
export type HostValue = { string: string } | { bool: string } | { strings: string };

/**
 * Append a ledger line: `entry` (known on the runner) plus `fromHost` fields read from the
 * script's variables when it runs, JSON-escaped by the host (so a deploy needs no extra round
 * trip for its bookkeeping). An unset or empty variable leaves its field out.
 */
export function appendHostLedgerScript(p: ReleasePaths, entry: object, fromHost: Record<string, HostValue>): Shell {
  const prefix = JSON.stringify(entry).replace(/\}$/, "");
  const v = (name: string) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a script variable name: ${name}`);
    return new Shell(name);
  };
  const fields = Object.entries(fromHost).map(([key, hv]) => {
    const k = `,${JSON.stringify(key)}:`;
    if ("string" in hv) return sh`if [ -n "\${${v(hv.string)}:-}" ]; then line+=${k}$(json_str "$${v(hv.string)}"); fi`;
    if ("bool" in hv) return sh`if [ -n "\${${v(hv.bool)}:-}" ]; then line+=${k}; if [ "$${v(hv.bool)}" = 1 ]; then line+=true; else line+=false; fi; fi`;
    return sh`if [ -n "\${${v(hv.strings)}[*]:-}" ]; then sep=; line+=${k}[; for x in "\${${v(hv.strings)}[@]}"; do line+=$sep$(json_str "$x"); sep=,; done; line+=]; fi`;
  });
  return sh`json_str() {
  local LC_ALL=C s=$1 out= c i
  for ((i = 0; i < \${#s}; i++)); do
    c=\${s:i:1}
    case $c in
      '"' | '\\') out+="\\\\$c" ;;
      [[:cntrl:]]) out+=$(printf '\\\\u%04x' "'$c") ;;
      *) out+=$c ;;
    esac
  done
  printf '"%s"' "$out"
}
line=${prefix}
${fields.length ? fields.reduce((a, b) => sh`${a}\n${b}`) : sh`:`}
printf '%s}\\n' "$line" >> ${p.ledger}`;
}
