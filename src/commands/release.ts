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

/** The commit in a release id (20261123T114501123Z-1a2b3c4), or undefined (a manual release). */
export const releaseCommit = (releaseId: string): string | undefined => /-([0-9a-f]{7,40})$/.exec(releaseId)?.[1];

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
 * Bash functions of the lock: the SSH connection this script runs in (its sshd session process:
 * pid and start time, which die with the connection — a runner killed or lost), the host's boot id,
 * and whether an owner record names a holder that is gone: the host rebooted since, or neither the
 * connection's session nor the script that took the lock still runs (`kill -0` says "No such
 * process", also where /proc hides other users' processes; a reused pid has another start time).
 */
const lockFunctions = new Shell(`slipway_stat() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f"$2"; }
slipway_boot_id() { local b; b=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) || return 0; case $b in *[!0-9a-f-]*) ;; *) echo "$b" ;; esac; }
slipway_session() {
  local pid=$$ comm
  while [ "$pid" -gt 1 ] 2>/dev/null; do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 0
    case $comm in sshd | sshd-session) echo "$pid $(slipway_stat "$pid" 20)"; return 0 ;; esac
    pid=$(slipway_stat "$pid" 2)
  done
}
slipway_alive() {
  local pid=$1 start=$2 err
  if ! err=$(kill -0 "$pid" 2>&1); then case $err in *"No such process"*) return 1 ;; esac; fi
  if [ -n "$start" ] && [ -r "/proc/$pid/stat" ] && [ "$(slipway_stat "$pid" 20)" != "$start" ]; then return 1; fi
  return 0
}
slipway_holder_gone() {
  local f=$1 pid start spid sstart boot
  boot=$(sed -n 's/.*"boot":"\\([0-9a-f-]*\\)".*/\\1/p' "$f" 2>/dev/null)
  if [ -n "$boot" ] && [ "$boot" != "$(slipway_boot_id)" ]; then echo "the host rebooted since"; return 0; fi
  pid=$(sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p' "$f" 2>/dev/null)
  start=$(sed -n 's/.*"start":\\([0-9]*\\).*/\\1/p' "$f" 2>/dev/null)
  spid=$(sed -n 's/.*"script":\\([0-9]*\\).*/\\1/p' "$f" 2>/dev/null)
  sstart=$(sed -n 's/.*"scriptStart":\\([0-9]*\\).*/\\1/p' "$f" 2>/dev/null)
  [ -n "$pid" ] || return 1
  # held while its connection or the script that took it still runs (a script outlives a lost connection until its next output)
  if slipway_alive "$pid" "$start" || { [ -n "$spid" ] && slipway_alive "$spid" "$sstart"; }; then return 1; fi
  echo "its ssh session (pid $pid) and script are gone"
}
slipway_disk_hint() { case $1 in *"No space left"*) echo " (disk full on $(df -P -- "$2" 2>/dev/null | awk 'NR == 2 { print $6 }'): free space there, then re-run)" ;; esac; }`);

/**
 * Make <deploy-to> (owned by the login user), take the deploy lock (atomic mkdir) and print the
 * live release. The owner record is written whole or not at all (a temporary file renamed into the
 * lock); when it cannot be written (a full disk) the lock is removed again and the script says why.
 * It records the holder: the SSH connection's session process and the boot id. A lock whose holder
 * is gone is taken over at once (and said so); one past its expiry too; an owner record that cannot
 * be read counts as held until the lock directory is older than the expiry. A live lock is waited
 * for up to waitSec on the host (no round trip per attempt), then the script exits 75 printing its owner.
 */
