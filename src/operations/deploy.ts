// deploy-systemd and deploy-supervisor on one host, in one remote script with the release streamed
// behind it: lock, receive and check the release, stage and verify its unit, switch `current`,
// restart and wait until stable, record it in the ledger. If the new release does not stay up, the
// previous release (its files and its unit) is put back and restarted: a deploy leaves either the
// new release running or the old one, never a stopped service. (Compose shares the lock and ledger.)
import { existsSync, statSync } from "node:fs";
import { withHeredoc } from "../commands/postgres.js";
import { sh, Shell } from "../commands/quote.js";
import {
  envFileText, LOCK_HELD_EXIT, linkSharedScript, lockStatusScript, prepareAndLockScript, priv, pruneReleasesScript,
  receiveReleaseScript, releaseLockScript, releasePaths, switchCurrentScript, uploadPath, type LockOwner, type ReleasePaths,
} from "../commands/release.js";
import { groupName, installProgramsScript, renderPrograms, restartGroupAndWaitScript, supervisorctl } from "../commands/supervisor.js";
import { installedUnitPath, installLogrotateScript, logrotateText, removeCronScript, renderTimer, renderUnit, restartAndWaitScript, STAGED, timerName, unitName, verifyAndInstallUnitScript } from "../commands/systemd.js";
import type { Service } from "../config/schema.js";
import { appendHostLedgerScript, appendLedgerScript, parseLedger, readLedgerScript, type AppliedMigrationRecord, type DamagedLine, type LedgerEntry } from "../ledger/ledger.js";
import type { Remote, RunResult } from "../remote/connection.js";
import type { Artifact } from "./artifact.js";
import { RemoteCommandError } from "../remote/errors.js";
import type { Log } from "../report/log.js";

type SystemdService = Extract<Service, { kind: "systemd" }>;
type SupervisorService = Extract<Service, { kind: "supervisor" }>;

/** What differs between systemd and supervisor; the release model around it is shared. */
export interface ServiceDriver {
  /** "web.service", "supervisor group trading" */
  label: string;
  /** the config file the driver stages (its hash goes into the ledger) */
  configFile: string;
  /** write the service config into the staged dir, verify it, install it if changed (prints slipway:unit changed|unchanged) */
  stage(staged: string): Shell;
  /** restart (or reload) and wait until stable; runs in the same script as stage() */
  activate(): Shell;
  /** put the previous release's config back (from its staged dir) and restart it */
  restore(previousStaged: string): Shell;
  /** no previous release to return to: stop the failed one */
  stop(): Shell;
}

export interface DeployRequest {
  serviceName: string;
  service: SystemdService | SupervisorService;
  driver: ServiceDriver;
  /** a directory or a .tar.gz on the runner */
  source: string;
  releaseId: string;
  sha: string;
  /** the release's environment, secrets resolved (written 0600 for the service user) */
  env: Record<string, string>;
  owner: Omit<LockOwner, "host">;
  /** recorded in the ledger: the backup and migration head this release was deployed with */
  notes?: { backupId?: string; migrationHead?: string; migrations?: AppliedMigrationRecord[] };
  keep: number;
  lockWaitMs: number;
  sudo: boolean;
  log: Log;
}

export interface StepTiming {
  step: string;
  ms: number;
  /** wall-clock start (epoch ms), for the summary's timeline */
  startMs: number;
}

export interface HostDeployResult {
  host: string;
  releaseId: string;
  previous?: string;
  changed: boolean;
  unitChanged: boolean;
  artifactSha256: string;
  steps: StepTiming[];
  execs: number;
}

export class DeployError extends Error {
  constructor(
    readonly host: string,
    message: string,
    readonly restored: boolean,
    readonly steps: StepTiming[] = [],
  ) {
    super(message);
    this.name = "DeployError";
  }
}

export class LockHeldError extends DeployError {}

/** The values of `slipway:<mark> <value>` lines a script printed. */
export const marks = (out: string, mark: string) =>
  out
    .split("\n")
    .filter((l) => l === `slipway:${mark}` || l.startsWith(`slipway:${mark} `))
    .map((l) => l.slice(`slipway:${mark}`.length).trim());

/**
 * Who owns the shared paths (and the env file): the service's user, so that the app can write its
 * logs and state there. supervisor: the programs' user when they all run as the same one.
 */
