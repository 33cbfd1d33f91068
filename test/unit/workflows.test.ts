// The GitOps workflows' structure: slipway's reusable workflows (.github/workflows, on: workflow_call)
// and the callers an app repository holds (examples/workflows, and each example repository's
// examples/<name>/.github/workflows), checked against slipway's actions (src/actions/specs.ts) and the
// environment files the callers name. Each rule is a function returning its problems; every rule is
// run on the committed workflows (no problem) and on a broken copy (the problem is found), so a rule
// that stopped checking anything would fail here too. actionlint itself runs in action-yml.test.ts
// and lint-workflows.test.ts.
//
// What the move to versioned references (#15) replaced: the steps no longer run slipway's CLI
// (`node dist/cli/index.js github deployment|comment|last-deployed|kinds`, `… drift`), so
//  - the permissions a job needs come from the actions it uses (and their github-token input), not
//    from CLI calls;
//  - secrets are no longer mapped by name into each step (exactly the names the environment file
//    gives for that action): every slipway step gets the caller's secrets as one bundle,
//    SLIPWAY_SECRETS: ${{ toJSON(secrets) }}, and the action reads only what the environment file
//    names (`slipway lint-workflows` checks that the named secrets reach the steps);
//  - "the comment is found by its marker, on the pull request" and "drift runs after github
//    last-deployed with --sha" are the plan and drift actions' own behaviour now (plan-comment.test.ts,
//    drift.test.ts); here: the plan action in a matrix over every environment, drift against the last
//    deployment (sha empty, a token that can read deployments);
//  - deploy.yml's plan job and its `environments` output (each deploy behind
//    `contains(fromJSON(needs.plan.outputs.environments), …)` and `!failure() && !cancelled()`) are
//    gone: deploy-environment.yml plans (and validates) its own environment first, and a deploy runs
//    only after the previous one succeeded (no if:);
//  - backup.yml's matrix over every database host with per-host retention: the reusable backup backs
//    up every database of an environment in one job; the caller's matrix covers every environment with
//    a database and keeps runner dumps at least as long as the environment keeps its backups.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { exampleWorkflowDirs, lintWorkflows } from "../../scripts/lint-workflows.js";
import { actionNames, actionSpecs, inputsOf, type ActionName } from "../../src/actions/specs.js";
import { SLIPWAY_OWNER, slipwayMajor } from "../../src/config/json-schema.js";
import { loadEnvironment } from "../../src/config/load.js";
import type { Environment } from "../../src/config/schema.js";

type Y = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML
const clone = <T>(x: T): T => structuredClone(x);

/** slipway's own: its CI and the five reusable workflows */
const DIR = ".github/workflows";
const REUSABLE = ["backup", "deploy-environment", "drift", "plan", "rollback"] as const;
/** the callers a user's repository holds, and each example repository's */
const CALLERS = "examples/workflows";
const EXAMPLE_DIRS = exampleWorkflowDirs();
/** how a workflow names slipway: by versioned reference, the major tag the release script moves */
const SLIPWAY = `${SLIPWAY_OWNER}/slipway`;
const MAJOR = `v${slipwayMajor}`;
const actionRef = (name: string) => `${SLIPWAY}/actions/${name}@${MAJOR}`;
const workflowRef = (file: string) => `${SLIPWAY}/.github/workflows/${file}@${MAJOR}`;
/** slipway's steps get every secret as one JSON object and read only what their environment file names */
const ALL_SECRETS = "${{ toJSON(secrets) }}";
/** the environments examples/workflows deploy, in order */
const DEPLOY_CHAIN = ["staging", "production", "nas"];
/** the environment files examples/workflows (a template naming staging, production and nas) and slipway's own workflows are checked against: the test fixtures, paths in them relative to this repository */
const FIXTURE_ENVS = "test/fixtures/environments";

interface W {
  /** path from the repository root */
  file: string;
  wf: Y;
  /** the repository the workflow belongs to (paths in its environment files are relative to it): "." or examples/<name> */
  root: string;
  /** the environment files its callers name: examples/<name>/environments, or FIXTURE_ENVS for "." */
  envDir: string;
  /** the environments its callers name (empty for slipway's own) */
  chain: string[];
}

const envFilesOf = (envDir: string) =>
  readdirSync(envDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => f.replace(/\.ya?ml$/, ""))
    .sort();
const envCache = new Map<string, Environment>();
function envOf(w: W, name: string): Environment | undefined {
  const key = `${w.envDir}:${name}`;
  if (!envCache.has(key) && envFilesOf(w.envDir).includes(name)) envCache.set(key, loadEnvironment(path.relative(w.root, path.join(w.envDir, `${name}.yml`)), w.root).env);
  return envCache.get(key);
}

const load = (file: string, root: string, envDir: string, chain: string[]): W => ({ file, wf: parse(readFileSync(file, "utf8")), root, envDir, chain });
const workflows: Record<string, W> = Object.fromEntries(
  [
    ...["ci", ...REUSABLE].map((n) => load(`${DIR}/${n}.yml`, ".", FIXTURE_ENVS, [])),
    ...readdirSync(CALLERS).filter((f) => f.endsWith(".yml")).sort().map((f) => load(`${CALLERS}/${f}`, ".", FIXTURE_ENVS, DEPLOY_CHAIN)),
    ...EXAMPLE_DIRS.flatMap((d) => {
      const root = path.dirname(path.dirname(d));
      const envDir = path.join(root, "environments");
      return readdirSync(d).filter((f) => f.endsWith(".yml")).sort().map((f) => load(path.join(d, f), root, envDir, envFilesOf(envDir)));
    }),
  ].map((w) => [w.file, w]),
);
const R = (n: (typeof REUSABLE)[number]) => `${DIR}/${n}.yml`;
const C = (n: string) => `${CALLERS}/${n}.yml`;
const isCaller = (w: W) => !w.file.startsWith(`${DIR}/`);

const jobsOf = (wf: Y): [string, Y][] => Object.entries(wf?.jobs ?? {});
const stepsOf = (job: Y): Y[] => job?.steps ?? [];
/** the slipway action a step uses (uses: OWNER/slipway/actions/<name>@<ref>) */
const slipwayAction = (step: Y): string | undefined => (typeof step?.uses === "string" ? new RegExp(`^${SLIPWAY}/actions/([^/@]+)@`).exec(step.uses)?.[1] : undefined);
/** the reusable workflow file a caller job runs (jobs.<id>.uses: OWNER/slipway/.github/workflows/<file>@<ref>) */
const calleeFile = (job: Y): string | undefined => (typeof job?.uses === "string" ? new RegExp(`^${SLIPWAY}/\\.github/workflows/([^/@]+)@`).exec(job.uses)?.[1] : undefined);
/** …resolved to this repository's .github/workflows/<file> */
function callee(job: Y): Y | undefined {
  const file = calleeFile(job);
  return file && existsSync(path.join(DIR, file)) ? parse(readFileSync(path.join(DIR, file), "utf8")) : undefined;
}
/** every string in a value, with where it is */
const strings = (v: Y, at = ""): [string, string][] =>
  typeof v === "string" ? [[at, v]] : v && typeof v === "object" ? Object.entries(v).flatMap(([k, x]) => strings(x, at ? `${at}.${k}` : k)) : [];
const where = (jobName: string, step: Y) => `${jobName}/${step.id ?? step.name ?? step.uses}`;
const json = (x: unknown) => JSON.stringify(x);
const sorted = (xs: string[]) => [...xs].sort();

// ---- the rules ---------------------------------------------------------------------------------------

/** slipway by versioned reference only: OWNER/slipway/actions/<name>@v0 and OWNER/slipway/.github/workflows/<file>@v0; never ./actions/ nor slipway's CLI; other actions pinned by a version tag */
function references(w: W): string[] {
  const problems: string[] = [];
  for (const [at, v] of strings(w.wf)) {
    if (v.includes("./actions/")) problems.push(`${at}: ${v}: slipway's actions are referenced as ${SLIPWAY}/actions/<name>@${MAJOR}, never ./actions/ (an app repository holds nothing of slipway)`);
    if (/dist\/cli\/|\bnpx slipway\b/.test(v)) problems.push(`${at}: runs slipway's CLI; the workflows use slipway's actions only (they report to GitHub themselves)`);
  }
  const looksLikeSlipway = (u: string) => /(^|\/)slipway\/(actions|\.github\/workflows)\//i.test(u) || u.startsWith("./");
  for (const [jobName, job] of jobsOf(w.wf)) {
    if (typeof job.uses === "string") {
      const file = calleeFile(job);
      if (!file || job.uses !== workflowRef(file)) problems.push(`${jobName}: uses: ${job.uses}: a caller names slipway's reusable workflow as ${workflowRef(file ?? "<file>")}`);
    }
    for (const step of stepsOf(job)) {
      if (typeof step.uses !== "string") continue;
      const name = slipwayAction(step);
      if (name !== undefined || looksLikeSlipway(step.uses)) {
        if (step.uses !== actionRef(name ?? "<name>")) problems.push(`${where(jobName, step)}: uses: ${step.uses}: slipway's actions are referenced as ${actionRef(name ?? "<name>")} (the major tag)`);
      } else if (!/^[\w.-]+\/[\w./-]+@v\d+(\.\d+){0,2}$/.test(step.uses)) problems.push(`${where(jobName, step)}: ${step.uses} is not pinned by a version tag`);
    }
  }
  return problems;
}

