// `slipway github …`: what the workflows report to GitHub (deployments, statuses, the plan
// comment). Reporting never fails a workflow step: problems are warnings, the exit code stays 0.
import { readFileSync } from "node:fs";
import { InvalidArgumentError, type Command } from "commander";
import { loadEnvironment } from "../config/load.js";
import { githubFromEnv, reportComment, reportDeploymentStart, reportDeploymentStatus, runUrl, warnToStderr, type DeploymentState } from "../github/client.js";
import { parseNameStatus, planComment } from "../github/plan-comment.js";
import { expectedCommit, lastSlipwayDeployment } from "../github/deployments.js";

const states = ["in_progress", "success", "failure", "inactive", "error", "queued", "pending"];

/** "a,b c" or a JSON array, or a JSON object whose keys are hosts (deploy-*'s `hosts` output). */
export function hostList(value: string): string[] {
  const v = value.trim();
  if (v.startsWith("{") || v.startsWith("[")) {
    const parsed = JSON.parse(v) as unknown;
    return Array.isArray(parsed) ? parsed.map(String) : Object.keys(parsed as object);
  }
  return v.split(/[\s,]+/).filter(Boolean);
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a positive integer");
  return n;
};

export function registerGithub(program: Command): void {
  const gh = program.command("github").description("report to GitHub from a workflow (GITHUB_TOKEN, GITHUB_API_URL, GITHUB_REPOSITORY); failures are warnings, never errors");
  const dep = gh.command("deployment").description("GitHub deployments");

  dep
    .command("create")
    .description("create a deployment (payload: release, hosts) marked in_progress; prints its id, or nothing if it could not be reported")
    .requiredOption("--environment <name>", "GitHub environment")
    .requiredOption("--release <id>", "the release id deployed")
    .option("--hosts <list>", "hosts: comma separated, a JSON array, or deploy-*'s hosts output (JSON object)", "")
    .option("--ref <ref>", "commit or ref deployed", process.env.GITHUB_SHA ?? "")
    .option("--task <task>", "deploy, or e.g. deploy:rollback", "deploy")
    .option("--rollback", "a rollback: payload.rollback is true (drift then expects the release's commit)", false)
    .option("--production", "production_environment: true", false)
    .option("--transient", "transient_environment: true", false)
    .option("--environment-url <url>", "environment_url of the status")
    .action(async (o: { environment: string; release: string; hosts: string; ref: string; task: string; rollback: boolean; production: boolean; transient: boolean; environmentUrl?: string }) => {
      if (!o.ref) throw new InvalidArgumentError("--ref is needed outside GitHub Actions (GITHUB_SHA is not set)");
      const id = await reportDeploymentStart({ ref: o.ref, environment: o.environment, release: o.release, hosts: hostList(o.hosts), task: o.task, payload: o.rollback ? { rollback: true } : undefined, production: o.production, transient: o.transient, environmentUrl: o.environmentUrl });
      if (id !== undefined) console.log(id);
    });

  dep
    .command("status")
    .description("add a status to a deployment (does nothing without an id)")
    .option("--id <id>", "deployment id (empty: nothing to do)", "")
    .requiredOption("--state <state>", states.join(", "))
    .option("--environment-url <url>", "environment_url")
    .option("--description <text>", "a short description (140 characters)")
    .action(async (o: { id: string; state: string; environmentUrl?: string; description?: string }) => {
      if (!states.includes(o.state)) throw new InvalidArgumentError(`--state must be one of ${states.join(", ")}`);
      if (!o.id) return void warnToStderr(`no deployment id: status ${o.state} not reported`);
      await reportDeploymentStatus(positiveInt(o.id), { state: o.state as DeploymentState, environmentUrl: o.environmentUrl, description: o.description });
    });

  gh.command("last-deployed")
    .description("of the environment's newest deployment made by slipway whose latest status is success, print the commit that should be live (a rollback's: its release's) or the id; nothing if none or unknown")
    .requiredOption("--environment <name>", "GitHub environment")
    .option("--print <what>", "commit or id", "commit")
    .action(async (o: { environment: string; print: string }) => {
      if (o.print !== "commit" && o.print !== "id") throw new InvalidArgumentError("--print commit or --print id");
      const client = githubFromEnv();
      if (!client) return;
      try {
        const last = await lastSlipwayDeployment(client, o.environment);
        if (last) console.log(o.print === "id" ? last.id : expectedCommit(last));
        else warnToStderr(`no successful slipway deployment to ${o.environment} found`);
      } catch (e) {
        warnToStderr((e as Error).message);
      }
    });

  gh.command("comment")
    .description("create or update (in place) the issue/pull-request comment that carries --marker")
    .requiredOption("--issue <number>", "issue or pull request number", positiveInt)
    .requiredOption("--marker <marker>", "a hidden marker, e.g. <!-- slipway-plan:production -->")
    .requiredOption("--file <path>", "the comment body (markdown)")
    .action(async (o: { issue: number; marker: string; file: string }) => {
      if (!/^<!--[\s\S]*-->$/.test(o.marker)) throw new InvalidArgumentError("--marker must be an HTML comment (<!-- … -->), invisible in the rendered comment");
      const action = await reportComment(o.issue, o.marker, readFileSync(o.file, "utf8"));
      if (action) console.log(`comment ${action} on #${o.issue}`);
    });

  gh.command("plan-comment")
    .description("print plan.yml's comment for an environment: the plan and the changed files that concern it")
    .argument("<env>", "environment name or path")
    .option("--changed <file>", "output of `git diff --name-status base...head`")
    .action((ref: string, o: { changed?: string }) => {
      const changed = o.changed ? parseNameStatus(readFileSync(o.changed, "utf8")) : [];
      process.stdout.write(planComment(loadEnvironment(ref), changed, { sha: process.env.PR_HEAD_SHA ?? process.env.GITHUB_SHA, runUrl: runUrl() }));
    });
}
