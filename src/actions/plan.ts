// The body of the plan action: the environment file is already validated (runAction annotates each
// problem at its line); this shows what a deploy would do, says which kinds of service it deploys
// (the reusable deploy workflow runs only the deploy actions it needs), and on a pull request
// creates or updates the one comment of this environment. No connection, no secret.
import { execFileSync } from "node:child_process";
import { formatPlan } from "../operations/plan.js";
import { lintSection, parseNameStatus, planComment, planMarker, schemaSection, type ChangedFile } from "../github/plan-comment.js";
import { slipwayPayload } from "../github/deployments.js";
import { schemaPlan, type DeployedRelease } from "../operations/schema-plan.js";
import type { DatabaseLint } from "../operations/lint-migrations.js";
import { formatFinding } from "../lint/rules.js";
import { allFindings, isBlocking, lintEnvironment } from "../operations/lint-migrations.js";
import { reportComment, runUrl } from "../github/client.js";
import { actionGithub, githubEnvironment } from "./github-report.js";
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

/**
 * The schema section: pending migrations and safe rollback targets, from the environment's
 * deployments on GitHub (their payloads record the release and the migration head).
 */
async function schemaOf(ctx: ActionContext, lints: DatabaseLint[]): Promise<string> {
  if (!lints.length) return "";
  const databases = Object.entries(ctx.loaded.env.databases).filter(([, d]) => d.migrations).map(([n]) => n);
  const client = actionGithub(ctx);
  if (!client) return schemaSection({ unknown: "no github-token to read the environment's deployments with" });
  try {
    const live = await client.liveDeployments(githubEnvironment(ctx), "deploy", (d) => typeof slipwayPayload(d.payload)?.release === "string");
    const deployed: DeployedRelease[] = live.map((d) => {
      const p = slipwayPayload(d.payload) as { release: string; rollback?: boolean; migrationHead?: unknown };
      return { release: p.release, sha: d.sha, rollback: p.rollback === true, migrationHead: typeof p.migrationHead === "string" ? p.migrationHead : undefined };
    });
    return schemaSection(schemaPlan(lints, databases, deployed));
  } catch (e) {
    ctx.log.warn(`the deployments of ${ctx.loaded.name} could not be read from GitHub: ${(e as Error).message}`);
    return schemaSection({ unknown: `GitHub's deployments could not be read (${(e as Error).message.split("\n")[0]}); the job needs permissions: deployments: read` });
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
  const mode = ctx.input("comment").trim() || "auto";
  if (!["auto", "true", "false"].includes(mode)) throw new Error(`comment input is '${mode}': use auto, true or false`);
  const lintInput = ctx.input("lint").trim() || "true";
  if (!["true", "false"].includes(lintInput)) throw new Error(`lint input is '${lintInput}': use true or false`);
  const pr = ctx.input("pull-request").trim();
  const commenting = mode === "true" || (mode === "auto" && pr !== "");
  if (commenting && !/^[1-9]\d*$/.test(pr)) throw new Error(`comment is ${mode} but pull-request is '${pr}': give the pull request's number (on a pull_request event it is github.event.pull_request.number)`);

  // the migration lint: annotations at the SQL lines and a table in the comment; apply-migrations is the gate (pending files only)
  const lints = lintInput === "true" ? await lintEnvironment(ctx.loaded) : [];
  const findings = allFindings(lints);
  for (const f of findings) ctx.log.annotate(isBlocking(f) ? "error" : "warn", formatFinding(f), f);
  for (const l of lints.filter((l) => l.notLinted)) ctx.log.warn(`the alembic revisions of ${l.database} were not linted: ${l.notLinted}`);
  ctx.out.set("lint-errors", lintInput === "true" ? String(findings.filter(isBlocking).length) : "");
  // what the pull request does to the schema: read from GitHub's deployments, only for the comment
  const schema = commenting ? await schemaOf(ctx, lints) : "";
  const body = planComment(ctx.loaded, changed, { sha: head, runUrl: runUrl(), schema, lint: lintSection(findings, lints.reduce((n, l) => n + l.files.length, 0), lints.filter((l) => l.notLinted).map((l) => `The alembic revisions of ${l.database} were not linted: ${l.notLinted}`)) });
  await ctx.out.summary(body);
  if (!commenting) return;
  const client = actionGithub(ctx);
  if (!client) return;
  const action = await reportComment(Number(pr), planMarker(name), body, { client, warn: (m) => ctx.log.warn(m) });
  if (action) ctx.log.info(`plan comment ${action} on #${pr}`);
}