export function sharedOwner(s: Service): string | undefined {
  if (s.kind === "systemd") return s.user ? `${s.user}:${s.group ?? s.user}` : undefined;
  if (s.kind !== "supervisor") return undefined;
  const users = [...new Set(Object.values(s.programs).map((pr) => pr.user))];
  return users.length === 1 && users[0] ? `${users[0]}:` : undefined;
}

export type LockRequest = Pick<DeployRequest, "owner" | "lockWaitMs" | "sudo" | "log">;
export type LedgerRequest = Pick<DeployRequest, "serviceName" | "releaseId" | "sha" | "owner">;

/** Why a deploy could not prepare deploy-to, with the fix when sudo asked for a password (the sudoers rules do not cover the path). */
export function cannotPrepare(host: string, deployTo: string, tail: string[]): string {
  const text = tail.slice(-5).join("\n");
  const hint = /sudo: (a password is required|a terminal is required)/.test(text)
    ? `\nthe deploy user may not run this through \`sudo -n\`: the rules in /etc/sudoers.d/slipway-deploy must cover ${deployTo} (docs/github-setup.md, "The deploy user's sudo": list your deploy-to roots, or deploy under /srv)`
    : "";
  return `[${host}] cannot prepare ${deployTo}: ${text}${hint}`;
}

/** Take the deploy lock, waiting on the host up to lockWaitMs; returns the live release id (or undefined) and what `extra` printed. */
export async function lock(remote: Remote, p: ReleasePaths, req: LockRequest, extra?: Shell): Promise<{ previous?: string; stdout: string }> {
  const script = lockScript(remote.name, p, req);
  const r = await remote.run(extra ? sh`${script}\n${extra}` : script, { step: "lock", quiet: true, check: false, timeoutMs: remote.target.commandTimeoutMs + req.lockWaitMs, onLine: (l) => waitingForLock(remote.name, req, l) });
  warnExpiredLocks(remote.name, req, r.stdout);
  if (r.code === 0) return { previous: marks(r.stdout, "current")[0] || undefined, stdout: r.stdout };
  if (r.code === LOCK_HELD_EXIT) throw new LockHeldError(remote.name, lockHeldMessage(remote.name, p, marks(r.stdout, "lock-held")[0]), false);
  // the lock was taken but `extra` failed: give it back before reporting
  if (marks(r.stdout, "current").length) await remote.run(releaseLockScript(p, req.owner.run), { step: "unlock", quiet: true, check: false }).catch(() => undefined);
  throw new DeployError(remote.name, cannotPrepare(remote.name, p.deployTo, r.tail), false);
}

/** The lock part of a script: prepare <deploy-to>, take the lock (waiting on the host up to lockWaitMs). */
const lockScript = (host: string, p: ReleasePaths, req: LockRequest) => prepareAndLockScript(p, { sudo: req.sudo, owner: { ...req.owner, host }, waitSec: req.lockWaitMs / 1000 });

const warnExpiredLocks = (host: string, req: LockRequest, out: string) => {
  for (const e of marks(out, "lock-expired")) req.log.warn(`[${host}] took over an expired deploy lock: ${e}`);
  for (const e of marks(out, "lock-dead")) {
    const i = e.indexOf(": {");
    req.log.warn(`[${host}] took over the deploy lock of a run that is gone (${i > 0 ? e.slice(0, i) : e}): ${i > 0 ? holderText(e.slice(i + 2)) : "owner unknown"}`);
  }
};

/** Steps of a host's deploy with their start and duration, for the summary (failed steps too). */
export function stepTimer() {
  const steps: StepTiming[] = [];
  const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      steps.push({ step, ms: Date.now() - t, startMs: t });
    }
  };
  return { steps, timed };
}

/** Where a deploy's one script has got to on the host, in order; each prints `slipway:at <phase>`. */
const PHASES = ["locked", "uploaded", "switching", "live", "recorded"] as const;
type Phase = (typeof PHASES)[number];

/**
 * Deploy one host in ONE remote exec, with the release streamed right behind the script: lock,
 * receive and check the upload, stage and verify the service config, switch, restart and wait,
 * hand over cron, install logrotate, prune, append the ledger line, unlock. Each costs two round
 * trips as an exec of its own, which on a WAN link is most of a deploy. The phase marks say how far
 * a failed script got, so the runner knows what to undo: nothing before the lock, the unpacked
 * release before the switch, the previous release after it.
 */
