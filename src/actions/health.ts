// The body of verify-health: run the environment's checks (or those named in `checks`), write a
// table of every check to the job summary (failures with their evidence, collapsed), set
// `healthy` and `report`, and fail the step naming every failing check and host.
import { compactDetail, failureLines, formatMs, planChecks, RUNNER, runHealthChecks, type HealthReport, type PlannedCheck } from "../operations/health.js";
import { mdDetails, mdTable } from "../report/summary.js";
import { listInput, type ActionContext } from "./run-action.js";
import { reportVerified } from "./github-report.js";

/** Check names may contain spaces: the `checks` input is split on commas and newlines only. */
export const checkNamesInput = (value: string): string[] =>
  value
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);

const policyText = (p: PlannedCheck) => `timeout ${formatMs(p.policy.timeoutMs)}, retries ${p.policy.retries}, interval ${formatMs(p.policy.intervalMs)}, stable ${p.policy.stable}`;

/** The job summary of a run: one row per check and place, failures' details collapsed below. */
export function healthSummary(envName: string, report: HealthReport): string {
  const failed = report.results.filter((r) => !r.ok);
  let md = `### slipway verify-health — ${envName}: ${report.healthy ? "✅ healthy" : `❌ ${failed.length} of ${report.results.length} check(s) failed`}\n\n`;
  md += mdTable(
    ["check", "kind", "host", "result", "attempts", "duration", "detail"],
    report.results.map((r) => [r.name, r.kind, r.host, r.ok ? "✅" : "❌", r.attempts, formatMs(r.ms), compactDetail(r.detail, 160)]),
  );
  for (const r of failed) md += "\n" + mdDetails(`❌ ${r.name} on ${r.host}`, r.detail);
  if (report.skipped.length) md += `\nSkipped (hosts filter): ${report.skipped.map((s) => `${s.name} (${s.reason})`).join("; ")}\n`;
  return md;
}

export async function verifyHealthBody(ctx: ActionContext): Promise<void> {
  const env = ctx.loaded.env;
  if (env.checks.length === 0) throw new Error(`${ctx.loaded.file} has no checks: add a checks: section (http, tcp, command, systemd, …) to verify this environment`);
  const opts = { checks: checkNamesInput(ctx.input("checks")), hosts: listInput(ctx.input("hosts")) };
  if (ctx.dryRun) {
    const { planned, skipped } = planChecks(env, opts);
    for (const p of planned) ctx.log.info(`dry run: would check "${p.name}" (${p.kind} ${p.target}) on ${p.places.map((h) => h ?? RUNNER).join(", ")}; ${policyText(p)}`);
    for (const s of skipped) ctx.log.info(`dry run: would skip "${s.name}": ${s.reason}`);
    await ctx.out.summary(
      `### slipway verify-health — ${ctx.loaded.name} (dry run: nothing was checked)\n\n` +
        mdTable(["check", "kind", "target", "where", "retry policy"], planned.map((p) => [p.name, p.kind, p.target, p.places.map((h) => h ?? RUNNER).join(", "), policyText(p)])),
    );
    return;
  }
  const report = await runHealthChecks(ctx, opts).catch(async (e: Error) => {
    await reportVerified(ctx, false, `verification could not run: ${e.message}`.slice(0, 140));
    throw e;
  });
  ctx.out.set("healthy", String(report.healthy));
  ctx.out.set("report", JSON.stringify(report.results.map(({ name, kind, host, ok, attempts, ms, detail }) => ({ name, kind, host, ok, attempts, ms, detail }))));
  await ctx.out.summary(healthSummary(ctx.loaded.name, report));
  const lines = failureLines(report);
  await reportVerified(ctx, report.healthy, report.healthy ? `${report.results.length} health check(s) passed` : `failed: ${lines.join("; ")}`.slice(0, 140));
  if (!report.healthy) {
    throw new Error(`${lines.length} of ${report.results.length} health check(s) failed: ${lines.join("; ")}`);
  }
  ctx.log.info(`all ${report.results.length} health check(s) passed in ${formatMs(report.ms)}`);
}
