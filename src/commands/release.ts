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
 * live release. A lock past its expiry is taken over (and said so); a live one exits 75 and
 * prints its owner.
 */
export function prepareAndLockScript(p: ReleasePaths, o: { sudo: boolean; owner: LockOwner }): Shell {
  const owner = JSON.stringify(o.owner);
  return sh`if [ ! -d ${p.deployTo} ]; then ${priv(o.sudo, sh`mkdir -p ${p.deployTo}`)}; ${o.sudo ? sh`sudo -n chown "$(id -un)" ${p.deployTo}` : sh`:`}; fi
test -w ${p.deployTo} || { echo "cannot write to" ${p.deployTo} "as $(id -un)" >&2; exit 1; }
mkdir -p ${p.releases} ${p.shared} ${p.meta}
if ! mkdir ${p.lock} 2>/dev/null; then
  expires=$(sed -n 's/.*"expires":"\\([^"]*\\)".*/\\1/p' ${`${p.lock}/owner.json`} 2>/dev/null || true)
  if [ -n "$expires" ] && [ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \\> "$expires" ]; then
    echo "slipway:lock-expired $(cat ${`${p.lock}/owner.json`})"
    rm -rf ${p.lock}
    mkdir ${p.lock}
  elif ${/\/actions\/runs\/\d+ /.test(o.owner.run) ? sh`grep -qF ${`"run":${JSON.stringify(o.owner.run)}`} ${`${p.lock}/owner.json`} 2>/dev/null` : sh`false`}; then
    # a re-run of the same workflow run: its earlier attempt died holding the lock (runs attempts one at a time)
    echo "slipway:lock-expired (an earlier attempt of this run) $(cat ${`${p.lock}/owner.json`})"
  else
    echo "slipway:lock-held $(cat ${`${p.lock}/owner.json`} 2>/dev/null || echo '{}')"
    exit ${LOCK_HELD_EXIT}
  fi
fi
printf '%s\\n' ${owner} > ${`${p.lock}/owner.json`}
if [ -e ${p.release} ]; then rm -rf ${p.lock}; echo "release directory ${p.release} already exists; refusing to overwrite it" >&2; exit 1; fi
echo "slipway:current $(basename "$(readlink ${p.current} 2>/dev/null || true)")"`;
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
  return sh`ln -sfn ${`releases/${releaseId}`} ${`${p.deployTo}/.current.tmp`}
mv -T ${`${p.deployTo}/.current.tmp`} ${p.current}`;
}

/** Keep the newest `keep` releases; never the current one or the previous one named. */
export function pruneReleasesScript(p: ReleasePaths, keep: number, previous: string | undefined): Shell {
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
        if (/[\n\r\0]/.test(v)) throw new Error(`environment value ${k} contains a newline, which an EnvironmentFile cannot hold`);
        return `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\$/g, "\\$")}"`;
      })
      .join("\n") + "\n"
  );
}