export async function deployHost(remote: Remote, req: DeployRequest & { artifact: Artifact }): Promise<HostDeployResult> {
  const s = req.service;
  const d = req.driver;
  const a = req.artifact;
  const p = releasePaths(s["deploy-to"], req.releaseId);
  const staged = `${p.release}/${STAGED}`;
  const hasEnv = Object.keys(req.env).length > 0;
  const logrotate = logrotateText(s);
  const owner = sharedOwner(s);
  const cron = s.kind === "systemd" ? s["replaces-cron"] : undefined;
  const at = (phase: Phase) => sh`echo ${`slipway:at ${phase}`}`;
  // what the runner knows of the success line; the host adds the rest (or the runner, below, if the host could not)
  const success = { outcome: "success", unit: d.label, artifactSha256: a.sha256, ...req.notes };
  const script = sh`slipway_config_changed=0; slipway_cron_removed=()
${lockScript(remote.name, p, req)}
${at("locked")}
${receiveReleaseScript(p, a)}
${at("uploaded")}
mkdir -p ${staged}
${linkSharedScript(p, s.shared, owner)}
${hasEnv ? sh`(umask 077
${withHeredoc(sh`cat > ${`${staged}/env`}`, envFileText(req.env))}
)${owner ? sh`\n${priv(req.sudo, sh`chown ${owner} ${`${staged}/env`}`)}` : sh``}` : sh`:`}
${logrotate ? withHeredoc(sh`cat > ${`${staged}/logrotate`}`, logrotate) : sh`:`}
${d.stage(staged)}
slipway_config_sha=$(sha256sum ${`${staged}/${d.configFile}`} | cut -d' ' -f1)
echo "slipway:config-sha $slipway_config_sha"
${at("switching")}
${switchCurrentScript(p, req.releaseId)}
${d.activate()}
${cron ? removeCronScript({ ...cron, sudo: req.sudo }) : sh`:`}
${logrotate ? installLogrotateScript({ name: req.serviceName, staged: `${staged}/logrotate`, sudo: req.sudo }) : sh`:`}
${pruneReleasesScript(p, req.keep, new Shell('"$slipway_previous"'))}
${at("live")}
${appendHostLedgerScript(p.ledger, ledgerEntry(remote.name, req, success), { previous: { string: "slipway_previous" }, unitChanged: { bool: "slipway_config_changed" }, configSha256: { string: "slipway_config_sha" }, cronRemoved: { strings: "slipway_cron_removed" } })}
${at("recorded")}
${releaseLockScript(p, req.owner.run)}`;

  const lines: string[] = [];
  const reached: { phase: Phase; at: number }[] = [];
  const t0 = Date.now();
  let r: RunResult | undefined;
  let lost: Error | undefined;
  try {
    r = await remote.run(script, {
      step: `deploy release ${req.releaseId}`,
      quiet: true,
      check: false,
      payload: a,
      timeoutMs: remote.target.commandTimeoutMs + req.lockWaitMs,
      onLine: (l) => {
        lines.push(l);
        waitingForLock(remote.name, req, l);
        const [phase] = marks(l, "at");
        if (PHASES.includes(phase as Phase)) reached.push({ phase: phase as Phase, at: Date.now() });
      },
    });
  } catch (e) {
    lost = e as Error; // the connection dropped: what the host did after the last mark is unknown
  }
  const steps = phaseSteps(t0, Date.now(), reached);
  const out = lines.join("\n");
  const previous = marks(out, "current")[0] || undefined;
  warnExpiredLocks(remote.name, req, out);
  const last = reached.at(-1)?.phase;
  const ok = !lost && r!.code === 0;
  const unitChanged = marks(out, "unit").includes("changed");
  const result = (): HostDeployResult => ({ host: remote.name, releaseId: req.releaseId, previous, changed: true, unitChanged, artifactSha256: a.sha256, steps, execs: remote.execCount });
  const cronRemoved = marks(out, "cron-removed").map((b) => Buffer.from(b, "base64").toString("utf8"));
  if (last === "live" || last === "recorded" || ok) for (const c of cronRemoved) req.log.info(`[${remote.name}] removed crontab line of ${cron!.user}: ${c}`);
  if (ok) return result();

  // what failed, named by the phase it failed in
  const step = !last ? "lock" : last === "locked" ? `upload release ${p.release}` : last === "uploaded" ? `stage ${d.label}` : last === "switching" ? `deploy ${d.label}` : last === "live" ? "ledger" : "unlock";
  const reason = lost ? `[${remote.name}] step "${step}" lost its connection to the host` : new RemoteCommandError(remote.name, step, r!.code, r!.tail, `failed with exit code ${r!.code}`).message;
  if (!last) {
    if (r?.code === LOCK_HELD_EXIT) throw new LockHeldError(remote.name, lockHeldMessage(remote.name, p, marks(out, "lock-held")[0]), false, steps);
    throw new DeployError(remote.name, lost ? reason : cannotPrepare(remote.name, p.deployTo, r!.tail), false, steps);
  }
  const unlock = () => remote.run(releaseLockScript(p, req.owner.run), { step: "unlock", quiet: true, check: false }).catch(() => undefined);
  if (last === "recorded") {
    // live and recorded; only giving the lock back failed
    await unlock();
    return result();
  }
  if (last === "live") {
    // live: the new release stays; the ledger line is what failed, so the runner writes it
    const configSha256 = marks(out, "config-sha")[0];
    try {
      await recordLedger(remote, p, req, { ...success, previous, unitChanged, configSha256, cronRemoved: cronRemoved.length ? cronRemoved : undefined }, true);
    } catch (e) {
      await unlock();
      throw new DeployError(remote.name, `${reason}\n[${remote.name}] release ${req.releaseId} is live, but its ledger line could not be written (${(e as Error).message}): a rollback will not know it.`, false, steps);
    }
    return result();
  }
  const switched = last === "switching";
  let restored = false;
  if (switched && !lost)
    restored = await restorePrevious(remote, p, req, previous).catch((e: Error) => {
      req.log.error(`[${remote.name}] restoring ${previous ?? "the previous release"} failed too: ${e.message}`);
      return false;
    });
  // nothing points at a release that was never switched to: remove it (a partial upload too)
  const recorded = lost
    ? false
    : await recordLedger(remote, p, req, { outcome: "failed", previous, unit: d.label, error: reason.slice(0, 2000), restored }, true, switched ? undefined : sh`rm -rf ${p.release} ${uploadPath(p)}`).then(
        () => true,
        () => false,
      );
  if (!recorded && !lost) await unlock();
  const state = lost && switched ? `the connection was lost after the switch: check which release ${d.label} runs` : failureState(switched, restored, previous);
  throw new DeployError(remote.name, `${reason}\n[${remote.name}] deploy of ${req.releaseId} failed; ${state}.`, restored, steps);
}

