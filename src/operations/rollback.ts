// Rollback on one host: under the deploy lock, pick the release to return to from the ledger (the
// previous good one, or a named release id / sha), switch `current` back, put that release's own
// unit / program file / compose files and pinned images back, restart and wait until stable, bring
// back crontab lines a later release took over, and mark the abandoned release bad in the ledger
// so it is never chosen as "previous" again.
import { sh, type Shell } from "../commands/quote.js";
import { composeCommand, detectComposeScript } from "../commands/compose.js";
import { priv, releaseLockScript, releasePaths, switchCurrentScript } from "../commands/release.js";
import { damagedWarnings, parseLedger, readLedgerScript, type AppliedMigrationRecord, type LedgerEntry } from "../ledger/ledger.js";
import { STAGED } from "../commands/systemd.js";
import type { Remote } from "../remote/connection.js";
import { restoreStack, type ComposeService } from "./compose.js";
import { DeployError, lock, marks, recordLedger, type LockRequest, type ServiceDriver } from "./deploy.js";

export type { LedgerEntry };

export interface RollbackRequest extends LockRequest {
  serviceName: string;
  deployTo: string;
  /** a release id or a git sha (7+ characters); default: the previous good release */
  to?: string;
  /** only roll back if this release is the live one (the deploy run's own release) */
  onlyIf?: string;
  /** systemd / supervisor: the driver that restores a release's unit or programs */
  driver?: (targetRelease: string) => ServiceDriver;
  compose?: { service: ComposeService; commands: { docker?: string; compose?: string }; timeoutSec: number; stabilizeSec: number };
  cronUser?: string;
  reason: string;
  /**
   * What the schema allows: a rollback past a contract migration is refused unless `allowed` says
   * why it may go on (the database is restored too, or an override with its reason). `between`
   * classifies the migration files between two recorded heads (for deploys that recorded a head
   * but not what they applied).
   */
  schema?: { allowed?: string; between?: (fromHead: string | undefined, toHead: string) => AppliedMigrationRecord[] };
}

export interface RollbackResult {
  host: string;
  service: string;
  from?: string;
  to?: string;
  skipped?: string;
  /** the ledger entries of the target and of the abandoned release */
  target?: LedgerEntry;
  /** the backup of the database as the target left it (backupAsLeftBy), for restore-db */
  targetBackupId?: string;
  abandoned?: LedgerEntry;
  /** contract migrations the database got after the target release (the rollback went on because schema.allowed said why) */
  crossed: AppliedMigrationRecord[];
  cronRestored: string[];
  ms: number;
}

export class RollbackError extends DeployError {}

/** A rollback the schema does not allow; nothing was changed. */
export class RollbackRefused extends RollbackError {
  constructor(host: string, message: string, readonly crossed: AppliedMigrationRecord[]) {
    super(host, message, false);
  }
}

/**
 * The contract (or unclassified) migrations the database got after `target`: those the deploys
 * after it recorded, and — through `between` — the files between the target's migration head and
 * the latest recorded one. A rollback changes no schema, so its own lines are skipped.
 */
export function contractsSince(entries: LedgerEntry[], target: LedgerEntry, between?: (fromHead: string | undefined, toHead: string) => AppliedMigrationRecord[]): AppliedMigrationRecord[] {
  const at = entries.lastIndexOf(target);
  const deploys = (xs: LedgerEntry[]) => xs.filter((e) => e.outcome !== "rollback");
  const later = deploys(entries.slice(at + 1));
  const found = later.flatMap((e) => e.migrations ?? []);
  const headOf = (xs: LedgerEntry[]) => [...xs].reverse().find((e) => e.migrationHead)?.migrationHead;
  const fromHead = headOf(deploys(entries.slice(0, at + 1)));
  const toHead = headOf(later);
  if (between && toHead && toHead !== fromHead) found.push(...between(fromHead, toHead));
  const seen = new Set<string>();
  return found.filter((m) => m.class !== "expand" && !seen.has(`${m.database}/${m.name}`) && seen.add(`${m.database}/${m.name}`));
}

