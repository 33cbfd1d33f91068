// deploy-systemd on one host: lock, upload the release, stage and verify its unit, switch
// `current`, restart and wait until stable, record it in the ledger. If the new release does not
// stay up, the previous release (its files and its unit) is put back and restarted: a deploy
// leaves either the new release running or the old one, never a stopped service.
import { existsSync, statSync } from "node:fs";
import { withHeredoc } from "../commands/postgres.js";
import { sh, Shell } from "../commands/quote.js";
import {
  appendLedgerScript, envFileText, LOCK_HELD_EXIT, linkSharedScript, prepareAndLockScript, priv, pruneReleasesScript,
  releaseLockScript, releasePaths, switchCurrentScript, type LockOwner, type ReleasePaths,
} from "../commands/release.js";
import { installLogrotateScript, logrotateText, removeCronScript, renderUnit, restartAndWaitScript, STAGED, unitName, verifyAndInstallUnitScript } from "../commands/systemd.js";
import type { Service } from "../config/schema.js";
import type { Remote } from "../remote/connection.js";
import type { Log } from "../report/log.js";

type SystemdService = Extract<Service, { kind: "systemd" }>;

export interface DeployRequest {
  serviceName: string;
  service: SystemdService;
  /** a directory or a .tar.gz on the runner */
  source: string;
  releaseId: string;
  sha: string;
  /** the release's environment, secrets resolved (written 0600 for the service user) */
  env: Record<string, string>;
  owner: Omit<LockOwner, "host">;
  keep: number;
  lockWaitMs: number;
  startTimeoutSec: number;
  stabilizeSec: number;
  sudo: boolean;
  log: Log;
}