/**
 * The summary's steps from the times the phase marks arrived (the runner's clock only: one-way
 * latency cancels out). Each phase runs from its mark to the next one, the last to the exec's end.
 */
function phaseSteps(t0: number, t1: number, reached: { phase: Phase; at: number }[]): StepTiming[] {
  const next: Record<Phase, string> = { locked: "upload", uploaded: "stage", switching: "switch+restart", live: "ledger", recorded: "ledger" };
  const steps: StepTiming[] = [{ step: "lock", startMs: t0, ms: (reached[0]?.at ?? t1) - t0 }];
  reached.forEach((m, i) => {
    const end = reached[i + 1]?.at ?? t1;
    const prev = steps.at(-1)!;
    if (prev.step === next[m.phase]) prev.ms = end - prev.startMs;
    else steps.push({ step: next[m.phase], startMs: m.at, ms: end - m.at });
  });
  return steps;
}

/** Say so, as it happens, when the host starts waiting for a lock another run holds. */
function waitingForLock(host: string, req: LockRequest, line: string) {
  const [holder] = marks(line, "lock-waiting");
  if (holder !== undefined) req.log.info(`[${host}] the deploy lock is held: waiting up to ${Math.round(req.lockWaitMs / 1000)}s for ${holderText(holder)}`);
}

/** A lock owner record for people; a record that is missing or cut is said to be unreadable, never shown as free. */
export function holderText(holder: string): string {
  try {
    const o = JSON.parse(holder) as Partial<LockOwner>;
    if (typeof o.run !== "string") throw new Error("no run");
    return `${o.run} (actor ${o.actor ?? "?"}, sha ${o.sha ?? "?"}, since ${o.since ?? "?"}, expires ${o.expires ?? "?"})`;
  } catch {
    return holder.startsWith("held, owner unreadable") ? holder : `a deploy whose owner record is unreadable${holder.trim() ? ` (${JSON.stringify(holder.slice(0, 80))})` : ""}; it is taken over once older than the lock expiry`;
  }
}

function lockHeldMessage(host: string, p: ReleasePaths, holder = ""): string {
  return `[${host}] another deploy holds the lock on ${p.deployTo}: ${holderText(holder)}. Wait for it, pass lock-wait, or release it with \`slipway lock release\` if that run is dead.`;
}