/** The refusal: which migrations, which release, and the two ways on. */
export function refusalMessage(host: string, service: string, to: string, crossed: AppliedMigrationRecord[]): string {
  const list = crossed.map((m) => `${m.name} (${m.database}${m.class === "unknown" ? ", could not be classified" : ""})`).join(", ");
  return (
    `[${host}] refusing to roll ${service} back to ${to}: the database has ${crossed.length} contract migration(s) applied after that release: ${list}. ` +
    `The code of ${to} was written for the schema before them and may fail on it. Nothing was changed. ` +
    `Roll back with restore-db (code and database go back together), or roll back the code alone with allow-contract set to the reason (it is recorded in the ledger).`
  );
}

/** Releases marked bad (abandoned by a rollback, or named bad); never chosen as "previous". */
export const badReleases = (entries: LedgerEntry[]) => new Set(entries.filter((e) => e.bad === true && e.release).map((e) => String(e.abandoned ?? e.release)));

/**
 * The release to return to: `to` (a release id, or the latest good deploy of a sha), else the most
 * recent successful deploy that is not live, not bad and still on disk.
 */
export function chooseTarget(entries: LedgerEntry[], o: { current?: string; to?: string; onDisk: Set<string>; host: string }): LedgerEntry {
  const bad = badReleases(entries);
  const good = entries.filter((e) => e.outcome === "success" && e.release);
  if (o.to) {
    // several ids (a deploy's release-id output for several services): the one this host has
    const wants = o.to.split(/[\s,]+/).filter(Boolean);
    const hit = wants
      .map((w) => [...good].reverse().find((e) => e.release === w) ?? (w.length >= 7 ? [...good].reverse().find((e) => String(e.sha ?? "").toLowerCase().startsWith(w.toLowerCase())) : undefined))
      .find((e) => e !== undefined);
    if (!hit) throw new Error(`[${o.host}] no successful deploy of ${o.to} in the ledger (release ids or git shas of 7+ characters; see \`slipway status\`)`);
    if (hit.release !== o.current && !o.onDisk.has(hit.release!)) throw new Error(`[${o.host}] release ${hit.release} (${o.to}) is no longer on the host: it was pruned (on disk: ${[...o.onDisk].join(", ") || "none"})`);
    return hit;
  }
  const prev = [...good].reverse().find((e) => e.release !== o.current && !bad.has(e.release!) && o.onDisk.has(e.release!));
  if (!prev) throw new Error(`[${o.host}] no earlier good release to return to (the ledger has ${good.length} successful deploy(s); bad: ${[...bad].join(", ") || "none"}; live: ${o.current ?? "none"})`);
  return prev;
}

/**
 * restore-db's default backup: the database as the target release left it. A deploy records the
 * backup its run took before its own migrations, so the target's own backupId holds the schema of
 * the release before it; the right one was taken by a later deploy while the schema was still at
 * the target's migration head: the latest such (the least data lost), i.e. at the latest the one
 * taken just before the first migration after the target. A rollback changes no schema.
 */
export function backupAsLeftBy(entries: LedgerEntry[], target: LedgerEntry): string | undefined {
  let head = target.migrationHead;
  let found: string | undefined;
  for (const e of entries.slice(entries.lastIndexOf(target) + 1)) {
    if (e.outcome === "rollback") continue;
    if (typeof e.backupId === "string" && e.backupId && head === target.migrationHead) found = e.backupId;
    if (e.migrationHead !== undefined) head = e.migrationHead;
  }
  return found;
}

/** crontab lines removed by deploys after the target (seed 000): they come back with the rollback. */
export function cronLinesToRestore(entries: LedgerEntry[], target: LedgerEntry): string[] {
  const after = entries.slice(entries.lastIndexOf(target) + 1).filter((e) => e.outcome === "success");
  return [...new Set(after.flatMap((e) => (Array.isArray(e.cronRemoved) ? (e.cronRemoved as string[]) : [])))];
}

function restoreCronScript(user: string, lines: string[], sudo: boolean): Shell {
  const crontab = (args: Shell) => priv(sudo, sh`crontab -u ${user} ${args}`);
  return sh`current=$(${crontab(sh`-l`)} 2>/dev/null || true)
{ [ -z "$current" ] || printf '%s\\n' "$current"; for l in ${lines}; do printf '%s\\n' "$current" | grep -qxF -- "$l" || printf '%s\\n' "$l"; done; } | ${crontab(sh`-`)}`;
}

