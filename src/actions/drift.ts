// The body of the drift action: each host's live release against the commit that should be live —
// the sha input, else the commit of the environment's last successful slipway deployment on GitHub.
// Read-only; fails with the diff when anything drifted.
import { driftReport, driftTargets } from "../operations/drift.js";
import { expectedCommit } from "../github/deployments.js";
import { lastDeployment } from "./github-report.js";
import type { ActionContext } from "./run-action.js";

export async function driftBody(ctx: ActionContext): Promise<void> {
  let sha = ctx.input("sha").trim();
  if (!sha) {
    const last = await lastDeployment(ctx);
    if (last) sha = expectedCommit(last);
    else ctx.log.info(`no successful slipway deployment of ${ctx.loaded.name} known on GitHub: checking that every host runs a recorded release and the hosts of a service agree`);
  }
  const service = ctx.input("service").trim();
  if (service && !(service in ctx.loaded.env.services)) throw new Error(`service input names ${service}, which is not a service in ${ctx.loaded.file} (services: ${Object.keys(ctx.loaded.env.services).join(", ")})`);
  const targets = await driftTargets(ctx.loaded.env, ctx.pool, { service: service || undefined, hosts: ctx.hosts });
  const { text, problems } = driftReport(ctx.loaded.name, targets, sha || undefined);
  ctx.log.info(text);
  ctx.out.set("problems", String(problems));
  ctx.out.set("report", text);
  ctx.out.set("expected-sha", sha);
  await ctx.out.summary(`### slipway drift — ${ctx.loaded.name}: ${problems ? `❌ ${problems} problem(s)` : "✅ none"}\n\n\`\`\`diff\n${text}\n\`\`\`\n`);
  if (problems) throw new Error(`${problems} drift problem(s) in ${ctx.loaded.name}: see the diff above`);
}