/** What a failed deploy left live, for the error and the summary. */
export function failureState(switched: boolean, restored: boolean, previous: string | undefined): string {
  return !switched
    ? `nothing was switched: ${previous ? `release ${previous} is still live` : "no release was live before"}`
    : restored
      ? `release ${previous} was restored and is running again`
      : previous
        ? `RESTORING ${previous} FAILED: check the host`
        : "there was no previous release to restore";
}

export function systemdDriver(name: string, s: SystemdService, p: ReleasePaths, sudo: boolean, o: { hasEnv: boolean; startTimeoutSec: number; stabilizeSec: number }): ServiceDriver {
  const unit = unitName(name, s);
  const timerText = renderTimer(name, s);
  // a timer-driven job: the timer is what is enabled, (re)started and watched
  const timer = timerText ? timerName(name, s) : undefined;
  const active = timer ?? unit;
  const install = (staged: string, file: string, enable: boolean) => verifyAndInstallUnitScript({ unit: file, staged: `${staged}/${file}`, sudo, enable, resolve: { current: p.current, release: p.release } });
  const reinstall = (prevStaged: string, file: string) => sh`if [ -f ${`${prevStaged}/${file}`} ] && ! cmp -s ${`${prevStaged}/${file}`} ${installedUnitPath(file)}; then
  ${priv(sudo, sh`install -m 0644 ${`${prevStaged}/${file}`} ${installedUnitPath(file)}`)}
  ${priv(sudo, sh`systemctl daemon-reload`)}
fi`;
  return {
    label: active,
    configFile: unit,
    stage: (staged) =>
      sh`${s["unit-file"] ? sh`cp ${`${p.release}/${s["unit-file"]}`} ${`${staged}/${unit}`}` : withHeredoc(sh`cat > ${`${staged}/${unit}`}`, renderUnit(name, s, p, o.hasEnv))}
${timerText ? withHeredoc(sh`cat > ${`${staged}/${timer}`}`, timerText) : sh`:`}
${install(staged, unit, !timer)}
${timer ? install(staged, timer, true) : sh`:`}`,
    // a timer waits for its schedule: the deploy starts no run of the job, so there is nothing to watch stay up
    activate: () => restartAndWaitScript({ unit: active, sudo, reload: !timer && s["on-change"] === "reload" ? "if-unchanged" : false, startTimeoutSec: o.startTimeoutSec, windowSec: timer ? 0 : o.stabilizeSec }),
    restore: (prevStaged) => sh`${reinstall(prevStaged, unit)}
${timer ? reinstall(prevStaged, timer) : sh`:`}
${restartAndWaitScript({ unit: active, sudo, reload: false, startTimeoutSec: o.startTimeoutSec, windowSec: timer ? 0 : Math.min(o.stabilizeSec, 5) })}`,
    stop: () => priv(sudo, sh`systemctl stop -- ${active}`),
  };
}

export function supervisorDriver(name: string, s: SupervisorService, p: ReleasePaths, sudo: boolean, env: Record<string, string>, o: { startTimeoutSec: number; stabilizeSec: number }): ServiceDriver {
  const group = groupName(name, s);
  const record = `${p.meta}/installed-${group}.conf`;
  const file = `${group}.conf`;
  const wait = (windowSec: number) => restartGroupAndWaitScript({ s, group, sudo, startTimeoutSec: o.startTimeoutSec, windowSec });
  return {
    label: `supervisor group ${group}`,
    configFile: file,
    stage: (staged) => sh`(umask 077
${withHeredoc(sh`cat > ${`${staged}/${file}`}`, renderPrograms(name, s, p, env))}
)
${installProgramsScript({ s, group, staged: `${staged}/${file}`, record, sudo })}`,
    activate: () => wait(o.stabilizeSec),
    restore: (prevStaged) => sh`if [ -f ${`${prevStaged}/${file}`} ]; then
${installProgramsScript({ s, group, staged: `${prevStaged}/${file}`, record, sudo })}
fi
${wait(Math.min(o.stabilizeSec, 5))}`,
    stop: () => supervisorctl(s, sudo, sh`stop ${`${group}:*`}`),
  };
}

