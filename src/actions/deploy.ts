// The body of deploy-systemd: for each systemd service, every selected host of it (in parallel,
// in batches or canary first), errors of all hosts collected; outputs and a hosts × steps summary.
import { requireWindow } from "../config/window.js";
import { existsSync } from "node:fs";
import { inWorkspace } from "../config/paths.js";
import { durationMs, type Environment, type Service } from "../config/schema.js";
import type { Secrets } from "../config/secrets.js";
import { releasePaths } from "../commands/release.js";
import { deployComposeHost } from "../operations/compose.js";
import { DeployError, deployHost, supervisorDriver, systemdDriver, type HostDeployResult } from "../operations/deploy.js";
import { migrateDatabase } from "./database.js";
import { packRelease } from "../operations/artifact.js";
import { runIdentity } from "../operations/pg.js";
import { hostsStepsTable, mdDetails, mdTable, mdTimeline } from "../report/summary.js";
import type { ActionContext } from "./run-action.js";
import { reportDeploy } from "./github-report.js";
import { parseAppliedMigrations, type AppliedMigrationRecord } from "../ledger/ledger.js";

type Kind = "systemd" | "supervisor" | "compose";

/** Release ids sort by time: 20261123T114501123Z-1a2b3c4 (milliseconds: quick reruns never collide) */
export function releaseId(sha: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:.]/g, "");
  const short = (sha.match(/^[0-9a-f]{7,40}$/i) ? sha.slice(0, 7) : "manual").toLowerCase();
  return `${stamp}-${short}`;
}

export function serviceEnv(name: string, s: Service, secrets: Secrets): Record<string, string> {
  const env = { ...s.env };
  for (const [k, secret] of Object.entries(s["secret-env"])) env[k] = secrets.get(secret, `${k} of service ${name}`);
  return env;
}

/** Run fn on every host: all at once, in batches, or the canary first and then the rest. */
export async function rollout<T>(env: Environment, hosts: string[], fn: (host: string) => Promise<T>): Promise<{ ok: T[]; failed: { host: string; error: Error }[] }> {
  const r = env.policy.rollout;
  const waves: string[][] =
    r.mode === "canary" && r.canary && hosts.includes(r.canary)
      ? [[r.canary], hosts.filter((h) => h !== r.canary)]
      : r.mode === "batches"
        ? Array.from({ length: Math.ceil(hosts.length / (r["batch-size"] ?? 1)) }, (_, i) => hosts.slice(i * (r["batch-size"] ?? 1), (i + 1) * (r["batch-size"] ?? 1)))
        : [hosts];
  const ok: T[] = [];
  const failed: { host: string; error: Error }[] = [];
  for (const wave of waves.filter((w) => w.length)) {
    const results = await Promise.allSettled(wave.map(fn));
    results.forEach((res, i) => (res.status === "fulfilled" ? ok.push(res.value) : failed.push({ host: wave[i]!, error: res.reason as Error })));
    if (failed.length) break; // a failed wave stops the rollout: later hosts keep their release
  }
  return { ok, failed };
}

export const deploySystemdBody = (ctx: ActionContext) => deployBody(ctx, "systemd");
export const deploySupervisorBody = (ctx: ActionContext) => deployBody(ctx, "supervisor");
export const deployComposeBody = (ctx: ActionContext) => deployBody(ctx, "compose");

/** deploy-compose's migration step: the databases in the container of the stack's database service. */
function composeMigrations(ctx: ActionContext, host: string) {
  return async (_remote: unknown, o: { databaseCreated: boolean; container: string }) => {
    const dbs = Object.entries(ctx.loaded.env.databases).filter(([, d]) => d.engine === "postgres" && d.on?.host === host && d.on.container === o.container && d.migrations);
    if (dbs.length === 0) ctx.log.info(`[${host}] no database with migrations lives in container ${o.container}`);
    const heads: string[] = [];
    const records: AppliedMigrationRecord[] = [];
    for (const [name, def] of dbs) {
      const r = await migrateDatabase(ctx, name, def, { freshDatabase: o.databaseCreated });
      ctx.log.info(`[${host}] ${name}: applied ${r.applied.join(", ") || "nothing"}${r.head ? `, head ${r.head}` : ""}`);
      if (r.head) heads.push(r.head);
      records.push(...r.records);
    }
    return { ...(heads.length ? { migrationHead: heads.join(" ") } : {}), ...(records.length ? { migrations: records } : {}) };
  };
}