export function prepareAndLockScript(p: ReleasePaths, o: { sudo: boolean; owner: LockOwner; waitSec?: number }): Shell {
  const prefix = JSON.stringify(o.owner).replace(/\}$/, "");
  const ownerFile = `${p.lock}/owner.json`;
  const expiryMin = Math.max(1, Math.ceil((Date.parse(o.owner.expires) - Date.parse(o.owner.since)) / 60_000) || 30);
  const sameRun = /\/actions\/runs\/\d+ /.test(o.owner.run) ? sh`grep -qF ${`"run":${JSON.stringify(o.owner.run)}`} ${ownerFile} 2>/dev/null` : sh`false`;
  const takeOver = sh`if mv -T ${p.lock} ${`${p.lock}.expired`}."$$" 2>/dev/null; then rm -rf ${`${p.lock}.expired`}."$$"; fi`;
  return sh`${lockFunctions}
if [ ! -d ${p.deployTo} ]; then ${priv(o.sudo, sh`mkdir -p ${p.deployTo}`)}; ${o.sudo ? sh`sudo -n chown "$(id -un)" ${p.deployTo}` : sh`:`}; fi
test -w ${p.deployTo} || { echo "cannot write to" ${p.deployTo} "as $(id -un)" >&2; exit 1; }
if ! slipway_err=$(mkdir -p ${p.releases} ${p.shared} ${p.meta} 2>&1); then echo "$slipway_err$(slipway_disk_hint "$slipway_err" ${p.deployTo})" >&2; exit 1; fi
# waited in whole seconds slept (SECONDS ticks on wall-clock seconds: a check could come up to 1 s early)
slipway_waited=0
until slipway_err=$(mkdir ${p.lock} 2>&1); do
  if [ ! -d ${p.lock} ]; then echo "cannot take the deploy lock" ${p.lock}": $slipway_err$(slipway_disk_hint "$slipway_err" ${p.deployTo})" >&2; exit 1; fi
  expires=$(sed -n 's/.*"expires":"\\([^"]*\\)".*/\\1/p' ${ownerFile} 2>/dev/null || true)
  if [ -z "$expires" ]; then
    # no readable owner: held (a record being written, or one a crash cut) until the lock is older than the expiry
    slipway_locked_at=$(stat -c %Y -- ${p.lock} 2>/dev/null || date +%s)
    if [ $(( $(date +%s) - slipway_locked_at )) -gt ${expiryMin * 60} ]; then
      echo "slipway:lock-expired (owner unreadable, locked since $(date -u -r ${p.lock} +%Y-%m-%dT%H:%M:%SZ))"
      ${takeOver}
      continue
    fi
  elif [ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \\> "$expires" ]; then
    echo "slipway:lock-expired $(cat ${ownerFile} 2>/dev/null)"
    # renamed first: of two runs taking over the same lock, only one can move it away
    ${takeOver}
    continue
  elif ${sameRun}; then
    # a re-run of the same workflow run: its earlier attempt died holding the lock (runs attempts one at a time)
    echo "slipway:lock-expired (an earlier attempt of this run) $(cat ${ownerFile})"
    break
  elif slipway_gone=$(slipway_holder_gone ${ownerFile}); then
    echo "slipway:lock-dead $slipway_gone: $(cat ${ownerFile} 2>/dev/null)"
    ${takeOver}
    continue
  fi
  if [ $slipway_waited -ge ${Math.max(0, Math.ceil(o.waitSec ?? 0))} ]; then
    echo "slipway:lock-held $(cat ${ownerFile} 2>/dev/null || true)"
    exit ${LOCK_HELD_EXIT}
  fi
  if [ -z "\${lock_waiting:-}" ]; then lock_waiting=1; echo "slipway:lock-waiting $(cat ${ownerFile} 2>/dev/null || true)"; fi
  sleep 1
  slipway_waited=$((slipway_waited + 1))
done
slipway_owner=${prefix}
slipway_sess=$(slipway_session); slipway_spid=\${slipway_sess%% *}; slipway_sstart=\${slipway_sess#* }
if [ -n "$slipway_sess" ]; then slipway_owner+=",\\"pid\\":$slipway_spid,\\"start\\":$slipway_sstart,\\"script\\":$$,\\"scriptStart\\":$(slipway_stat $$ 20)"; fi
slipway_boot=$(slipway_boot_id)
if [ -n "$slipway_boot" ]; then slipway_owner+=",\\"boot\\":\\"$slipway_boot\\""; fi
if ! slipway_err=$({ printf '%s}\\n' "$slipway_owner" > ${`${ownerFile}.tmp`} && mv -f ${`${ownerFile}.tmp`} ${ownerFile}; } 2>&1); then
  rm -rf ${p.lock}
  echo "cannot record the deploy lock's owner in" ${p.lock}": $slipway_err$(slipway_disk_hint "$slipway_err" ${p.deployTo}); the lock was removed again" >&2
  exit 1
fi
if [ -e ${p.release} ]; then rm -rf ${p.lock}; echo 'release directory' ${p.release} 'already exists; refusing to overwrite it' >&2; exit 1; fi
slipway_previous=$(basename "$(readlink ${p.current} 2>/dev/null || true)")
echo "slipway:current $slipway_previous"`;
}

/** Print the lock's state for lockHolder(): whether the lock directory exists, and its owner record. */
export function lockStatusScript(p: ReleasePaths): Shell {
  return sh`if [ -d ${p.lock} ]; then echo "slipway:lock-dir held since $(date -u -r ${p.lock} +%Y-%m-%dT%H:%M:%SZ)"; echo "slipway:lock $(head -c 4000 ${`${p.lock}/owner.json`} 2>/dev/null | tr -d '\\n' || true)"; fi`;
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