export async function uploadRelease(remote: Remote, source: string, p: ReleasePaths): Promise<string> {
  if (!existsSync(source)) throw new DeployError(remote.name, `release ${source} does not exist on the runner (build it earlier in the workflow)`, false);
  if (statSync(source).isDirectory()) return (await remote.uploadDir(source, p.release, `upload release ${p.release}`)).sha256;
  if (!/\.(tar\.gz|tgz)$/.test(source)) throw new DeployError(remote.name, `release ${source} must be a directory or a .tar.gz`, false);
  const tmp = `${p.release}.tar.gz`;
  const { sha256 } = await remote.uploadFile(source, tmp, { step: `upload release ${tmp}` });
  await remote.run(sh`mkdir -p ${p.release} && tar --no-same-owner -xzf ${tmp} -C ${p.release} && rm -f ${tmp}`, { step: "unpack release", quiet: true });
  return sha256;
}

/** Put the previous release back: its files (current), its service config, a restart and a short wait. */
async function restorePrevious(remote: Remote, p: ReleasePaths, req: DeployRequest, previous: string | undefined): Promise<boolean> {
  if (!previous) {
    await remote.run(req.driver.stop(), { step: "stop failed release", quiet: true, check: false });
    return false;
  }
  const prev = releasePaths(req.service["deploy-to"], previous);
  await remote.run(sh`${switchCurrentScript(p, previous)}\n${req.driver.restore(`${prev.release}/${STAGED}`)}`, { step: `restore ${previous}`, quiet: true });
  req.log.warn(`[${remote.name}] restored release ${previous}; ${req.driver.label} is running it again`);
  return true;
}

/** A ledger line: who deployed what, where and when, and `extra`. */
function ledgerEntry(host: string, req: LedgerRequest, extra: Record<string, unknown>) {
  return { time: new Date().toISOString(), host, service: req.serviceName, release: req.releaseId, sha: req.sha, actor: req.owner.actor, run: req.owner.run, ...extra };
}

/** Append the ledger line; with unlock, release the deploy lock in the same exec. */
export async function recordLedger(remote: Remote, p: ReleasePaths, req: LedgerRequest, extra: Record<string, unknown>, unlock = false, before?: Shell): Promise<void> {
  await remote.run(sh`${before ?? sh`:`}\n${appendLedgerScript(p.ledger, ledgerEntry(remote.name, req, extra))}${unlock ? sh`\n${releaseLockScript(p, req.owner.run)}` : sh``}`, { step: "ledger", quiet: true });
}

export interface HostStatus {
  host: string;
  service: string;
  current?: string;
  /** the lock's owner record, or "held, owner unreadable …"; undefined when free */
  lock?: string;
  history: LedgerEntry[];
  /** ledger lines that could not be read (skipped) */
  damaged: DamagedLine[];
  ledger: string;
}

/** The lock's holder from lockStatusScript's output: its owner record, "held, owner unreadable" when it has none, or undefined when free. */
export function lockHolder(out: string): string | undefined {
  const [since] = marks(out, "lock-dir");
  if (since === undefined) return undefined;
  const owner = marks(out, "lock")[0] ?? "";
  try {
    if (typeof (JSON.parse(owner) as { run?: unknown }).run === "string") return owner;
  } catch {
    /* not a whole record */
  }
  return `held, owner unreadable (${since}${owner ? `; record: ${JSON.stringify(owner.slice(0, 80))}` : ""})`;
}

/** What is live on a host and what came before (the ledger), and who holds its lock. */
export async function releaseStatus(remote: Remote, service: string, deployTo: string, lines = 10): Promise<HostStatus> {
  const p = releasePaths(deployTo, "x");
  const r = await remote.run(
    sh`echo "slipway:current $(basename "$(readlink ${p.current} 2>/dev/null || true)")"
${lockStatusScript(p)}
${readLedgerScript(p.ledger, lines)}`,
    { step: "status", quiet: true },
  );
  const { entries, damaged } = parseLedger(r.stdout);
  return { host: remote.name, service, current: marks(r.stdout, "current")[0] || undefined, lock: lockHolder(r.stdout), history: entries, damaged, ledger: p.ledger };
}

/** Remove a host's deploy lock (an operator's decision: the run holding it is dead); what held it, or undefined when it was free. */
export async function forceReleaseLock(remote: Remote, deployTo: string): Promise<string | undefined> {
  const p = releasePaths(deployTo, "x");
  const r = await remote.run(sh`${lockStatusScript(p)}\nrm -rf ${p.lock}`, { step: "release lock", quiet: true });
  return lockHolder(r.stdout);
}