/** every slipway action and reusable workflow exists; every with: key is one of its inputs; required inputs are given */
function actionUsage(w: W): string[] {
  const problems: string[] = [];
  const check = (where: string, what: string, given: Y, inputs: Record<string, { required?: boolean; default?: unknown } | null>) => {
    for (const k of Object.keys(given ?? {})) if (!(k in inputs)) problems.push(`${where}: '${k}' is not an input of ${what} (inputs: ${Object.keys(inputs).join(", ")})`);
    for (const [k, v] of Object.entries(inputs)) if (v?.required && v.default === undefined && !(k in (given ?? {}))) problems.push(`${where}: required input '${k}' of ${what} is missing`);
  };
  for (const [jobName, job] of jobsOf(w.wf)) {
    const file = calleeFile(job);
    if (file !== undefined) {
      const called = callee(job);
      if (!called?.on?.workflow_call) problems.push(`${jobName}: ${SLIPWAY}/.github/workflows/${file} does not exist (or is not a reusable workflow)`);
      else check(jobName, file, job.with, called.on.workflow_call.inputs ?? {});
    }
    for (const step of stepsOf(job)) {
      const name = slipwayAction(step);
      if (name === undefined) continue;
      if (!(actionNames as readonly string[]).includes(name) || !existsSync(`actions/${name}/action.yml`)) {
        problems.push(`${where(jobName, step)}: ${SLIPWAY}/actions/${name} does not exist`);
        continue;
      }
      check(where(jobName, step), name, step.with, inputsOf(actionSpecs[name as ActionName]));
    }
  }
  return problems;
}

const RANK: Record<string, number> = { none: 0, read: 1, write: 2 };
const merge = (...scopes: Record<string, string>[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const s of scopes) for (const [k, v] of Object.entries(s)) if ((RANK[v] ?? 0) > (RANK[out[k] ?? "none"] ?? 0)) out[k] = v;
  return out;
};
const REPORTS_DEPLOYMENTS = ["deploy-systemd", "deploy-supervisor", "deploy-compose", "verify-health", "rollback"];
/** what a step's GITHUB_TOKEN must allow: slipway's actions report to GitHub unless github-token is "" */
function stepScopes(step: Y): Record<string, string> {
  // another run's artifacts (download-artifact with run-id and a token)
  if (String(step.uses ?? "").startsWith("actions/download-artifact@") && step.with?.["github-token"] && step.with?.["run-id"]) return { actions: "read" };
  const name = slipwayAction(step);
  if (!name || step.with?.["github-token"] === "") return {};
  if (REPORTS_DEPLOYMENTS.includes(name)) return { deployments: "write" }; // a deployment and its statuses
  if (name === "drift") return { deployments: "read" }; // the last successful deployment
  // the plan comment, and the deployments it reads the last migration head and the rollback targets from
  if (name === "plan" && String(step.with?.comment ?? "auto") !== "false") return { "pull-requests": "write", deployments: "read" };
  return {};
}
/** a job's permissions as GitHub applies them: its own, else the workflow's */
const effective = (wf: Y, job: Y): Record<string, string> => (job.permissions && typeof job.permissions === "object" ? job.permissions : typeof wf.permissions === "object" && wf.permissions ? wf.permissions : {});
/** what a job needs: contents: read (the checkout) and its steps' scopes; a caller job what the jobs of the workflow it calls need and ask for (a called workflow's token can only be downgraded) */
function neededScopes(job: Y): Record<string, string> {
  const called = callee(job);
  if (called) return merge({ contents: "read" }, ...jobsOf(called).map(([, j]) => merge(effective(called, j), neededScopes(j))));
  return merge({ contents: "read" }, ...stepsOf(job).map(stepScopes));
}

/** top level: contents read only; each job exactly the scopes its steps (or the workflow it calls) need */
function permissions(w: W): string[] {
  const problems: string[] = [];
  const wf = w.wf;
  if (json(wf.permissions) !== json({ contents: "read" })) problems.push(`top-level permissions must be exactly { contents: read }, not ${json(wf.permissions)}`);
  for (const [jobName, job] of jobsOf(wf)) {
    if (typeof job.permissions === "string") problems.push(`${jobName}: permissions: ${job.permissions} (name each scope)`);
    const has = effective(wf, job);
    const needed = neededScopes(job);
    const by = calleeFile(job) ? `the workflow it calls (${calleeFile(job)})` : "its steps";
    for (const [scope, level] of Object.entries(has)) if (level !== "none" && needed[scope] !== level) problems.push(`${jobName}: ${scope}: ${level} is not needed by ${by}`);
    for (const [scope, level] of Object.entries(needed)) if (has[scope] !== level) problems.push(`${jobName}: ${by} need${calleeFile(job) ? "s" : ""} ${scope}: ${level}`);
  }
  for (const [at, v] of strings(wf)) if (/\b(write-all|read-all)\b/.test(v) && at.includes("permissions")) problems.push(`${at}: ${v}`);
  return problems;
}