export interface StepTiming {
  step: string;
  ms: number;
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

const marks = (out: string, mark: string) => out.split("\n").filter((l) => l.startsWith(`slipway:${mark}`)).map((l) => l.slice(`slipway:${mark}`.length).trim());

/** Take the deploy lock, waiting up to lockWaitMs; returns the live release id (or undefined). */
async function lock(remote: Remote, p: ReleasePaths, req: DeployRequest): Promise<string | undefined> {
  const until = Date.now() + req.lockWaitMs;
  const owner: LockOwner = { ...req.owner, host: remote.name };
  for (;;) {
    const r = await remote.run(prepareAndLockScript(p, { sudo: req.sudo, owner }), { step: "lock", quiet: true, check: false });
    for (const e of marks(r.stdout, "lock-expired")) req.log.warn(`[${remote.name}] took over an expired deploy lock: ${e}`);
    if (r.code === 0) return marks(r.stdout, "current")[0] || undefined;
    if (r.code !== LOCK_HELD_EXIT) throw new DeployError(remote.name, `[${remote.name}] cannot prepare ${p.deployTo}: ${r.tail.slice(-5).join("\n")}`, false);
    if (Date.now() >= until) {
      const holder = marks(r.stdout, "lock-held")[0] ?? "{}";
      let who = holder;
      try {
        const o = JSON.parse(holder) as Partial<LockOwner>;
        who = `${o.run ?? "an unknown run"} (actor ${o.actor ?? "?"}, sha ${o.sha ?? "?"}, since ${o.since ?? "?"}, expires ${o.expires ?? "?"})`;
      } catch {
        /* show it raw */
      }
      throw new LockHeldError(remote.name, `[${remote.name}] another deploy holds the lock on ${p.deployTo}: ${who}. Wait for it, pass lock-wait, or release it with \`slipway lock release\` if that run is dead.`, false);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function deploySystemdHost(remote: Remote, req: DeployRequest): Promise<HostDeployResult> {
  const s = req.service;
  const p = releasePaths(s["deploy-to"], req.releaseId);
  const unit = unitName(req.serviceName, s);
  const steps: StepTiming[] = [];
  const timed = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      steps.push({ step, ms: Date.now() - t });
    }
  };
  const previous = await timed("lock", () => lock(remote, p, req));
  let switched = false;
  try {
    // 1. the release files
    const artifact = await timed("upload", () => uploadRelease(remote, req.source, p));
    // 2. stage: shared links, env file, unit (verified on the target), logrotate; nothing live changes
    const staged = `${p.release}/${STAGED}`;
    const hasEnv = Object.keys(req.env).length > 0;
    const unitText = s["unit-file"] ? undefined : renderUnit(req.serviceName, s, p, hasEnv);
    const logrotate = logrotateText(s);
    const owner = s.user ? `${s.user}:${s.group ?? s.user}` : undefined;
    const stage = sh`mkdir -p ${staged}
${linkSharedScript(p, s.shared, req.sudo || owner ? owner : undefined)}
${hasEnv ? sh`(umask 077
${withHeredoc(sh`cat > ${`${staged}/env`}`, envFileText(req.env))}
)${owner ? sh`\n${priv(req.sudo, sh`chown ${owner} ${`${staged}/env`}`)}` : new Shell("")}` : new Shell(":")}
${unitText !== undefined ? withHeredoc(sh`cat > ${`${staged}/${unit}`}`, unitText) : sh`cp ${`${p.release}/${s["unit-file"]}`} ${`${staged}/${unit}`}`}
${logrotate ? withHeredoc(sh`cat > ${`${staged}/logrotate`}`, logrotate) : new Shell(":")}
${verifyAndInstallUnitScript({ unit, staged: `${staged}/${unit}`, sudo: req.sudo })}`;
    const st = await timed("verify+install unit", () => remote.run(stage, { step: `stage ${unit}`, quiet: true }));
    const unitChanged = marks(st.stdout, "unit").includes("changed");
    // 3. switch and restart; from here a failure restores the previous release
    switched = true;
    const go = sh`${switchCurrentScript(p, req.releaseId)}
${restartAndWaitScript({ unit, sudo: req.sudo, reload: s["on-change"] === "reload" && !unitChanged, startTimeoutSec: req.startTimeoutSec, windowSec: req.stabilizeSec })}`;
    await timed("switch+restart+stable", () => remote.run(go, { step: `restart ${unit}`, quiet: true }));
    // 4. after success: cron hand-over (seed 000), logrotate, ledger, prune
    const after = sh`${s["replaces-cron"] ? removeCronScript({ ...s["replaces-cron"], sudo: req.sudo }) : new Shell(":")}
${logrotate ? installLogrotateScript({ name: req.serviceName, staged: `${staged}/logrotate`, sudo: req.sudo }) : new Shell(":")}
${pruneReleasesScript(p, req.keep, previous)}`;
    const fin = await timed("cron+logrotate+prune", () => remote.run(after, { step: "finish", quiet: true }));
    const cronRemoved = marks(fin.stdout, "cron-removed").map((b) => Buffer.from(b, "base64").toString("utf8"));
    for (const c of cronRemoved) req.log.info(`[${remote.name}] removed crontab line of ${s["replaces-cron"]!.user}: ${c}`);
    await recordLedger(remote, p, req, { outcome: "success", previous, unit, unitChanged, artifactSha256: artifact, cronRemoved });
    return { host: remote.name, releaseId: req.releaseId, previous, changed: true, unitChanged, artifactSha256: artifact, steps, execs: remote.execCount };
  } catch (e) {
    const reason = (e as Error).message;
    let restored = false;
    if (switched) restored = await restorePrevious(remote, p, req, unit, previous).catch((r: Error) => {
      req.log.error(`[${remote.name}] restoring ${previous ?? "the previous release"} failed too: ${r.message}`);
      return false;
    });
    await recordLedger(remote, p, req, { outcome: "failed", previous, unit, error: reason.slice(0, 2000), restored }).catch(() => undefined);
    const state = !switched
      ? `nothing was switched: ${previous ? `release ${previous} is still live` : "no release was live before"}`
      : restored
        ? `release ${previous} was restored and is running again`
        : previous
          ? `RESTORING ${previous} FAILED: check the host`
          : "there was no previous release to restore";
    throw new DeployError(remote.name, `${reason}\n[${remote.name}] deploy of ${req.releaseId} failed; ${state}.`, restored, steps);
  } finally {
    await remote.run(releaseLockScript(p, req.owner.run), { step: "unlock", quiet: true, check: false }).catch(() => undefined);
  }
}

async function uploadRelease(remote: Remote, source: string, p: ReleasePaths): Promise<string> {
  if (!existsSync(source)) throw new DeployError(remote.name, `release ${source} does not exist on the runner (build it earlier in the workflow)`, false);
  if (statSync(source).isDirectory()) return (await remote.uploadDir(source, p.release, `upload release ${p.release}`)).sha256;
  if (!/\.(tar\.gz|tgz)$/.test(source)) throw new DeployError(remote.name, `release ${source} must be a directory or a .tar.gz`, false);
  const tmp = `${p.release}.tar.gz`;
  const { sha256 } = await remote.uploadFile(source, tmp, { step: `upload release ${tmp}` });
  await remote.run(sh`mkdir -p ${p.release} && tar --no-same-owner -xzf ${tmp} -C ${p.release} && rm -f ${tmp}`, { step: "unpack release", quiet: true });
  return sha256;
}

/** Put the previous release back: its files (current), its unit, a restart and a short wait. */
async function restorePrevious(remote: Remote, p: ReleasePaths, req: DeployRequest, unit: string, previous: string | undefined): Promise<boolean> {
  if (!previous) {
    await remote.run(priv(req.sudo, sh`systemctl stop ${unit}`), { step: "stop failed unit", quiet: true, check: false });
    return false;
  }
  const prev = releasePaths(req.service["deploy-to"], previous);
  const prevUnit = `${prev.release}/${STAGED}/${unit}`;
  const script = sh`${switchCurrentScript(p, previous)}
if [ -f ${prevUnit} ] && ! cmp -s ${prevUnit} ${`/etc/systemd/system/${unit}`}; then
  ${priv(req.sudo, sh`install -m 0644 ${prevUnit} ${`/etc/systemd/system/${unit}`}`)}
  ${priv(req.sudo, sh`systemctl daemon-reload`)}
fi
${priv(req.sudo, sh`systemctl reset-failed ${unit}`)} || true
${restartAndWaitScript({ unit, sudo: req.sudo, reload: false, startTimeoutSec: req.startTimeoutSec, windowSec: Math.min(req.stabilizeSec, 5) })}`;
  await remote.run(script, { step: `restore ${previous}`, quiet: true });
  req.log.warn(`[${remote.name}] restored release ${previous}; ${unit} is running it again`);
  return true;
}

async function recordLedger(remote: Remote, p: ReleasePaths, req: DeployRequest, extra: Record<string, unknown>): Promise<void> {
  const entry = {
    time: new Date().toISOString(),
    host: remote.name,
    service: req.serviceName,
    release: req.releaseId,
    sha: req.sha,
    actor: req.owner.actor,
    run: req.owner.run,
    ...extra,
  };
  await remote.run(appendLedgerScript(p, entry), { step: "ledger", quiet: true });
}
