// What the actions report to GitHub themselves, so that no step of a user's workflow needs slipway's
// CLI: deploy-* create the deployment (in_progress), verify-health marks it success or failure,
// rollback records its own deployment (payload rollback: true) and retires the one it replaced.
// The token is the `github-token` input; GITHUB_API_URL and GITHUB_REPOSITORY come from the runner.
// Reporting never fails a step: every problem is a warning naming what was not reported.
import path from "node:path";
import { releaseCommit } from "../commands/release.js";
import { lastSlipwayDeployment } from "../github/deployments.js";
import { GitHubClient, githubConfigFromEnv, reportDeploymentStart, reportDeploymentStatus, type DeploymentState } from "../github/client.js";
import type { AppliedMigrationRecord } from "../ledger/ledger.js";
import { listInput, type ActionContext } from "./run-action.js";

/** A client for the action's `github-token`, or undefined (said in the log) when there is nothing to report with. */
export function actionGithub(ctx: Pick<ActionContext, "input" | "log" | "secrets">): GitHubClient | undefined {
  const token = ctx.input("github-token").trim();
  if (!token || token.startsWith("${{")) {
    if (process.env.GITHUB_ACTIONS === "true") ctx.log.info("github-token is empty: nothing is reported to GitHub");
    return undefined;
  }
  ctx.secrets.derived(token);
  const { config, missing } = githubConfigFromEnv({ ...process.env, GITHUB_TOKEN: token });
  if (!config) {
    ctx.log.warn(`GitHub reporting skipped: ${missing.join("; ")} not set`);
    return undefined;
  }
  return new GitHubClient(config);
}

/**
 * The GitHub environment of the job: environments/<name>.yml is deployed by a job with `environment:
 * <name>`, whatever the file's `name:` says (validate warns when they differ).
 */
export const githubEnvironment = (ctx: Pick<ActionContext, "loaded">) => path.basename(ctx.loaded.file).replace(/\.ya?ml$/, "");

const warnOf = (ctx: Pick<ActionContext, "log">) => (m: string) => ctx.log.warn(m);
const isCommit = (sha: string) => /^[0-9a-f]{7,40}$/i.test(sha);

/** deploy-*: the deployment of `release` on `hosts`, in_progress when the deploy succeeded (verify-health decides), failure when it did not. */
export async function reportDeploy(
  ctx: ActionContext,
  d: { sha: string; release: string; hosts: string[]; failed: boolean; migrationHead?: string; migrations?: AppliedMigrationRecord[] },
): Promise<number | undefined> {
  const client = actionGithub(ctx);
  if (!client) return undefined;
  if (!isCommit(d.sha)) return void ctx.log.warn(`GitHub deployment not created: '${d.sha}' is not a commit (the sha input)`);
  const id = await reportDeploymentStart(
    {
      ref: d.sha,
      environment: githubEnvironment(ctx),
      release: d.release,
      hosts: d.hosts,
      production: ctx.input("production") === "true",
      // the plan comment of a later pull request reads them: which migrations will run, which releases are safe to roll back to
      payload: { ...(d.migrationHead ? { migrationHead: d.migrationHead } : {}), ...(d.migrations?.length ? { migrations: d.migrations } : {}) },
    },
    { client, warn: warnOf(ctx) },
  );
  if (id !== undefined && d.failed) await reportDeploymentStatus(id, { state: "failure", description: `deploy of ${d.release} failed` }, { client, warn: warnOf(ctx) });
  if (id !== undefined) ctx.log.info(`GitHub deployment ${id}: ${d.failed ? "failure" : "in_progress until verify-health reports"}`);
  return id;
}

/** The ids of a deployment-id input: "12", "12,13" (one per deploy step); empty and non-numbers are left out. */
export const deploymentIds = (value: string): number[] =>
  listInput(value)
    .filter((v) => /^\d+$/.test(v))
    .map(Number);

/** verify-health: the outcome of each deployment it verified. */
export async function reportVerified(ctx: ActionContext, healthy: boolean, detail: string): Promise<void> {
  const ids = deploymentIds(ctx.input("deployment-id"));
  if (!ids.length) return;
  const client = actionGithub(ctx);
  if (!client) return;
  const state: DeploymentState = healthy ? "success" : "failure";
  for (const id of ids) await reportDeploymentStatus(id, { state, description: detail }, { client, warn: warnOf(ctx) });
}

/** The environment's last successful slipway deployment, or undefined (a warning when it could not be read). */
export async function lastDeployment(ctx: Pick<ActionContext, "input" | "log" | "secrets" | "loaded">, client = actionGithub(ctx)) {
  if (!client) return undefined;
  try {
    return await lastSlipwayDeployment(client, githubEnvironment(ctx));
  } catch (e) {
    ctx.log.warn(`the last deployment of ${ctx.loaded.name} could not be read from GitHub: ${(e as Error).message}`);
    return undefined;
  }
}

/**
 * rollback: a deployment recording the release it returned to (payload rollback: true, so drift
 * expects that release's commit), success or failure; after a success the deployment it replaced
 * (`before`, read before the rollback) is marked inactive.
 */
export async function reportRollback(ctx: ActionContext, r: { release: string; hosts: string[]; ok: boolean; before?: number }): Promise<number | undefined> {
  const client = actionGithub(ctx);
  if (!client) return undefined;
  const commit = releaseCommit(r.release) ?? process.env.GITHUB_SHA ?? "";
  const ref = process.env.GITHUB_SHA && isCommit(process.env.GITHUB_SHA) ? process.env.GITHUB_SHA : commit;
  if (!isCommit(ref)) return void ctx.log.warn("GitHub deployment of the rollback not created: no commit to attach it to (GITHUB_SHA)");
  const warn = warnOf(ctx);
  const id = await reportDeploymentStart(
    { ref, environment: githubEnvironment(ctx), release: r.release, hosts: r.hosts, production: ctx.input("production") === "true", payload: { rollback: true }, description: `slipway rollback to ${r.release}` },
    { client, warn },
  );
  await reportDeploymentStatus(id, { state: r.ok ? "success" : "failure", description: `rollback to ${r.release}` }, { client, warn });
  if (r.ok && r.before !== undefined && r.before !== id) await reportDeploymentStatus(r.before, { state: "inactive", description: `rolled back to ${r.release}` }, { client, warn });
  return id;
}