/** an expression that reads the secrets context: secrets.NAME, secrets['NAME'], toJSON(secrets) */
const readsSecrets = (v: string) => /\$\{\{[^}]*(?<![\w.-])secrets(?![\w-])/.test(v);
const readsToken = (v: string) => /\bgithub\.token\b|\bGITHUB_TOKEN\b/.test(v);

/**
 * Reusable workflows: every slipway step but plan gets the secrets as SLIPWAY_SECRETS: ${{ toJSON(secrets) }}
 * in its own env, and nothing else reads a secret (no other step, no job or workflow env, no input; plan
 * none: a pull request's workflow runs the pull request's code); the token reaches only slipway's actions.
 * Callers: secrets: inherit (an environment's secrets reach a called workflow only that way), except to
 * plan.yml, which gets none; a caller never names a secret.
 */
function secrets(w: W): string[] {
  const problems: string[] = [];
  const allowed = new Set<string>();
  for (const [jobName, job] of jobsOf(w.wf)) {
    const file = calleeFile(job);
    if (file === "plan.yml" && job.secrets !== undefined) problems.push(`${jobName}: plan.yml reads no secret: pass none (a pull request's workflow runs the pull request's code)`);
    else if (file !== undefined && file !== "plan.yml" && job.secrets !== "inherit") problems.push(`${jobName}: secrets: inherit (the environment file says which ones each step reads), not ${json(job.secrets)}`);
    stepsOf(job).forEach((step, i) => {
      const name = slipwayAction(step);
      const env: Record<string, unknown> = step.env ?? {};
      const named = Object.entries(env).filter(([, v]) => typeof v === "string" && readsSecrets(v));
      if (name === undefined) {
        if (named.length) problems.push(`${where(jobName, step)}: secrets given to a step that is not slipway's`);
        // GitHub's own download-artifact fetching another run's artifact reads it with the job's token
        if (String(step.uses ?? "").startsWith("actions/download-artifact@") && step.with?.["run-id"]) allowed.add(`jobs.${jobName}.steps.${i}.with.github-token`);
        return;
      }
      allowed.add(`jobs.${jobName}.steps.${i}.with.github-token`);
      if (name === "plan") {
        if (named.length) problems.push(`${where(jobName, step)}: plan gets no secret (it opens no connection; a pull request's workflow runs the pull request's code)`);
        return;
      }
      if (env.SLIPWAY_SECRETS !== ALL_SECRETS) problems.push(`${where(jobName, step)}: ${name} gets the secrets as SLIPWAY_SECRETS: ${ALL_SECRETS}, not ${json(env.SLIPWAY_SECRETS)}`);
      else allowed.add(`jobs.${jobName}.steps.${i}.env.SLIPWAY_SECRETS`);
      for (const [k] of named) if (k !== "SLIPWAY_SECRETS") problems.push(`${where(jobName, step)}: env ${k}: a secret by name; ${name} gets them only as SLIPWAY_SECRETS`);
    });
  }
  for (const [at, v] of strings(w.wf)) {
    if (readsSecrets(v) && !allowed.has(at)) problems.push(`${at}: secrets may only be mapped into a slipway step's env as SLIPWAY_SECRETS: ${ALL_SECRETS}`);
    if (readsToken(v) && !allowed.has(at)) problems.push(`${at}: github.token only reaches slipway's actions (their github-token input)`);
  }
  return problems;
}

/** concurrency of a job: the group, never cancelling a deploy in progress */
function concurrency(job: Y, group: string, jobName: string): string[] {
  const c = job?.concurrency;
  if (!c || typeof c !== "object") return [`${jobName}: no concurrency group`];
  return [...(c.group !== group ? [`${jobName}: concurrency group ${c.group}, expected ${group}`] : []), ...(c["cancel-in-progress"] !== false ? [`${jobName}: cancel-in-progress must be false`] : [])];
}

/** the environments a caller names: literal with: environment, the matrix's values, a dispatch input's options, plan's environments list */
function namedEnvironments(w: W): { names: string[]; unknown: string[] } {
  const names = new Set<string>();
  const unknown: string[] = [];
  for (const [jobName, job] of jobsOf(w.wf)) {
    const v = job.with?.environment;
    if (typeof v === "string" && !v.includes("${{")) names.add(v);
    else if (typeof v === "string" && /^\$\{\{ *matrix\.environment *\}\}$/.test(v)) {
      const m = job.strategy?.matrix ?? {};
      for (const e of [...(m.environment ?? []), ...(m.include ?? []).map((i: Y) => i.environment)]) names.add(e);
    } else if (typeof v === "string" && /^\$\{\{ *inputs\.environment *\}\}$/.test(v)) for (const e of w.wf.on?.workflow_dispatch?.inputs?.environment?.options ?? []) names.add(e);
    else if (v !== undefined) unknown.push(`${jobName}: cannot tell which environment ${v} is`);
    if (typeof job.with?.environments === "string" && job.with.environments !== "") for (const e of JSON.parse(job.with.environments)) names.add(e);
  }
  return { names: [...names].sort(), unknown };
}

/** callers name environments that have a file in their repository's environments/: examples/workflows staging, production and nas (test/fixtures/environments); an example repository its own (plan.yml plans every file) */
function environmentsNamed(w: W): string[] {
  const { names, unknown } = namedEnvironments(w);
  const files = envFilesOf(w.envDir);
  const problems = [...unknown];
  for (const n of names) if (!files.includes(n)) problems.push(`environment ${n}: there is no ${path.join(w.envDir, `${n}.yml`)}`);
  const callsPlanOnly = jobsOf(w.wf).every(([, j]) => calleeFile(j) === "plan.yml");
  if (!callsPlanOnly && json(names) !== json(sorted(w.chain))) problems.push(`names environments ${names.join(", ") || "none"}; ${w.file} should name ${sorted(w.chain).join(", ")}`);
  return problems;
}

/** deploy.yml: on push to main (and by hand), one call of deploy-environment.yml per environment, each after the previous one succeeded */
function deployChain(w: W): string[] {
  const problems: string[] = [];
  const wf = w.wf;
  const chain = w.chain;
  const needs = (j: string): string[] => [wf.jobs?.[j]?.needs ?? []].flat();
  if (!wf.on?.push || json(wf.on.push.branches) !== json(["main"])) problems.push("deploy.yml must run on push to main");
  if (!("workflow_dispatch" in (wf.on ?? {}))) problems.push("deploy.yml must be dispatchable");
  chain.forEach((j, i) => {
    const job = wf.jobs?.[j];
    if (!job) return void problems.push(`no ${j} job`);
    const prev = chain[i - 1];
    if (prev !== undefined && !needs(j).includes(prev)) problems.push(`${j} must need ${prev} (needs: ${needs(j).join(", ")})`);
    for (const later of chain.slice(i)) if (needs(j).includes(later)) problems.push(`${j} must not need ${later}`);
    if (job.uses !== workflowRef("deploy-environment.yml")) problems.push(`${j} must call ${workflowRef("deploy-environment.yml")}, not ${job.uses}`);
    if (job.with?.environment !== j) problems.push(`${j} must deploy environment ${j}, not ${job.with?.environment}`);
    if (job.secrets !== "inherit") problems.push(`${j}: secrets: inherit (the environment file says which ones each step reads)`);
    if (job.if !== undefined) problems.push(`${j} runs only when ${prev ?? "nothing before it"} succeeded: no if: (is: ${job.if})`);
  });
  const extra = jobsOf(wf).map(([n]) => n).filter((n) => !chain.includes(n));
  if (extra.length) problems.push(`unexpected jobs: ${extra.join(", ")}`);
  return problems;
}

const ref = (id: string | undefined, output: string) => `\${{ steps.${id}.outputs.${output} }}`;
const STATUS_FUNCTION = /\b(always|failure|cancelled|success)\s*\(/;
const DEPLOY_KINDS = ["compose", "supervisor", "systemd"];

/** deploy-environment.yml's job: behind the environment; plan -> backup -> migrate -> deploy-<kind> per kind -> verify; rollback only on failure; the job fails visibly */
function deploySteps(w: W): string[] {
  const problems: string[] = [];
  const wf = w.wf;
  const [jobName = "(no job)", job] = jobsOf(wf)[0] ?? [];
  if (jobsOf(wf).length !== 1) problems.push(`one job, not ${jobsOf(wf).length}`);
  if (json(Object.keys(wf.on ?? {})) !== json(["workflow_call"])) problems.push("deploy-environment.yml is a reusable workflow: on: workflow_call only");
  if (!wf.on?.workflow_call?.inputs?.environment?.required) problems.push("a workflow_call with a required input environment");
  const env = typeof job?.environment === "string" ? job.environment : job?.environment?.name;
  if (env !== "${{ inputs.environment }}") problems.push(`${jobName} must run behind the environment it deploys, not ${env}`);
  problems.push(...concurrency(job, "deploy-${{ inputs.environment }}", jobName));
  const steps = stepsOf(job);
  const at = (name: string) => steps.findIndex((s) => slipwayAction(s) === name);
  const step = (name: string): Y => steps[at(name)];
  const deploys = steps.filter((s) => slipwayAction(s)?.startsWith("deploy-"));
  const [iPlan, iBackup, iMigrate, iVerify, iRollback] = ["plan", "backup-db", "apply-migrations", "verify-health", "rollback"].map(at) as [number, number, number, number, number];
  if (json(deploys.map((s) => slipwayAction(s)!.slice("deploy-".length)).sort()) !== json(DEPLOY_KINDS)) problems.push(`${jobName}: deploy steps ${deploys.map((s) => s.uses).join(", ")}; one for each kind: ${DEPLOY_KINDS.join(", ")}`);
  // plan: validates the environment file first and says which deploy actions it needs; it comments nothing here
  const plan = step("plan");
  if (!plan) problems.push(`${jobName}: no plan step (which kinds the environment deploys)`);
  else if (plan.with?.comment !== "false") problems.push(`${jobName}: plan comments on pull requests only: comment: "false" here, not ${json(plan.with?.comment)}`);
  for (const d of deploys) {
    const kind = slipwayAction(d)!.slice("deploy-".length);
    if (d.id !== kind || d.if !== `steps.${plan?.id}.outputs.${kind} == 'true'`) problems.push(`${jobName}: ${d.uses} must have id ${kind} and run only if: steps.${plan?.id ?? "<plan>"}.outputs.${kind} == 'true'`);
  }
  if (iBackup < 0) problems.push(`${jobName}: no backup-db step`);
  if (iMigrate < 0) problems.push(`${jobName}: no apply-migrations step`);
  if (iVerify < 0) problems.push(`${jobName}: no verify-health step`);
  const iFirstDeploy = Math.min(...deploys.map((s) => steps.indexOf(s)));
  const iLastDeploy = Math.max(...deploys.map((s) => steps.indexOf(s)));
  if (iPlan >= 0 && !(iPlan < Math.min(...[iBackup, iMigrate, iFirstDeploy].filter((i) => i >= 0)))) problems.push(`${jobName}: plan must come first (before backup-db, apply-migrations and the deploys)`);
  if (iBackup >= 0 && iMigrate >= 0 && !(iBackup < iMigrate)) problems.push(`${jobName}: backup-db must come before apply-migrations`);
  if (iBackup >= 0 && !(iBackup < iFirstDeploy)) problems.push(`${jobName}: backup-db must come before deploy`);
  if (iMigrate >= 0 && !(iMigrate < iFirstDeploy)) problems.push(`${jobName}: apply-migrations must come before deploy`);
  if (!(iLastDeploy < iVerify)) problems.push(`${jobName}: verify-health must come after deploy`);
  for (const s of steps.filter((s) => slipwayAction(s) && slipwayAction(s) !== "rollback")) {
    if (s.with?.environment !== "${{ inputs.environment }}") problems.push(`${jobName}/${s.id}: environment input ${s.with?.environment}, expected \${{ inputs.environment }}`);
    if (STATUS_FUNCTION.test(String(s.if ?? "")) || s["continue-on-error"] !== undefined) problems.push(`${jobName}/${s.id}: ${s.uses} must run only while everything before it succeeded (no status function in if:, no continue-on-error)`);
    if (!s.id) problems.push(`${jobName}: ${s.uses} needs an id for its outputs`);
  }
  const backup = step("backup-db");
  const migrate = step("apply-migrations");
  if (migrate && migrate.with?.["backup-id"] !== ref(backup?.id, "backup-id")) problems.push(`${jobName}: apply-migrations must get backup-id from backup-db`);
  for (const d of deploys) {
    if (backup && d.with?.["backup-id"] !== ref(backup.id, "backup-id")) problems.push(`${jobName}/${d.id}: backup-id must come from backup-db`);
    if (migrate && d.with?.["migration-head"] !== ref(migrate.id, "head")) problems.push(`${jobName}/${d.id}: migration-head must come from apply-migrations`);
    if (migrate && d.with?.migrations !== ref(migrate.id, "migrations")) problems.push(`${jobName}/${d.id}: migrations must come from apply-migrations (the ledger and the deployment record expand / contract)`);
    if (d.with?.production !== "${{ inputs.production }}") problems.push(`${jobName}/${d.id}: production: \${{ inputs.production }} (how GitHub shows the deployment it records)`);
  }
  // the GitHub deployment each deploy step records is marked by verify-health's outcome
  const verify = step("verify-health");
  for (const d of deploys) if (verify && !String(verify.with?.["deployment-id"] ?? "").includes(ref(d.id, "deployment-id"))) problems.push(`${jobName}: verify-health must mark the deployment ${d.id} recorded (deployment-id: …${ref(d.id, "deployment-id")}…)`);
  const up = steps.findIndex((s) => String(s.uses).startsWith("actions/upload-artifact@") && s.with?.path === ref(backup?.id, "runner-paths"));
  if (!(up > iBackup)) problems.push(`${jobName}: a backup made on the runner must be uploaded as an artifact after backup-db`);
  // rollback: only after a failure, only of the hosts on the new release, and the job still fails
  const rb = step("rollback");
  if (!rb) problems.push(`${jobName}: no rollback step (the action itself does nothing unless the policy says auto-rollback)`);
  else {
    if (rb.with?.auto !== "true") problems.push(`${jobName}: the automatic rollback must say auto: "true" (so that the policy decides)`);
    if (!/^failure\(\)( &&|$)/.test(String(rb.if))) problems.push(`${jobName}: rollback must run only if: failure() (is: ${rb.if})`);
    if (!(iRollback > iVerify)) problems.push(`${jobName}: rollback must come after verify-health`);
    if (rb.with?.["restore-db"] !== undefined && rb.with["restore-db"] !== "false") problems.push(`${jobName}: an automatic rollback never restores the database`);
    if (rb.with?.environment !== "${{ inputs.environment }}") problems.push(`${jobName}: rollback of the wrong environment`);
    for (const d of deploys) if (!/^\$\{\{.*\}\}$/.test(String(rb.with?.["only-if-live"])) || !String(rb.with["only-if-live"]).includes(`steps.${d.id}.outputs.release-id`)) problems.push(`${jobName}: rollback only-if-live must name the release ${d.id} deployed (steps.${d.id}.outputs.release-id), so that hosts the deploy did not reach are left alone`);
    if (rb.with?.production !== "${{ inputs.production }}") problems.push(`${jobName}: rollback: production: \${{ inputs.production }}`);
  }
  const last = steps[steps.length - 1];
  if (last?.if !== "failure()" || !/\bexit 1\b/.test(String(last?.run))) problems.push(`${jobName}: the last step must be if: failure() and exit 1, so the run fails even after a good rollback`);
  // outputs wired from steps that exist, earlier, and have them (and the job's outputs from steps that exist)
  const outputsOf = (s: Y): string[] => {
    const name = slipwayAction(s);
    return name && name in actionSpecs ? Object.keys(actionSpecs[name as ActionName].outputs) : [...String(s.run).matchAll(/echo "([\w-]+)=/g)].map((x) => x[1]!);
  };
  const wiring = (v: string, before: number, what: string) => {
    for (const m of v.matchAll(/steps\.([\w-]+)\.(outputs\.([\w-]+)|outcome|conclusion)/g)) {
      const j = steps.findIndex((x) => x.id === m[1]);
      if (j < 0 || j >= before) problems.push(`${jobName}: ${what} reads steps.${m[1]} which ${j < 0 ? "does not exist" : "comes later"}`);
      else if (m[3] && !outputsOf(steps[j]).includes(m[3])) problems.push(`${jobName}: steps.${m[1]} has no output ${m[3]}`);
    }
  };
  steps.forEach((s, i) => strings(s).forEach(([, v]) => wiring(v, i, `step ${i}`)));
  strings(job?.outputs ?? {}).forEach(([k, v]) => wiring(v, steps.length, `output ${k}`));
  return problems;
}

/** rollback.yml (slipway's): the rollback behind the environment; the db restore behind <env>-db-restore, only when asked, after the rollback */
function rollbackReusable(w: W): string[] {
  const problems: string[] = [];
  const wf = w.wf;
  const inputs = wf.on?.workflow_call?.inputs ?? {};
  if (json(Object.keys(wf.on ?? {})) !== json(["workflow_call"])) problems.push("rollback.yml is a reusable workflow: on: workflow_call only");
  if (inputs.environment?.required !== true) problems.push("input environment: required");
  if (inputs["restore-db"]?.type !== "boolean" || inputs["restore-db"].default !== false) problems.push("input restore-db: a boolean, default false");
  const jobs = jobsOf(wf);
  const rollbackStep = (job: Y): Y => stepsOf(job).find((s) => slipwayAction(s) === "rollback");
  const main = jobs.find(([, j]) => j.environment === "${{ inputs.environment }}");
  const restore = jobs.find(([, j]) => j.environment === "${{ inputs.environment }}-db-restore");
  if (!main) problems.push("no job behind environment ${{ inputs.environment }}");
  if (!restore) problems.push("no job behind environment ${{ inputs.environment }}-db-restore");
  if (main) {
    const s = rollbackStep(main[1]);
    if (!s) problems.push(`${main[0]}: no rollback step`);
    else {
      if (s.with?.environment !== "${{ inputs.environment }}" || s.with?.to !== "${{ inputs.release }}") problems.push(`${main[0]}: rollback must get environment and to from the inputs`);
      if (s.with?.["restore-db"] !== undefined && s.with["restore-db"] !== "false") problems.push(`${main[0]}: the database is restored only by the job behind <env>-db-restore`);
      const allow = String(s.with?.["allow-contract"] ?? "");
      if (!/^\$\{\{ inputs\.restore-db && format\(.*\) \|\| inputs\.allow-contract \}\}$/.test(allow)) problems.push(`${main[0]}: allow-contract must be the caller's reason, or say that restore-db follows (a contract migration is crossed only with one of them), not ${json(allow)}`);
    }
    problems.push(...concurrency(main[1], "deploy-${{ inputs.environment }}", main[0]));
  }
  if (restore && main) {
    const [name, job] = restore;
    if (!String(job.if).includes("inputs.restore-db")) problems.push(`${name}: must run only if inputs.restore-db`);
    if (![job.needs].flat().includes(main[0])) problems.push(`${name}: must need ${main[0]} (the services first)`);
    const s = rollbackStep(job);
    if (s?.with?.["restore-db"] !== "true" || s.with?.environment !== "${{ inputs.environment }}") problems.push(`${name}: must run the rollback action with restore-db: "true" and the environment`);
    // the backup: the input, else the one the code rollback resolved; a runner-side one fetched from the run that made it first
    const steps = stepsOf(restore[1]);
    const which = steps.find((x: Y) => x.env?.BACKUP_ID !== undefined);
    if (which?.env?.BACKUP_ID !== `\${{ inputs.backup-id || needs.${main?.[0]}.outputs.backup-id }}`) problems.push(`${name}: the backup is inputs.backup-id, else the one ${main?.[0]} resolved (needs.${main?.[0]}.outputs.backup-id)`);
    const fetch = steps.findIndex((x: Y) => String(x.uses ?? "").startsWith("actions/download-artifact@"));
    const f = steps[fetch];
    if (fetch < 0 || fetch > steps.indexOf(s) || f.with?.["run-id"] !== `\${{ steps.${which?.id}.outputs.run-id }}` || f.with?.path !== "backups" || f.with?.["merge-multiple"] !== true || !String(f.with?.pattern).startsWith("backup-${{ inputs.environment }}-"))
      problems.push(`${name}: before the restore, fetch the run's backup artifact (download-artifact: pattern backup-\${{ inputs.environment }}-*, run-id of the backup, merge-multiple, path backups)`);
    if (s && s.with?.["backup-id"] !== `\${{ steps.${which?.id}.outputs.id }}`) problems.push(`${name}: restore the backup resolved above (backup-id: \${{ steps.${which?.id}.outputs.id }})`);
    if (s && s.with?.to !== `\${{ needs.${main[0]}.outputs.release-id }}`) problems.push(`${name}: restore the database of the release ${main[0]} left live (to: \${{ needs.${main[0]}.outputs.release-id }})`);
    problems.push(...concurrency(job, "deploy-${{ inputs.environment }}", name));
  }
  return problems;
}

/** rollback.yml (a caller): by hand, a choice of the repository's environments; the inputs passed on to slipway's rollback.yml */
function rollbackCaller(w: W): string[] {
  const problems: string[] = [];
  const wf = w.wf;
  const inputs = wf.on?.workflow_dispatch?.inputs ?? {};
  if (json(Object.keys(wf.on ?? {})) !== json(["workflow_dispatch"])) problems.push("rollback.yml runs on workflow_dispatch only");
  if (inputs.environment?.type !== "choice" || json(inputs.environment.options) !== json(w.chain) || inputs.environment.required !== true) problems.push(`input environment: a required choice of ${w.chain.join(", ")}`);
  if (inputs.release?.type !== "string" || inputs.release.required === true) problems.push("input release: an optional string");
  if (inputs["restore-db"]?.type !== "boolean" || inputs["restore-db"].default !== false) problems.push("input restore-db: a boolean, default false");
  if (inputs["backup-id"]?.type !== "string" || inputs["backup-id"].required === true) problems.push("input backup-id: an optional string");
  const jobs = jobsOf(wf);
  if (jobs.length !== 1) problems.push(`one job, not ${jobs.length}`);
  const [name = "(no job)", job] = jobs[0] ?? [];
  if (job?.uses !== workflowRef("rollback.yml")) problems.push(`${name} must call ${workflowRef("rollback.yml")}, not ${job?.uses}`);
  if (inputs["allow-contract"]?.type !== "string" || inputs["allow-contract"].required === true) problems.push("input allow-contract: an optional string (the reason to roll the code back past a contract migration)");
  for (const k of ["environment", "release", "restore-db", "backup-id", "allow-contract"]) if (job?.with?.[k] !== `\${{ inputs.${k} }}`) problems.push(`${name}: ${k}: \${{ inputs.${k} }}, not ${job?.with?.[k]}`);
  return problems;
}

/** the environments job's list step run as GitHub runs it (bash -eo pipefail), in `cwd`: its list output */
function listEnvironments(step: Y, cwd: string, given = ""): string[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-plan-list-"));
  try {
    const out = path.join(dir, "output");
    writeFileSync(out, "");
    execFileSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", String(step.run)], { cwd, env: { PATH: process.env.PATH, GITHUB_OUTPUT: out, GIVEN: given }, stdio: ["ignore", "ignore", "pipe"] });
    const line = readFileSync(out, "utf8").split("\n").find((l) => l.startsWith("list="));
    return line ? JSON.parse(line.slice("list=".length)) : [];
  } catch {
    return [];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** plan.yml (slipway's): the plan action in a matrix over every environment file (or the ones given), commenting on the pull request, with the history for base...head */
function planReusable(w: W): string[] {
  const problems: string[] = [];
  const wf = w.wf;
  if (json(Object.keys(wf.on ?? {})) !== json(["workflow_call"])) problems.push("plan.yml is a reusable workflow: on: workflow_call only");
  const planJob = jobsOf(wf).find(([, j]) => stepsOf(j).some((s) => slipwayAction(s) === "plan"));
  if (!planJob) return [...problems, "no job runs the plan action"];
  const [name, job] = planJob;
  const listJob = [job.needs].flat()[0] as string | undefined;
  const matrix = job.strategy?.matrix?.environment;
  if (!listJob || matrix !== `\${{ fromJSON(needs.${listJob}.outputs.list) }}`) problems.push(`${name}: the matrix must be the environments job's list (environment: \${{ fromJSON(needs.<job>.outputs.list) }}), not ${json(matrix)}`);
  if (job.strategy?.["fail-fast"] !== false) problems.push(`${name}: fail-fast: false (one environment's problem must not cancel the others' comments)`);
  const steps = stepsOf(job);
  const i = steps.findIndex((s) => slipwayAction(s) === "plan");
  const plan = steps[i];
  if (plan.with?.environment !== "${{ matrix.environment }}") problems.push(`${name}: one comment per environment: plan must plan \${{ matrix.environment }}, not ${plan.with?.environment}`);
  if (String(plan.with?.comment ?? "auto") === "false") problems.push(`${name}: plan must comment on the pull request (comment: auto)`);
  const checkout = steps.slice(0, i).find((s) => String(s.uses).startsWith("actions/checkout@"));
  if (checkout?.with?.["fetch-depth"] !== 0) problems.push(`${name}: the checkout before plan needs fetch-depth: 0 (plan diffs base...head)`);
  // the list: run as GitHub would, in a repository (its environments/*.yml: the fixtures') and with the input given
  const list = listJob ? wf.jobs?.[listJob] : undefined;
  const listStepId = /^\$\{\{ *steps\.([\w-]+)\.outputs\.list *\}\}$/.exec(String(list?.outputs?.list))?.[1];
  const listStep = stepsOf(list).find((s) => s.id === listStepId);
  if (!listStep) problems.push(`${listJob}: outputs.list must come from its list step`);
  else {
    const files = envFilesOf(w.envDir);
    const repo = path.dirname(w.envDir);
    if (json(sorted(listEnvironments(listStep, repo))) !== json(files)) problems.push(`${listJob}: must list every environment file (${files.join(", ")}), lists ${json(listEnvironments(listStep, repo))}`);
    if (json(listEnvironments(listStep, repo, '["staging"]')) !== json(["staging"])) problems.push(`${listJob}: the environments input, when given, is the list`);
  }
  return problems;
}

/** plan.yml (a caller): on every pull request, slipway's plan.yml */
function planCaller(w: W): string[] {
  const problems: string[] = [];
  if (json(Object.keys(w.wf.on ?? {})) !== json(["pull_request"])) problems.push("plan.yml runs on pull_request");
  const jobs = jobsOf(w.wf);
  if (jobs.length !== 1 || jobs[0]![1].uses !== workflowRef("plan.yml")) problems.push(`one job, calling ${workflowRef("plan.yml")}`);
  return problems;
}

const OPS_ENVIRONMENT = "${{ inputs.secrets-environment || format('{0}-ops', inputs.environment) }}";

/** backup.yml (slipway's): every database of the environment, behind <env>-ops; runner dumps kept as artifacts for retention-days */
function backupReusable(w: W): string[] {
  const problems: string[] = [];
  const wf = w.wf;
  if (json(Object.keys(wf.on ?? {})) !== json(["workflow_call"])) problems.push("backup.yml is a reusable workflow: on: workflow_call only");
  const [name = "(no job)", job] = jobsOf(wf)[0] ?? [];
  if (job?.environment !== OPS_ENVIRONMENT) problems.push(`${name}: runs behind <env>-ops (its secrets, no reviewers), not ${job?.environment}`);
  problems.push(...concurrency(job, "backup-${{ inputs.environment }}-${{ inputs.database }}-${{ inputs.hosts }}", name));
  const steps = stepsOf(job);
  const i = steps.findIndex((s) => slipwayAction(s) === "backup-db");
  const step = steps[i];
  for (const k of ["environment", "database", "hosts"]) if (step?.with?.[k] !== `\${{ inputs.${k} }}`) problems.push(`${name}: backup-db must get ${k}: \${{ inputs.${k} }}`);
  const up = steps.findIndex((s) => String(s.uses).startsWith("actions/upload-artifact@"));
  const upload = steps[up];
  if (!(up > i) || upload?.with?.path !== ref(step?.id, "runner-paths") || !String(upload?.if).includes(`steps.${step?.id}.outputs.runner-paths`) || upload?.with?.["retention-days"] !== "${{ inputs.retention-days }}")
    problems.push(`${name}: runner dumps must be uploaded after backup-db (path: its runner-paths, when there are any) with the input retention-days`);
  return problems;
}

/** backup.yml (a caller): scheduled and dispatchable; a matrix over every environment with a database; runner dumps kept at least as long as the environment keeps its backups */
function backupCaller(w: W): string[] {
  const problems: string[] = [];
  const wf = w.wf;
  if (!wf.on?.schedule?.[0]?.cron || !("workflow_dispatch" in (wf.on ?? {}))) problems.push("backup.yml runs on a schedule and on dispatch");
  const [name = "(no job)", job] = jobsOf(wf)[0] ?? [];
  if (job?.uses !== workflowRef("backup.yml")) problems.push(`${name} must call ${workflowRef("backup.yml")}`);
  if (job?.with?.environment !== "${{ matrix.environment }}") problems.push(`${name}: environment: \${{ matrix.environment }}`);
  if (job?.strategy?.["fail-fast"] !== false) problems.push(`${name}: fail-fast: false (one environment's failed backup must not cancel the others')`);
  const matrix: string[] = job?.strategy?.matrix?.environment ?? [];
  for (const e of w.chain) if (Object.keys(envOf(w, e)?.databases ?? {}).length && !matrix.includes(e)) problems.push(`${name}: ${e} has databases and is not backed up`);
  const declared = parse(readFileSync(path.join(DIR, "backup.yml"), "utf8")).on.workflow_call.inputs["retention-days"].default;
  const retention = Number(job?.with?.["retention-days"] ?? declared);
  for (const e of matrix)
    for (const [db, d] of Object.entries(envOf(w, e)?.databases ?? {})) {
      const days = d.backup?.to === "runner" ? (d.backup["keep-days"] ?? d.backup.keep) : undefined;
      if (days !== undefined && !(retention >= days)) problems.push(`${name}: ${e}/${db} backs up to the runner and keeps ${days} days: retention-days ${retention} is too short`);
    }
  return problems;
}

/** drift.yml (slipway's): behind <env>-ops; the drift action against the last successful deployment (sha empty by default, a token that reads deployments) */
function driftReusable(w: W): string[] {
  const problems: string[] = [];
  const wf = w.wf;
  if (json(Object.keys(wf.on ?? {})) !== json(["workflow_call"])) problems.push("drift.yml is a reusable workflow: on: workflow_call only");
  if (wf.on?.workflow_call?.inputs?.sha?.default !== "") problems.push('input sha: default "" (the last successful deployment\'s commit)');
  const [name = "(no job)", job] = jobsOf(wf)[0] ?? [];
  if (job?.environment !== OPS_ENVIRONMENT) problems.push(`${name}: runs behind <env>-ops (its secrets, no reviewers), not ${job?.environment}`);
  const step = stepsOf(job).find((s) => slipwayAction(s) === "drift");
  if (!step) return [...problems, `${name}: no drift step`];
  if (step.with?.environment !== "${{ inputs.environment }}") problems.push(`${name}: drift must check \${{ inputs.environment }}`);
  if (step.with?.sha !== "${{ inputs.sha }}") problems.push(`${name}: drift must compare with the last deployed commit (sha: \${{ inputs.sha }}), not ${step.with?.sha}`);
  if (step.with?.["github-token"] === "") problems.push(`${name}: drift needs the token to find the last successful deployment`);
  return problems;
}

/** drift.yml (a caller): scheduled, a matrix over the environments, each checked on its own */
function driftCaller(w: W): string[] {
  const problems: string[] = [];
  const wf = w.wf;
  if (!wf.on?.schedule?.[0]?.cron) problems.push("drift.yml runs on a schedule");
  const [name = "(no job)", job] = jobsOf(wf)[0] ?? [];
  if (job?.uses !== workflowRef("drift.yml")) problems.push(`${name} must call ${workflowRef("drift.yml")}`);
  if (job?.with?.environment !== "${{ matrix.environment }}") problems.push(`${name}: environment: \${{ matrix.environment }}`);
  if (job?.with?.sha !== undefined) problems.push(`${name}: no sha: drift compares with the last successful deployment`);
  if (job?.strategy?.["fail-fast"] !== false) problems.push(`${name}: fail-fast: false (one environment's drift must not cancel the others' checks)`);
  return problems;
}

const all = () => true;
const reusable = (n: (typeof REUSABLE)[number]) => (w: W) => w.file === R(n);
const caller = (n: string) => (w: W) => isCaller(w) && path.basename(w.file) === `${n}.yml`;
const rules: [string, (w: W) => string[], (w: W) => boolean][] = [
  ["versioned references", references, all],
  ["actions and their inputs", actionUsage, all],
  ["least-privilege permissions", permissions, all],
  ["secrets", secrets, all],
  ["environments named", environmentsNamed, isCaller],
  ["deploy chain", deployChain, caller("deploy")],
  ["deploy steps", deploySteps, reusable("deploy-environment")],
  ["rollback", rollbackReusable, reusable("rollback")],
  ["rollback", rollbackCaller, caller("rollback")],
  ["plan comments", planReusable, reusable("plan")],
  ["plan comments", planCaller, caller("plan")],
  ["backups", backupReusable, reusable("backup")],
  ["backups", backupCaller, caller("backup")],
  ["drift", driftReusable, reusable("drift")],
  ["drift", driftCaller, caller("drift")],
];

describe("the workflows", () => {
  it("this repository's own push runs CI only: .github/workflows holds ci.yml and the five reusable workflows; the callers are examples", () => {
    expect(readdirSync(DIR).sort()).toEqual(["ci.yml", ...REUSABLE.map((n) => `${n}.yml`)].sort());
    for (const n of REUSABLE) expect(Object.keys(workflows[R(n)]!.wf.on), n).toEqual(["workflow_call"]);
    expect(readdirSync(CALLERS).filter((f) => f.endsWith(".yml")).sort()).toEqual(["backup.yml", "deploy.yml", "drift.yml", "plan.yml", "rollback.yml"]);
    expect(EXAMPLE_DIRS.map((d) => d.split(path.sep)[1])).toEqual(["darkpool-collector", "etf-service", "ibkr-trading", "nas-collectors", "recio-trading"]);
    for (const d of EXAMPLE_DIRS) {
      expect(readdirSync(d).filter((f) => f.endsWith(".yml")), d).toEqual(expect.arrayContaining(["deploy.yml", "rollback.yml"]));
      expect(envFilesOf(path.join(path.dirname(path.dirname(d)), "environments")), d).toHaveLength(1);
    }
  });

  it("every caller job calls one of slipway's reusable workflows; nothing of slipway is in an app repository (no ./actions/, no CLI, also in examples/workflows/README.md)", () => {
    for (const w of Object.values(workflows).filter(isCaller)) for (const [name, job] of jobsOf(w.wf)) expect(REUSABLE.map((n) => `${n}.yml`), `${w.file}: ${name}`).toContain(calleeFile(job));
    expect(readFileSync(path.join(CALLERS, "README.md"), "utf8")).not.toMatch(/\.\/actions\/|dist\/cli/);
  });

  for (const [rule, check, applies] of rules) for (const w of Object.values(workflows).filter(applies)) it(`${w.file}: ${rule}`, () => expect(check(w)).toEqual([]));
});

describe("each rule catches what it is about", () => {
  const broken = (file: string, change: (wf: Y) => void): W => {
    const w = workflows[file]!;
    const wf = clone(w.wf);
    change(wf);
    return { ...w, wf };
  };
  const prod = (wf: Y) => wf.jobs.production;
  const envJob = (wf: Y) => wf.jobs.deploy;
  const stepOf = (job: Y, action: string) => job.steps.find((s: Y) => slipwayAction(s) === action);
  const ETF = "examples/etf-service/.github/workflows";
  const DARKPOOL = "examples/darkpool-collector/.github/workflows";

  it.each<[string, (w: W) => string[], string, (wf: Y) => void, RegExp]>([
    ["./actions/ again", references, R("deploy-environment"), (wf) => (stepOf(envJob(wf), "verify-health").uses = "./actions/verify-health"), /\.\/actions\/verify-health: slipway's actions are referenced as OWNER\/slipway\/actions\/<name>@v0, never \.\/actions\//],
    ["slipway's CLI in a step", references, R("drift"), (wf) => wf.jobs.drift.steps.push({ run: "node dist/cli/index.js github last-deployed staging" }), /runs slipway's CLI/],
    ["slipway at a branch", references, R("rollback"), (wf) => (stepOf(wf.jobs.rollback, "rollback").uses = `${SLIPWAY}/actions/rollback@main`), /referenced as OWNER\/slipway\/actions\/rollback@v0/],
    ["a caller of a local reusable workflow", references, C("deploy"), (wf) => (wf.jobs.staging.uses = "./.github/workflows/deploy-environment.yml"), /staging: uses: \.\/\.github\/workflows\/deploy-environment\.yml: a caller names slipway's reusable workflow as OWNER\/slipway\/\.github\/workflows\/<file>@v0/],
    ["a caller of slipway at a commit", references, `${ETF}/rollback.yml`, (wf) => (wf.jobs.rollback.uses = `${SLIPWAY}/.github/workflows/rollback.yml@0123abc`), /as OWNER\/slipway\/\.github\/workflows\/rollback\.yml@v0/],
    ["unpinned action", references, R("plan"), (wf) => (wf.jobs.plan.steps[0].uses = "actions/checkout@main"), /not pinned by a version tag/],
    ["unknown input", actionUsage, R("deploy-environment"), (wf) => (stepOf(envJob(wf), "deploy-systemd").with.enviroment = "production"), /'enviroment' is not an input of deploy-systemd/],
    ["missing required input", actionUsage, R("deploy-environment"), (wf) => delete stepOf(envJob(wf), "verify-health").with.environment, /required input 'environment' of verify-health is missing/],
    ["no such action", actionUsage, R("rollback"), (wf) => (stepOf(wf.jobs.rollback, "rollback").uses = `${SLIPWAY}/actions/roll-back@v0`), /OWNER\/slipway\/actions\/roll-back does not exist/],
    ["an unknown input of a reusable workflow", actionUsage, C("deploy"), (wf) => (prod(wf).with["release-built"] = true), /production: 'release-built' is not an input of deploy-environment\.yml/],
    ["a missing input of a reusable workflow", actionUsage, `${ETF}/deploy.yml`, (wf) => delete wf.jobs.staging.with.environment, /staging: required input 'environment' of deploy-environment\.yml is missing/],
    ["no such reusable workflow", actionUsage, C("deploy"), (wf) => (wf.jobs.nas.uses = workflowRef("deploy.yml")), /nas: OWNER\/slipway\/\.github\/workflows\/deploy\.yml does not exist/],
    ["write-all", permissions, C("deploy"), (wf) => (wf.permissions = "write-all"), /top-level permissions must be exactly/],
    ["a job's permissions as a word", permissions, R("deploy-environment"), (wf) => (envJob(wf).permissions = "write-all"), /deploy: permissions: write-all \(name each scope\)/],
    ["a write scope nobody needs", permissions, R("backup"), (wf) => (wf.jobs.backup.permissions = { contents: "write" }), /contents: write is not needed/],
    ["a missing write scope", permissions, R("plan"), (wf) => delete wf.jobs.plan.permissions["pull-requests"], /plan: its steps need pull-requests: write/],
    ["a plan that cannot read the deployments", permissions, R("plan"), (wf) => delete wf.jobs.plan.permissions.deployments, /plan: its steps need deployments: read/],
    ["a comment scope for a plan that does not comment", permissions, R("deploy-environment"), (wf) => (envJob(wf).permissions["pull-requests"] = "write"), /deploy: pull-requests: write is not needed by its steps/],
    ["a deployments scope for a step without a token", permissions, R("rollback"), (wf) => (wf.jobs["restore-db"].permissions.deployments = "write"), /restore-db: deployments: write is not needed by its steps/],
    ["the token given back to the restore", permissions, R("rollback"), (wf) => delete stepOf(wf.jobs["restore-db"], "rollback").with["github-token"], /restore-db: its steps need deployments: write/],
    ["drift writing deployments", permissions, R("drift"), (wf) => (wf.jobs.drift.permissions.deployments = "write"), /drift: deployments: write is not needed/],
    ["a caller without its callee's scope", permissions, C("deploy"), (wf) => delete prod(wf).permissions.deployments, /production: the workflow it calls \(deploy-environment\.yml\) needs deployments: write/],
    ["a plan caller without the comment scope", permissions, `${DARKPOOL}/plan.yml`, (wf) => delete wf.jobs.plan.permissions, /plan: the workflow it calls \(plan\.yml\) needs pull-requests: write/],
    ["a caller with more than its callee needs", permissions, C("drift"), (wf) => (wf.jobs.drift.permissions.deployments = "write"), /drift: deployments: write is not needed by the workflow it calls/],
    ["a secret at job level", secrets, R("deploy-environment"), (wf) => (envJob(wf).env = { SLIPWAY_SECRETS: "${{ toJSON(secrets) }}" }), /jobs\.deploy\.env\.SLIPWAY_SECRETS: secrets may only be mapped/],
    ["every secret for a step that is not slipway's", secrets, R("deploy-environment"), (wf) => (envJob(wf).steps[0].env = { SLIPWAY_SECRETS: "${{ toJSON(secrets) }}" }), /not slipway's/],
    ["one secret by the bundle's name", secrets, R("deploy-environment"), (wf) => (stepOf(envJob(wf), "deploy-systemd").env.SLIPWAY_SECRETS = "${{ secrets.SLIPWAY_SSH_KEY }}"), /deploy-systemd gets the secrets as SLIPWAY_SECRETS: \$\{\{ toJSON\(secrets\) \}\}/],
    ["a secret by its own name", secrets, R("deploy-environment"), (wf) => (stepOf(envJob(wf), "deploy-systemd").env.DEPLOY_SSH_KEY = "${{ secrets.DEPLOY_SSH_KEY }}"), /env DEPLOY_SSH_KEY: a secret by name/],
    ["a slipway step without the secrets", secrets, R("backup"), (wf) => delete stepOf(wf.jobs.backup, "backup-db").env, /backup-db gets the secrets as SLIPWAY_SECRETS/],
    ["secrets for the plan", secrets, R("plan"), (wf) => (stepOf(wf.jobs.plan, "plan").env = { SLIPWAY_SECRETS: "${{ toJSON(secrets) }}" }), /plan gets no secret/],
    ["a secret in an input", secrets, R("rollback"), (wf) => (stepOf(wf.jobs.rollback, "rollback").with.reason = "${{ secrets.REASON }}"), /with\.reason: secrets may only be mapped/],
    ["a secret for a third-party action", secrets, R("plan"), (wf) => (wf.jobs.plan.steps[0].env = { T: "${{ secrets.T }}" }), /not slipway's/],
    ["the token for a third-party step", secrets, R("deploy-environment"), (wf) => (envJob(wf).steps[0].env = { GH_TOKEN: "${{ github.token }}" }), /env\.GH_TOKEN: github\.token only reaches slipway's actions/],
    ["secrets not passed on", secrets, C("deploy"), (wf) => delete wf.jobs.nas.secrets, /nas: secrets: inherit/],
    ["a secret named in a caller", secrets, C("backup"), (wf) => (wf.jobs.backup.secrets = { SLIPWAY_SSH_KEY: "${{ secrets.SLIPWAY_SSH_KEY }}" }), /backup: secrets: inherit[\s\S]*secrets may only be mapped/],
    ["secrets for a pull request's plan", secrets, C("plan"), (wf) => (wf.jobs.plan.secrets = "inherit"), /plan\.yml reads no secret: pass none/],
    ["an environment without a file", environmentsNamed, C("rollback"), (wf) => wf.on.workflow_dispatch.inputs.environment.options.push("prod"), /environment prod: there is no test\/fixtures\/environments\/prod\.yml/],
    ["an environment the chain leaves out", environmentsNamed, C("drift"), (wf) => wf.jobs.drift.strategy.matrix.environment.pop(), /names environments production, staging; examples\/workflows\/drift\.yml should name nas, production, staging/],
    ["an example naming another repository's environment", environmentsNamed, `${ETF}/deploy.yml`, (wf) => (wf.jobs.staging.with.environment = "production"), /there is no examples\/etf-service\/environments\/production\.yml/],
    ["nas after staging", deployChain, C("deploy"), (wf) => (wf.jobs.nas.needs = "staging"), /nas must need production/],
    ["production deploying staging", deployChain, C("deploy"), (wf) => (prod(wf).with.environment = "staging"), /production must deploy environment production/],
    ["production after a failed staging", deployChain, C("deploy"), (wf) => (prod(wf).if = "always()"), /production runs only when staging succeeded: no if:/],
    ["a deploy of the wrong workflow", deployChain, C("deploy"), (wf) => (wf.jobs.staging.uses = workflowRef("rollback.yml")), /staging must call OWNER\/slipway\/\.github\/workflows\/deploy-environment\.yml@v0/],
    ["a job outside the chain", deployChain, C("deploy"), (wf) => (wf.jobs.recio = { ...clone(wf.jobs.nas), with: { environment: "recio" } }), /unexpected jobs: recio/],
    ["an example that does not deploy on push", deployChain, `${ETF}/deploy.yml`, (wf) => delete wf.on.push, /deploy\.yml must run on push to main/],
    ["secrets not passed on in the chain", deployChain, C("deploy"), (wf) => delete wf.jobs.nas.secrets, /nas: secrets: inherit/],
    ["a deploy without approval", deploySteps, R("deploy-environment"), (wf) => delete envJob(wf).environment, /must run behind the environment it deploys/],
    ["cancelling a deploy", deploySteps, R("deploy-environment"), (wf) => (envJob(wf).concurrency["cancel-in-progress"] = true), /cancel-in-progress must be false/],
    ["one group for all", deploySteps, R("deploy-environment"), (wf) => (envJob(wf).concurrency.group = "deploy"), /concurrency group deploy, expected deploy-\$\{\{ inputs.environment \}\}/],
  ])("%s", (_, check, file, change, problem) => {
    expect(check(workflows[file]!)).toEqual([]);
    expect(check(broken(file, change)).join("\n")).toMatch(problem);
  });

  const swap = (job: Y, a: string, b: string) => {
    const i = job.steps.findIndex((s: Y) => slipwayAction(s) === a);
    const j = job.steps.findIndex((s: Y) => slipwayAction(s) === b);
    [job.steps[i], job.steps[j]] = [job.steps[j], job.steps[i]];
  };
  it.each<[string, (job: Y) => void, RegExp]>([
    ["plan after the backup", (j) => swap(j, "plan", "backup-db"), /plan must come first/],
    ["deploy before backup", (j) => swap(j, "backup-db", "deploy-systemd"), /backup-db must come before deploy/],
    ["migrations after deploy", (j) => swap(j, "apply-migrations", "deploy-compose"), /apply-migrations must come before deploy/],
    ["verify before deploy", (j) => swap(j, "verify-health", "deploy-systemd"), /verify-health must come after deploy/],
    ["a plan that comments from the deploy", (j) => delete stepOf(j, "plan").with.comment, /plan comments on pull requests only: comment: "false"/],
    ["a backup after a failure", (j) => (stepOf(j, "backup-db").if = "always()"), /backup-db@v0 must run only while everything before it succeeded/],
    ["a migration past a failed backup", (j) => (stepOf(j, "apply-migrations")["continue-on-error"] = true), /apply-migrations@v0 must run only while everything before it succeeded/],
    ["rollback on every run", (j) => (stepOf(j, "rollback").if = "always()"), /rollback must run only if: failure\(\)/],
    ["a rollback left to chance", (j) => delete stepOf(j, "rollback").with.auto, /must say auto: "true"/],
    ["a rollback of hosts the deploy did not reach", (j) => delete stepOf(j, "rollback").with["only-if-live"], /only-if-live must name the release systemd deployed/],
    ["a rollback that restores the database", (j) => (stepOf(j, "rollback").with["restore-db"] = "true"), /never restores the database/],
    ["the backup-id not passed on", (j) => (stepOf(j, "apply-migrations").with["backup-id"] = ""), /apply-migrations must get backup-id from backup-db/],
    ["a wrong output", (j) => (stepOf(j, "deploy-systemd").with["migration-head"] = "${{ steps.migrate.outputs.version }}"), /migration-head must come from apply-migrations|has no output version/],
    ["the applied migrations not handed on", (j) => delete stepOf(j, "deploy-compose").with.migrations, /deploy\/compose: migrations must come from apply-migrations/],
    ["a misspelt kinds output", (j) => (stepOf(j, "deploy-compose").if = "steps.plan.outputs.compse == 'true'"), /must have id compose and run only if/],
    ["a deployment left in progress", (j) => (stepOf(j, "verify-health").with["deployment-id"] = "${{ steps.systemd.outputs.deployment-id }},${{ steps.supervisor.outputs.deployment-id }}"), /verify-health must mark the deployment compose recorded/],
    ["production shown as a test environment", (j) => delete stepOf(j, "deploy-supervisor").with.production, /supervisor: production: \$\{\{ inputs.production \}\}/],
    ["a job output from no step", (j) => (j.outputs.healthy = "${{ steps.verfy.outputs.healthy || 'false' }}"), /output healthy reads steps\.verfy which does not exist/],
    ["a success after a good rollback", (j) => j.steps.pop(), /the last step must be if: failure\(\) and exit 1/],
    ["a deploy kind left out", (j) => j.steps.splice(j.steps.indexOf(stepOf(j, "deploy-supervisor")), 1), /one for each kind/],
    ["the runner backup not kept", (j) => j.steps.splice(j.steps.findIndex((s: Y) => String(s.uses).startsWith("actions/upload-artifact")), 1), /must be uploaded as an artifact/],
  ])("deploy job: %s", (_, change, problem) => {
    expect(deploySteps(workflows[R("deploy-environment")]!)).toEqual([]);
    expect(deploySteps(broken(R("deploy-environment"), (wf) => change(envJob(wf)))).join("\n")).toMatch(problem);
  });

  it.each<[string, (w: W) => string[], string, (wf: Y) => void, RegExp]>([
    ["the db restore behind the same environment", rollbackReusable, R("rollback"), (wf) => (wf.jobs["restore-db"].environment = "${{ inputs.environment }}"), /no job behind environment \$\{\{ inputs.environment \}\}-db-restore/],
    ["a contract migration crossed without a reason", rollbackReusable, R("rollback"), (wf) => (stepOf(wf.jobs.rollback, "rollback").with["allow-contract"] = "always"), /allow-contract must be the caller's reason/],
    ["a runner-side backup not fetched", rollbackReusable, R("rollback"), (wf) => wf.jobs["restore-db"].steps.splice(2, 1), /before the restore, fetch the run's backup artifact/],
    ["the backup of the caller's input only", rollbackReusable, R("rollback"), (wf) => (wf.jobs["restore-db"].steps[1].env.BACKUP_ID = "${{ inputs.backup-id }}"), /the backup is inputs\.backup-id, else the one rollback resolved/],
    ["the artifact fetched without the scope", permissions, R("rollback"), (wf) => delete wf.jobs["restore-db"].permissions.actions, /restore-db: its steps need actions: read/],
    ["the db restore unconditional", rollbackReusable, R("rollback"), (wf) => delete wf.jobs["restore-db"].if, /must run only if inputs.restore-db/],
    ["the db restore before the services", rollbackReusable, R("rollback"), (wf) => delete wf.jobs["restore-db"].needs, /restore-db: must need rollback/],
    ["the db restore of another release", rollbackReusable, R("rollback"), (wf) => (stepOf(wf.jobs["restore-db"], "rollback").with.to = "${{ inputs.release }}"), /restore the database of the release rollback left live/],
    ["a rollback while a deploy runs", rollbackReusable, R("rollback"), (wf) => (wf.jobs.rollback.concurrency.group = "rollback-${{ inputs.environment }}"), /rollback: concurrency group rollback-\$\{\{ inputs.environment \}\}, expected deploy-/],
    ["restore-db on by default", rollbackReusable, R("rollback"), (wf) => (wf.on.workflow_call.inputs["restore-db"].default = true), /restore-db: a boolean, default false/],
    ["the override not passed on", rollbackCaller, C("rollback"), (wf) => delete wf.jobs.rollback.with["allow-contract"], /allow-contract: \$\{\{ inputs\.allow-contract \}\}, not undefined/],
    ["restore-db on by default in the caller", rollbackCaller, C("rollback"), (wf) => (wf.on.workflow_dispatch.inputs["restore-db"].default = true), /restore-db: a boolean, default false/],
    ["a free-text environment", rollbackCaller, C("rollback"), (wf) => (wf.on.workflow_dispatch.inputs.environment.type = "string"), /a required choice/],
    ["an example offering another environment", rollbackCaller, `${ETF}/rollback.yml`, (wf) => wf.on.workflow_dispatch.inputs.environment.options.push("production"), /a required choice of staging$/m],
    ["the release asked for not passed on", rollbackCaller, C("rollback"), (wf) => delete wf.jobs.rollback.with.release, /release: \$\{\{ inputs.release \}\}/],
    ["one environment's plan for every matrix job", planReusable, R("plan"), (wf) => (stepOf(wf.jobs.plan, "plan").with.environment = "staging"), /one comment per environment: plan must plan \$\{\{ matrix.environment \}\}/],
    ["an environment left out of the list", planReusable, R("plan"), (wf) => (wf.jobs.environments.steps[1].run = wf.jobs.environments.steps[1].run.replace("environments/*.yml environments/*.yaml", "environments/*.yaml")), /must list every environment file \(nas, production, recio, staging\)/],
    ["a fixed matrix", planReusable, R("plan"), (wf) => (wf.jobs.plan.strategy.matrix.environment = ["staging", "production"]), /the matrix must be the environments job's list/],
    ["a plan that does not comment", planReusable, R("plan"), (wf) => (stepOf(wf.jobs.plan, "plan").with.comment = "false"), /plan must comment on the pull request/],
    ["a shallow checkout", planReusable, R("plan"), (wf) => delete wf.jobs.plan.steps[0].with, /fetch-depth: 0/],
    ["one failed plan cancelling the others", planReusable, R("plan"), (wf) => delete wf.jobs.plan.strategy["fail-fast"], /fail-fast: false/],
    ["a plan caller on push", planCaller, C("plan"), (wf) => (wf.on = { push: null }), /plan\.yml runs on pull_request/],
    ["scheduled backups behind a gated environment", backupReusable, R("backup"), (wf) => (wf.jobs.backup.environment = "${{ inputs.environment }}"), /runs behind <env>-ops/],
    ["backups of one environment at once", backupReusable, R("backup"), (wf) => (wf.jobs.backup.concurrency.group = "backup"), /concurrency group backup, expected backup-/],
    ["the hosts input ignored", backupReusable, R("backup"), (wf) => delete stepOf(wf.jobs.backup, "backup-db").with.hosts, /backup-db must get hosts: \$\{\{ inputs.hosts \}\}/],
    ["runner dumps kept a fixed time", backupReusable, R("backup"), (wf) => (wf.jobs.backup.steps[2].with["retention-days"] = 1), /with the input retention-days/],
    ["runner dumps kept too briefly", backupCaller, C("backup"), (wf) => (wf.jobs.backup.with["retention-days"] = 7), /production\/darkpool backs up to the runner and keeps 14 days: retention-days 7 is too short/],
    ["an environment with databases left out", backupCaller, C("backup"), (wf) => wf.jobs.backup.strategy.matrix.environment.pop(), /nas has databases and is not backed up/],
    ["backups only by hand", backupCaller, C("backup"), (wf) => delete wf.on.schedule, /runs on a schedule and on dispatch/],
    ["scheduled drift behind a gated environment", driftReusable, R("drift"), (wf) => (wf.jobs.drift.environment = "${{ matrix.environment }}"), /runs behind <env>-ops/],
    ["drift against the pushed commit", driftReusable, R("drift"), (wf) => (stepOf(wf.jobs.drift, "drift").with.sha = "${{ github.sha }}"), /compare with the last deployed commit/],
    ["drift without the token to find the last deployment", driftReusable, R("drift"), (wf) => (stepOf(wf.jobs.drift, "drift").with["github-token"] = ""), /drift needs the token/],
    ["a caller pinning drift to a commit", driftCaller, C("drift"), (wf) => (wf.jobs.drift.with.sha = "${{ github.sha }}"), /no sha: drift compares with the last successful deployment/],
    ["drift only by hand", driftCaller, C("drift"), (wf) => delete wf.on.schedule, /drift\.yml runs on a schedule/],
  ])("%s", (_, check, file, change, problem) => {
    expect(check(workflows[file]!)).toEqual([]);
    expect(check(broken(file, change)).join("\n")).toMatch(problem);
  });

  it("actionlint checks these files' wiring: a job output that does not exist is reported", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-wf-"));
    try {
      const wf = clone(workflows[R("plan")]!.wf);
      wf.jobs.plan.strategy.matrix.environment = "${{ fromJSON(needs.environments.outputs.lists) }}";
      writeFileSync(path.join(dir, "plan.yml"), stringify(wf));
      expect((await lintWorkflows(dir)).join("\n")).toMatch(/property "lists" is not defined in object type \{list: string\}/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