async function deployBody(ctx: ActionContext, kind: Kind): Promise<void> {
  const env = ctx.loaded.env;
  const only = ctx.input("service");
  const services = Object.entries(env.services).filter((e) => e[1].kind === kind && (!only || e[0] === only));
  if (only && services.length === 0) throw new Error(`service input names ${only}, which is not a ${kind} service in ${ctx.loaded.file}`);
  if (services.length === 0) throw new Error(`no ${kind} service in ${ctx.loaded.file}`);
  if (!ctx.dryRun) requireWindow(env.policy, ctx.loaded.file, `deploy ${services.map(([n]) => n).join(", ")}`);
  const sha = ctx.input("sha") || process.env.GITHUB_SHA || "manual";
  const id = releaseId(sha);
  const run = runIdentity();
  const applied = parseAppliedMigrations(ctx.input("migrations"), "the migrations input");
  const lockWaitMs = durationMs(ctx.input("lock-wait") || env.policy.lock.wait);
  const expires = new Date(Date.now() + durationMs(env.policy.lock.expiry)).toISOString().replace(/\.\d+Z$/, "Z");
  const results: (HostDeployResult & { digests?: Record<string, string> })[] = [];
  const failures: { host: string; error: Error }[] = [];
  for (const [name, s] of services) {
    const hosts = s.hosts.filter((h) => ctx.hosts.includes(h));
    const source = inWorkspace(ctx.input("release") || s.release || "");
    if (!ctx.input("release") && !s.release) throw new Error(`service ${name} has no release: and no release input was given`);
    if (!existsSync(source)) throw new Error(`release ${source} for service ${name} does not exist (build it earlier in the workflow)`);
    const envVars = serviceEnv(name, s, ctx.secrets);
    const timing = { startTimeoutSec: 60, stabilizeSec: s.stabilize !== undefined ? durationMs(s.stabilize) / 1000 : 5 };
    const driverFor = (sudo: boolean) => {
      const p = releasePaths(s["deploy-to"], id);
      return s.kind === "systemd" ? systemdDriver(name, s, p, sudo, { hasEnv: Object.keys(envVars).length > 0, ...timing }) : s.kind === "supervisor" ? supervisorDriver(name, s, p, sudo, envVars, timing) : undefined;
    };
    if (ctx.dryRun) {
      ctx.log.info(`dry run: would deploy ${source} as release ${id} of ${name} to ${hosts.join(", ")} (${s["deploy-to"]}), ${s.kind === "compose" ? `compose project ${s.project ?? name} (${s.strategy})` : `restart ${driverFor(false)!.label}`}`);
      continue;
    }
    const deployOn = async (h: string) => {
      const common = {
        serviceName: name,
        notes: { backupId: ctx.input("backup-id") || undefined, migrationHead: ctx.input("migration-head") || undefined, migrations: applied.length ? applied : undefined },
        source,
        releaseId: id,
        sha,
        env: envVars,
        owner: { run, actor: process.env.GITHUB_ACTOR ?? process.env.USER ?? "unknown", sha, since: new Date().toISOString().replace(/\.\d+Z$/, "Z"), expires },
        keep: env.policy["keep-releases"],
        lockWaitMs,
        sudo: env.hosts[h]!.sudo,
        log: ctx.log,
      };
      const remote = await ctx.pool.get(h);
      if (s.kind !== "compose") return deployHost(remote, { ...common, service: s, driver: driverFor(env.hosts[h]!.sudo)!, artifact: await pack! });
      return deployComposeHost(remote, {
        ...common,
        service: s,
        commands: env.hosts[h]!.commands ?? {},
        timeoutSec: durationMs(s["wait-timeout"]) / 1000,
        stabilizeSec: timing.stabilizeSec,
        migrate: ctx.input("migrate") === "false" ? undefined : composeMigrations(ctx, h),
      });
    };
    // packed once for every host of the service, while their SSH handshakes run; each host awaits it and reports its error
    const pack = s.kind === "compose" ? undefined : packRelease(source);
    pack?.catch(() => undefined);
    try {
      const out = await rollout(env, hosts, (h) => ctx.log.group(`deploy ${name} to ${h}`, () => deployOn(h)));
      results.push(...out.ok);
      failures.push(...out.failed);
    } finally {
      if (pack) (await pack.catch(() => undefined))?.dispose();
    }
  }
  if (ctx.dryRun) return;
  ctx.out.set("release-id", id);
  ctx.out.set("hosts", JSON.stringify(Object.fromEntries([...results.map((r) => [r.host, { release: r.releaseId, outcome: "success", execs: r.execs }]), ...failures.map((f) => [f.host, { release: (f.error as DeployError).restored ? "previous (restored)" : "unchanged", outcome: "failure" }])])));
  ctx.out.set("changed", String(results.some((r) => r.changed)));
  if (kind === "compose") ctx.out.set("digests", JSON.stringify(Object.fromEntries(results.map((r) => [r.host, r.digests ?? {}]))));
  let md = `### slipway deploy-${kind} — ${ctx.loaded.name}, release ${id}\n\n`;
  md += mdTable(
    ["host", "outcome", "release", "previous"],
    [
      ...results.map((r) => [r.host, r.changed ? "✅ deployed" : "✅ unchanged", r.releaseId, r.previous ?? "none"]),
      ...failures.map((f) => [f.host, (f.error as DeployError).restored ? "❌ failed, previous restored" : "❌ failed", "", ""]),
    ],
  );
  // hosts × steps × duration, and the same as a timeline
  const spans = [...results.map((r) => ({ host: r.host, steps: r.steps })), ...failures.map((f) => ({ host: f.host, steps: (f.error as DeployError).steps ?? [] }))].flatMap((h) =>
    h.steps.map((st) => ({ host: h.host, step: st.step, startMs: st.startMs, endMs: st.startMs + st.ms })),
  );
  if (spans.length) md += `\n${hostsStepsTable(spans)}\n${mdTimeline(spans)}`;
  for (const r of results.filter((r) => r.digests)) md += `\n${mdTable([`${r.host}: service`, "image id"], Object.entries(r.digests!).map(([svc, d]) => [svc, `\`${d}\``]))}`;
  for (const f of failures) md += mdDetails(`${f.host}: why it failed`, f.error.message);
  await ctx.out.summary(md);
  if (results.length || failures.length) {
    const deployment = await reportDeploy(ctx, { sha, release: id, hosts: [...results.map((r) => r.host), ...failures.map((f) => f.host)], failed: failures.length > 0, migrationHead: ctx.input("migration-head") || undefined, migrations: applied });
    ctx.out.set("deployment-id", deployment === undefined ? "" : String(deployment));
  }
  if (failures.length) throw new Error(`deploy failed on ${failures.length} host(s):\n${failures.map((f) => f.error.message).join("\n\n")}`);
}
