// The body of the plan action: the environment file is already validated (runAction annotates each
// problem at its line); this shows what a deploy would do, says which kinds of service it deploys
// (the reusable deploy workflow runs only the deploy actions it needs), and on a pull request
// creates or updates the one comment of this environment. No connection, no secret.
import { execFileSync } from "node:child_process";
import { formatPlan } from "../operations/plan.js";
import { lintSection, parseNameStatus, planComment, planMarker, type ChangedFile } from "../github/plan-comment.js";
import { formatFinding } from "../lint/rules.js";
import { allFindings, isBlocking, lintEnvironment } from "../operations/lint-migrations.js";
import { reportComment, runUrl } from "../github/client.js";
import { actionGithub } from "./github-report.js";
import type { ActionContext } from "./run-action.js";

/** The files changed between base and head (`git diff --name-status base...head` in the checkout). */
function changedFiles(ctx: ActionContext, base: string, head: string): ChangedFile[] {
  try {
    return parseNameStatus(execFileSync("git", ["diff", "--name-status", `${base}...${head}`], { cwd: process.env.GITHUB_WORKSPACE || process.cwd(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
  } catch (e) {
    const why = ((e as { stderr?: string }).stderr || (e as Error).message).trim().split("\n")[0];
    ctx.log.warn(`the changed files are not listed: git diff ${base.slice(0, 12)}...${head.slice(0, 12)} failed (${why}); check out with fetch-depth: 0`);
    return [];
  }
}

export async function planBody(ctx: ActionContext): Promise<void> {
  const { env, name } = ctx.loaded;
  const plan = formatPlan(name, env);
  ctx.log.info(plan);
  const kinds = [...new Set(Object.values(env.services).map((s) => s.kind))].sort();
  ctx.out.set("plan", plan);
  ctx.out.set("kinds", JSON.stringify(kinds));
  for (const kind of ["systemd", "supervisor", "compose"]) ctx.out.set(kind, String(kinds.includes(kind as (typeof kinds)[number])));
  ctx.out.set("has-migrations", String(Object.values(env.databases).some((d) => !!d.migrations)));

  const base = ctx.input("base").trim();
  const head = ctx.input("head").trim() || process.env.GITHUB_SHA || "HEAD";
  const changed = base ? changedFiles(ctx, base, head) : [];
  // the migration lint: annotations at the SQL lines and a table in the comment; apply-migrations is the gate (pending files only)
  const lints = await lintEnvironment(ctx.loaded);
  const findings = allFindings(lints);
  for (const f of findings) ctx.log.annotate(isBlocking(f) ? "error" : "warn", formatFinding(f), f);
  ctx.out.set("lint-errors", String(findings.filter(isBlocking).length));
  const body = planComment(ctx.loaded, changed, { sha: head, runUrl: runUrl(), lint: lintSection(findings, lints.reduce((n, l) => n + l.files.length, 0)) });
  await ctx.out.summary(body);

  const mode = ctx.input("comment").trim() || "auto";
  if (!["auto", "true", "false"].includes(mode)) throw new Error(`comment input is '${mode}': use auto, true or false`);
  const pr = ctx.input("pull-request").trim();
  if (mode === "false" || (mode === "auto" && !pr)) return;
  if (!/^[1-9]\d*$/.test(pr)) throw new Error(`comment is ${mode} but pull-request is '${pr}': give the pull request's number (on a pull_request event it is github.event.pull_request.number)`);
  const client = actionGithub(ctx);
  if (!client) return;
  const action = await reportComment(Number(pr), planMarker(name), body, { client, warn: (m) => ctx.log.warn(m) });
  if (action) ctx.log.info(`plan comment ${action} on #${pr}`);
}