export async function rollbackHost(remote: Remote, req: RollbackRequest): Promise<RollbackResult> {
  const t0 = Date.now();
  const p = releasePaths(req.deployTo, `rollback-${Date.now()}`);
  const locked = await lock(remote, p, req, sh`${readLedgerScript(p.ledger, 1000)}
echo "slipway:on-disk $(ls -1 ${p.releases} 2>/dev/null | tr '\\n' ' ')"
${req.compose ? detectComposeScript(req.compose.commands) : sh`:`}`);
  const current = locked.previous;
  const result: RollbackResult = { host: remote.name, service: req.serviceName, from: current, crossed: [], cronRestored: [], ms: 0 };
  let unlocked = false;
  try {
    if (req.onlyIf && current !== req.onlyIf) {
      result.skipped = `release ${req.onlyIf} is not live here (live: ${current ?? "none"}): nothing to roll back`;
      return result;
    }
    const { entries, damaged } = parseLedger(locked.stdout);
    for (const w of damagedWarnings(remote.name, p.ledger, damaged)) req.log.warn(w);
    const onDisk = new Set((marks(locked.stdout, "on-disk")[0] ?? "").split(/\s+/).filter(Boolean));
    const target = chooseTarget(entries, { current, to: req.to, onDisk, host: remote.name });
    const to = target.release!;
    result.to = to;
    result.target = target;
    result.targetBackupId = backupAsLeftBy(entries, target);
    const crossed = to === current ? [] : contractsSince(entries, target, req.schema?.between);
    if (crossed.length && !req.schema?.allowed) throw new RollbackRefused(remote.name, refusalMessage(remote.name, req.serviceName, to, crossed), crossed);
    result.crossed = crossed;
    if (to === current) {
      // asked for the release that is live (a restore-db job after the code rollback): nothing to switch
      result.skipped = `release ${to} is already live`;
      return result;
    }
    result.abandoned = [...entries].reverse().find((e) => e.release === current && e.outcome === "success");
    const cron = req.cronUser ? cronLinesToRestore(entries, target) : [];
    const tp = releasePaths(req.deployTo, to);
    if (req.compose) {
      const c = composeCommand((m) => marks(locked.stdout, m)[0]);
      await restoreStack(remote, { service: req.compose.service, serviceName: req.serviceName, timeoutSec: req.compose.timeoutSec, stabilizeSec: req.compose.stabilizeSec, log: req.log }, c, p, tp);
    } else {
      const d = req.driver!(to);
      const r = await remote.run(sh`${switchCurrentScript(p, to)}\n${d.restore(`${tp.release}/${STAGED}`)}`, { step: `roll back to ${to}`, quiet: true, check: false });
      if (r.code !== 0) throw new RollbackError(remote.name, `[${remote.name}] ${d.label} did not come up on release ${to}:\n${r.stderr.trim().split("\n").slice(-25).join("\n")}`, false);
    }
    if (cron.length) {
      await remote.run(restoreCronScript(req.cronUser!, cron, req.sudo), { step: "restore crontab lines", quiet: true });
      result.cronRestored = cron;
      req.log.warn(`[${remote.name}] restored ${cron.length} crontab line(s) of ${req.cronUser} that a later release had taken over: ${cron.join(" | ")}`);
    }
    await recordLedger(remote, p, { serviceName: req.serviceName, releaseId: to, sha: String(target.sha ?? ""), owner: req.owner }, { outcome: "rollback", release: to, abandoned: current, bad: current !== undefined, reason: req.reason, cronRestored: cron.length ? cron : undefined, ...(crossed.length ? { contractCrossed: crossed, contractAllowed: req.schema!.allowed } : {}) }, true);
    unlocked = true;
    return result;
  } catch (e) {
    if (e instanceof DeployError) throw e;
    throw new RollbackError(remote.name, (e as Error).message, false);
  } finally {
    result.ms = Date.now() - t0;
    if (!unlocked) await remote.run(releaseLockScript(p, req.owner.run), { step: "unlock", quiet: true, check: false }).catch(() => undefined);
  }
}
