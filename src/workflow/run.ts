// Runs a workflow file as GitHub does, on GitHub's parser and evaluator (docs: "Workflow syntax for
// GitHub Actions" and "Contexts reference"; each rule below names the section it follows).
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isMapping, isSequence } from "@actions/workflow-parser";
import type { TemplateToken } from "@actions/workflow-parser/templates/tokens/template-token";
import type { WorkflowJob } from "@actions/workflow-parser/model/workflow-template";
import type { Job, ReusableWorkflowJob, Step } from "@actions/workflow-parser/model/workflow-template";
import type { FileProvider } from "@actions/workflow-parser/workflows/file-provider";
import { ArtifactStore, checkout, gitExport, resolveAction } from "./actions.js";
import { Masker, parseCommand, parseKeyValueFile } from "./commands.js";
import { ConcurrencyGroups } from "./concurrency.js";
import { evalMapping, evalText, evaluateToken, toPlain, toText, truthy, type Contexts, type Status } from "./expressions.js";
import { execProcess } from "./process.js";
import { loadWorkflow, raw, where, WorkflowError, type LoadedWorkflow } from "./template.js";
import type { Approval, EnvironmentRef, JobResult, Outcome, RunOptions, RunResult, StepResult } from "./types.js";

const git = (repo: string, ...args: string[]) => execFileSync("git", ["-C", repo, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

/** Everything one run shares between its jobs (and the jobs of the workflows it calls). */
interface Run {
  o: RunOptions;
  workDir: string;
  sha: string;
  github: Record<string, unknown>;
  vars: Record<string, string>;
  masker: Masker;
  lines: string[];
  print: (line: string) => void;
  artifacts: ArtifactStore;
  concurrency: ConcurrencyGroups;
  cancelled: boolean;
  /** cancels every job of the run (cancel-in-progress of a newer run) */
  abort: AbortController;
  jobSeq: number;
  node: string;
}

/** One workflow file's jobs inside a run: the entry workflow, or a called reusable workflow. */
interface Scope {
  wf: LoadedWorkflow;
  inputs: Record<string, unknown>;
  secrets: Record<string, string>;
  /** `caller / ` for a called workflow's jobs */
  prefix: string;
}

export async function runWorkflow(o: RunOptions): Promise<RunResult> {
  const workDir = o.workDir ?? mkdtempSync(path.join(os.tmpdir(), "slipway-workflow-"));
  mkdirSync(workDir, { recursive: true });
  const sha = git(o.repo, "rev-parse", "--verify", `${o.sha ?? "HEAD"}^{commit}`);
  const ref = o.ref ?? "refs/heads/main";
  const content = readWorkflow(o.repo, sha, o.workflow);
  const wf = await loadWorkflow(o.workflow, content, fileProvider(o, sha));
  const masker = new Masker();
  const token = `ghs_local${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const secrets = { ...o.secrets, GITHUB_TOKEN: token };
  for (const v of Object.values(secrets)) masker.add(v);
  const lines: string[] = [];
  const repository = o.repository ?? `acme/${path.basename(path.resolve(o.repo))}`;
  const runId = o.runId ?? Math.floor(Date.now() / 1000);
  const payload = { ...(o.event === "workflow_dispatch" ? { inputs: o.inputs ?? {} } : {}), ...defaultPayload(o.event, ref, sha, repository, wf), ...o.payload };
  const run: Run = {
    o,
    workDir,
    sha,
    github: {
      sha,
      ref,
      ref_name: ref.replace(/^refs\/(heads|tags)\//, ""),
      ref_type: ref.startsWith("refs/tags/") ? "tag" : "branch",
      event_name: o.event,
      event: payload,
      run_id: String(runId),
      run_number: String(runId),
      run_attempt: String(o.runAttempt ?? 1),
      actor: o.actor ?? "octocat",
      triggering_actor: o.actor ?? "octocat",
      repository,
      repository_owner: repository.split("/")[0],
      server_url: "https://github.com",
      api_url: o.env?.GITHUB_API_URL ?? "",
      workflow: String(raw(wf.root, "name") ?? o.workflow),
      workflow_ref: `${repository}/${o.workflow}@${ref}`,
      token,
      base_ref: o.event === "pull_request" ? ((payload as any).pull_request?.base?.ref ?? "main") : "",
      head_ref: o.event === "pull_request" ? ((payload as any).pull_request?.head?.ref ?? "") : "",
    },
    vars: o.vars ?? {},
    masker,
    lines,
    print: (line) => {
      const masked = masker.mask(line);
      lines.push(masked);
      o.log?.(masked);
    },
    artifacts: new ArtifactStore(path.join(workDir, "artifacts")),
    concurrency: o.concurrency ?? new ConcurrencyGroups(),
    cancelled: false,
    abort: new AbortController(),
    jobSeq: 0,
    node: o.node ?? process.execPath,
  };
  const finish = (conclusion: RunResult["conclusion"], jobs: JobResult[]): RunResult => ({ conclusion, jobs, log: lines.join("\n"), workDir, permissions: toPlainToken(raw(wf.root, "permissions")) });

  // docs: "Events that trigger workflows" and on.<push|pull_request>.<branches|tags>
  const skip = triggerMismatch(wf, o.event, ref, String(run.github.base_ref));
  if (skip) {
    run.print(`workflow not triggered: ${skip}`);
    return finish("skipped", []);
  }
  const inputs = o.event === "workflow_dispatch" ? dispatchInputs(wf, o.inputs ?? {}) : {};

  // docs: "Control the concurrency of workflows and jobs" (workflow level)
  const group = raw(wf.root, "concurrency");
  let groupName: string | undefined;
  if (group) {
    const c = concurrencySetting(group, { github: run.github, inputs, vars: run.vars });
    groupName = c.group;
    run.print(`concurrency group '${c.group}': waiting`);
    const admitted = await run.concurrency.acquire(c.group, c.cancelInProgress, () => cancelRun(run));
    if (!admitted) {
      run.print(`canceling since a higher priority waiting request for '${c.group}' exists`);
      return finish("cancelled", []);
    }
  }
  try {
    const jobs = await runJobs(run, { wf, inputs, secrets, prefix: "" });
    return finish(conclusionOf(jobs, run), jobs);
  } finally {
    if (groupName !== undefined) run.concurrency.release(groupName);
  }
}

function cancelRun(run: Run) {
  run.cancelled = true;
  run.abort.abort();
  run.print("the run was cancelled (cancel-in-progress: a newer run of the concurrency group)");
}

function conclusionOf(jobs: JobResult[], run: Run): RunResult["conclusion"] {
  if (run.cancelled || jobs.some((j) => j.result === "cancelled")) return jobs.some((j) => j.result === "failure") ? "failure" : "cancelled";
  return jobs.some((j) => j.result === "failure") ? "failure" : "success";
}

function readWorkflow(repo: string, sha: string, file: string): string {
  try {
    return git(repo, "show", `${sha}:${file.replace(/^\.\//, "")}`) + "\n";
  } catch {
    throw new WorkflowError(`${file} is not in commit ${sha.slice(0, 12)} of ${repo} (the runner reads the committed workflow, as GitHub does)`);
  }
}

function fileProvider(o: RunOptions, sha: string): FileProvider {
  return {
    getFileContent: async (ref) => {
      if ("repository" in ref) {
        const local = o.actionRepos?.[`${ref.owner}/${ref.repository}`];
        if (!local) throw new Error(`no local copy of ${ref.owner}/${ref.repository}`);
        const c = git(local, "rev-parse", "--verify", `${ref.version}^{commit}`);
        return { name: `${ref.owner}/${ref.repository}/${ref.path}@${ref.version}`, content: readWorkflow(local, c, ref.path) };
      }
      return { name: ref.path, content: readWorkflow(o.repo, sha, ref.path) };
    },
  };
}

function defaultPayload(event: string, ref: string, sha: string, repository: string, wf: LoadedWorkflow): Record<string, unknown> {
  const repo = { full_name: repository, name: repository.split("/")[1], owner: { login: repository.split("/")[0] }, default_branch: "main" };
  if (event === "push") return { ref, after: sha, repository: repo, head_commit: { id: sha } };
  if (event === "pull_request") return { action: "opened", number: 1, pull_request: { number: 1, head: { sha, ref: "feature" }, base: { ref: "main" } }, repository: repo };
  // docs: "Events that trigger workflows › schedule" — github.event.schedule is the cron that fired (the first one here)
  if (event === "schedule") return { schedule: wf.template.events?.schedule?.[0]?.cron ?? "", repository: repo };
  return { ref, repository: repo };
}

/** A glob of a branch or tag filter (docs: "Filter pattern cheat sheet": *, **, ?, +, !). */
function globMatch(pattern: string, value: string): boolean {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?" || c === "+") re += c;
    else re += c.replace(/[.^$|()[\]{}\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`).test(value);
}

function filterMatches(include: string[] | undefined, ignore: string[] | undefined, value: string): boolean {
  if (include) {
    let ok = false;
    for (const p of include) ok = p.startsWith("!") ? ok && !globMatch(p.slice(1), value) : ok || globMatch(p, value);
    return ok;
  }
  return !(ignore ?? []).some((p) => globMatch(p, value));
}

function triggerMismatch(wf: LoadedWorkflow, event: string, ref: string, baseRef: string): string | undefined {
  const events = wf.template.events ?? {};
  if (!(event in events)) return `${wf.file} has no 'on: ${event}' (it runs on ${Object.keys(events).join(", ")})`;
  const cfg = (events as Record<string, any>)[event] ?? {};
  if (event === "push" || event === "pull_request") {
    const isTag = ref.startsWith("refs/tags/");
    // a pull_request filter matches the pull request's base branch (docs: on.pull_request.branches)
    const name = event === "pull_request" ? baseRef : ref.replace(/^refs\/(heads|tags)\//, "");
    const [inc, ign] = isTag ? [cfg.tags, cfg["tags-ignore"]] : [cfg.branches, cfg["branches-ignore"]];
    // a push filter on branches only does not run for tags, and the other way round
    if (event === "push" && !isTag && !cfg.branches && !cfg["branches-ignore"] && (cfg.tags || cfg["tags-ignore"])) return `${ref} is a branch; the push filter names tags only`;
    if (event === "push" && isTag && !cfg.tags && !cfg["tags-ignore"] && (cfg.branches || cfg["branches-ignore"])) return `${ref} is a tag; the push filter names branches only`;
    if (!filterMatches(inc, ign, name)) return `${name} does not match the ${event} filter of ${wf.file}`;
  }
  return undefined;
}

/** docs: on.workflow_dispatch.inputs (types string, boolean, choice, environment; defaults; required). */
function dispatchInputs(wf: LoadedWorkflow, given: Record<string, string>): Record<string, unknown> {
  const defs = wf.template.events.workflow_dispatch?.inputs ?? {};
  for (const k of Object.keys(given)) if (!(k in defs)) throw new WorkflowError(`${wf.file}: workflow_dispatch has no input '${k}' (it has: ${Object.keys(defs).join(", ") || "none"})`);
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(defs)) {
    const value = given[name] ?? (def.default !== undefined ? String(def.default) : undefined);
    if (value === undefined || (value === "" && def.required && def.type !== "boolean")) {
      if (def.required) throw new WorkflowError(`${wf.file}: input '${name}' is required`);
      out[name] = def.type === "boolean" ? false : "";
      continue;
    }
    if (def.type === "boolean") {
      if (value !== "true" && value !== "false") throw new WorkflowError(`${wf.file}: input '${name}' is a boolean: true or false, not '${value}'`);
      out[name] = value === "true";
    } else if (def.type === "choice") {
      if (!(def.options ?? []).includes(value)) throw new WorkflowError(`${wf.file}: input '${name}' must be one of ${(def.options ?? []).join(", ")}, not '${value}'`);
      out[name] = value;
    } else out[name] = value;
  }
  return out;
}

function toPlainToken(t: TemplateToken | undefined): unknown {
  return t ? toPlain(evaluateToken(t, {})) : undefined;
}

function concurrencySetting(token: TemplateToken, ctx: Contexts): { group: string; cancelInProgress: boolean } {
  if (!isMapping(token)) return { group: evalText(token, ctx), cancelInProgress: false };
  const cip = raw(token, "cancel-in-progress");
  return { group: evalText(raw(token, "group"), ctx), cancelInProgress: cip ? truthy(evaluateToken(cip, ctx)) : false };
}

/** The job graph (docs: jobs.<job_id>.needs): every job starts when all it needs have finished. */
async function runJobs(run: Run, scope: Scope): Promise<JobResult[]> {
  const done = new Map<string, Promise<JobResult[]>>();
  const byId = new Map(scope.wf.template.jobs.map((j) => [j.id.value, j]));
  const start = (job: WorkflowJob): Promise<JobResult[]> => {
    const id = job.id.value;
    if (!done.has(id))
      done.set(
        id,
        (async () => {
          const needs = (job.needs ?? []).map((n) => n.value);
          const needed = new Map<string, JobResult[]>();
          for (const n of needs) needed.set(n, await start(byId.get(n)!));
          // every ancestor has finished once the direct needs have
          const upstream = await Promise.all([...ancestors(byId, id)].map((a) => done.get(a)!));
          return runJob(run, scope, job, needed, upstream.flat().map((r) => r.result));
        })(),
      );
    return done.get(id)!;
  };
  const all = await Promise.all(scope.wf.template.jobs.map(start));
  return all.flat();

  function ancestors(jobs: Map<string, WorkflowJob>, id: string, seen = new Set<string>()): Set<string> {
    for (const n of jobs.get(id)?.needs ?? []) if (!seen.has(n.value)) ancestors(jobs, n.value, seen.add(n.value));
    return seen;
  }
}

/** needs.<id>.result of a (possibly matrix) job: failure if any failed, cancelled if any was, … */
function aggregate(results: JobResult[]): { result: Outcome; outputs: Record<string, string> } {
  const r = results.map((j) => j.result);
  const result: Outcome = r.includes("failure") ? "failure" : r.includes("cancelled") ? "cancelled" : r.length && r.every((x) => x === "skipped") ? "skipped" : "success";
  return { result, outputs: Object.assign({}, ...results.map((j) => j.outputs)) };
}

async function runJob(run: Run, scope: Scope, job: WorkflowJob, needed: Map<string, JobResult[]>, ancestorResults: Outcome[]): Promise<JobResult[]> {
  const id = `${scope.prefix}${job.id.value}`;
  const rawJob = raw(raw(scope.wf.root, "jobs"), job.id.value);
  const needs = Object.fromEntries([...needed].map(([k, v]) => [k, aggregate(v)]));
  // docs: "Status check functions" and jobs.<job_id>.needs — a job that needs a failed or skipped
  // job is skipped unless its if: says otherwise; failure() sees a failure of any ancestor
  const upstream = [...needed.values()].flatMap((rs) => rs.map((r) => r.result));
  const status: Status = {
    success: upstream.every((r) => r === "success") && !run.cancelled,
    failure: ancestorResults.some((r) => r === "failure"),
    cancelled: run.cancelled,
  };
  const base: Contexts = { github: run.github, needs, vars: run.vars, inputs: scope.inputs };
  const skipped = (reason: string): JobResult[] => {
    run.print(`[${id}] skipped: ${reason}`);
    return [{ id, name: id, result: "skipped", outputs: {}, steps: [], summary: "", reason, durationMs: 0 }];
  };
  // docs: jobs.<job_id>.if — evaluated before the matrix; a false `if:` skips the job
  let wanted: boolean;
  try {
    wanted = truthy(evaluateToken(job.if, base, status));
  } catch (e) {
    return [failed(run, id, `${where(scope.wf.file, job.if)}: ${(e as Error).message}`)];
  }
  if (!wanted) return skipped(status.success ? `if: ${job.if.expression} is false` : `a job it needs did not succeed (${upstream.join(", ")}) and its if: is ${job.if.expression}`);

  // docs: jobs.<job_id>.strategy.matrix (include/exclude), fail-fast, max-parallel
  const strategy = job.strategy ? (toPlain(evaluateToken(job.strategy, base)) as Record<string, any>) : undefined;
  const combos = strategy?.matrix ? expandMatrix(strategy.matrix) : [undefined];
  const failFast = strategy?.["fail-fast"] ?? true;
  const maxParallel = Number(strategy?.["max-parallel"] ?? combos.length) || combos.length;
  const jobAbort = new AbortController();
  run.abort.signal.addEventListener("abort", () => jobAbort.abort(), { once: true });
  const results: JobResult[] = new Array(combos.length);
  let next = 0;
  const worker = async () => {
    while (next < combos.length) {
      const i = next++;
      const matrix = combos[i];
      const label = matrix ? `${id} (${Object.values(matrix).map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(", ")})` : id;
      const strategyCtx = { "fail-fast": failFast, "job-index": i, "job-total": combos.length, "max-parallel": maxParallel };
      const ctx: Contexts = { ...base, matrix: matrix ?? {}, strategy: strategyCtx };
      const r = jobAbort.signal.aborted
        ? { id: label, name: label, result: "cancelled" as const, outputs: {}, steps: [], summary: "", reason: "fail-fast: another job of the matrix failed", durationMs: 0, matrix }
        : job.type === "reusableWorkflowJob"
          ? await runCaller(run, scope, job as ReusableWorkflowJob, rawJob, label, ctx)
          : await runSteps(run, scope, job as Job, rawJob, label, ctx, jobAbort.signal);
      if (matrix) r.matrix = matrix;
      results[i] = r;
      if (r.result === "failure" && failFast && combos.length > 1) jobAbort.abort();
    }
  };
  await Promise.all(Array.from({ length: Math.min(maxParallel, combos.length) }, worker));
  return results;
}

function failed(run: Run, id: string, reason: string): JobResult {
  run.print(`[${id}] ##[error]${reason}`);
  return { id, name: id, result: "failure", outputs: {}, steps: [], summary: "", reason, durationMs: 0 };
}

/** docs: "Running variations of jobs in a workflow" — the product, minus exclude, plus include. */
export function expandMatrix(matrix: Record<string, unknown>): Record<string, unknown>[] {
  const { include = [], exclude = [], ...dims } = matrix as { include?: Record<string, unknown>[]; exclude?: Record<string, unknown>[] } & Record<string, unknown[]>;
  let combos: Record<string, unknown>[] = Object.keys(dims).length ? [{}] : [];
  for (const [k, values] of Object.entries(dims)) combos = combos.flatMap((c) => (values as unknown[]).map((v) => ({ ...c, [k]: v })));
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  combos = combos.filter((c) => !exclude.some((x) => Object.entries(x).every(([k, v]) => same(c[k], v))));
  const original = combos.map((c) => ({ ...c }));
  for (const inc of include) {
    let matched = false;
    combos.forEach((c, i) => {
      // an include extends every original combination whose original values it does not overwrite
      if (Object.entries(inc).every(([k, v]) => !(k in original[i]!) || same(original[i]![k], v))) {
        Object.assign(c, inc);
        matched = true;
      }
    });
    if (!matched) combos.push({ ...inc });
  }
  return combos;
}

async function approval(run: Run, env: EnvironmentRef, id: string): Promise<Approval> {
  const ask = run.o.approve;
  const answer = ask ? await ask(env, id) : "pending";
  if (answer !== "pending") return answer;
  await new Promise((r) => setTimeout(r, run.o.approvalTimeoutMs ?? 0));
  return "pending";
}

/** A job with steps: environment gate, concurrency, then its steps in order. */
async function runSteps(run: Run, scope: Scope, job: Job, rawJob: TemplateToken | undefined, id: string, ctx: Contexts, signal: AbortSignal): Promise<JobResult> {
  const t0 = Date.now();
  const result: JobResult = { id, name: job.name ? evalText(job.name, ctx) : id, result: "success", outputs: {}, steps: [], summary: "", durationMs: 0, permissions: toPlainToken(raw(rawJob, "permissions") ?? raw(scope.wf.root, "permissions")) };
  const fail = (reason: string): JobResult => {
    run.print(`[${id}] ##[error]${reason}`);
    return Object.assign(result, { result: "failure" as Outcome, reason, durationMs: Date.now() - t0 });
  };
  // docs: jobs.<job_id>.environment (name and url); required reviewers gate the job before it starts
  if (job.environment) {
    try {
      const name = isMapping(job.environment) ? raw(job.environment, "name") : job.environment;
      result.environment = { name: evalText(name, ctx) };
    } catch (e) {
      return fail(`${where(scope.wf.file, job.environment)}: ${(e as Error).message}`);
    }
    const env = result.environment;
    run.print(`[${id}] waiting for approval of environment '${env.name}'`);
    result.approval = await approval(run, env, id);
    if (result.approval === "reject") return fail(`the deployment to environment '${env.name}' was rejected`);
    if (result.approval === "pending") return fail(`environment '${env.name}' was never approved (required reviewers did not answer)`);
  }
  // docs: jobs.<job_id>.concurrency
  let group: string | undefined;
  if (job.concurrency) {
    const c = concurrencySetting(job.concurrency, ctx);
    const cancelled = new AbortController();
    const admitted = await run.concurrency.acquire(c.group, c.cancelInProgress, () => cancelled.abort());
    if (!admitted) return Object.assign(result, { result: "cancelled" as Outcome, reason: `a newer job replaced it in concurrency group '${c.group}'`, durationMs: Date.now() - t0 });
    group = c.group;
    signal = AbortSignal.any([signal, cancelled.signal]);
  }
  try {
    await stepsOf(run, scope, job, rawJob, id, ctx, signal, result);
  } finally {
    if (group !== undefined) run.concurrency.release(group);
  }
  result.durationMs = Date.now() - t0;
  return result;
}

async function stepsOf(run: Run, scope: Scope, job: Job, rawJob: TemplateToken | undefined, id: string, ctx: Contexts, signal: AbortSignal, result: JobResult) {
  const n = ++run.jobSeq;
  const jobDir = path.join(run.workDir, "jobs", `${n}-${id.replace(/[^A-Za-z0-9_.-]+/g, "_")}`);
  const workspace = path.join(jobDir, "workspace");
  const temp = path.join(jobDir, "temp");
  mkdirSync(workspace, { recursive: true });
  mkdirSync(temp, { recursive: true });
  const eventPath = path.join(jobDir, "event.json");
  writeFileSync(eventPath, JSON.stringify(run.github.event, null, 2));
  result.summaryFile = path.join(run.workDir, "summaries", `${n}-${id.replace(/[^A-Za-z0-9_.-]+/g, "_")}.md`);
  mkdirSync(path.dirname(result.summaryFile), { recursive: true });
  writeFileSync(result.summaryFile, "");
  const github = { ...run.github, workspace, job: job.id.value, action_path: "" };
  const runner = { os: "Linux", arch: "X64", name: "slipway-local", temp, tool_cache: path.join(run.workDir, "tool-cache"), environment: "self-hosted", debug: "" };
  const secrets = scope.secrets;
  const jobCtx = (status: string) => ({ status });
  // env precedence (docs: "Variables › Defining environment variables"): workflow < job < step; GITHUB_ENV between job and step
  const workflowEnv = evalMapping(raw(scope.wf.root, "env"), { github, inputs: scope.inputs, vars: run.vars, secrets });
  const jobEnv = { ...workflowEnv, ...evalMapping(job.env, { ...ctx, github, secrets, env: workflowEnv, runner }) };
  const fileEnv: Record<string, string> = {};
  const pathPrefix: string[] = [];
  const jobDefaults = raw(raw(rawJob, "defaults"), "run");
  const wfDefaults = raw(raw(scope.wf.root, "defaults"), "run");
  const steps: Record<string, { outputs: Record<string, string>; outcome: Outcome; conclusion: Outcome }> = {};
  const rawSteps = raw(rawJob, "steps");
  const timeoutToken = raw(rawJob, "timeout-minutes");
  const jobTimeoutMs = timeoutToken ? Number(toText(evaluateToken(timeoutToken, { ...ctx, github }))) * 60_000 : 360 * 60_000;
  // docs: jobs.<job_id>.timeout-minutes — past it GitHub cancels the job (as a cancelled run does)
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), jobTimeoutMs);
  const jobSignal = AbortSignal.any([signal, timeout.signal]);
  // docs: "Workflow cancellation reference" — a step whose if: still holds once the job is cancelled
  // (always(), cancelled()) runs on, until jobs.<job_id>.cancel-timeout-minutes (default 5) after the cancel
  const cancelTimeoutToken = raw(rawJob, "cancel-timeout-minutes");
  const cancelTimeoutMs = cancelTimeoutToken ? Number(toText(evaluateToken(cancelTimeoutToken, { ...ctx, github }))) * 60_000 : 5 * 60_000;
  const hardStop = new AbortController();
  let hardTimer: NodeJS.Timeout | undefined;
  const armHardStop = () => (hardTimer = setTimeout(() => hardStop.abort(), cancelTimeoutMs));
  if (jobSignal.aborted) armHardStop();
  else jobSignal.addEventListener("abort", armHardStop, { once: true });
  let failedSoFar = false;
  try {
    for (let i = 0; i < job.steps.length; i++) {
      const step = job.steps[i]! as Step & { run?: TemplateToken; uses?: TemplateToken; env?: TemplateToken; if: any };
      const rawStep = isSequence(rawSteps!) ? rawSteps.get(i) : undefined;
      const cancelled = jobSignal.aborted;
      const jobStatus = failedSoFar ? "failure" : cancelled ? "cancelled" : "success";
      const stepCtx: Contexts = { ...ctx, github, secrets, runner, job: jobCtx(jobStatus), steps, env: { ...jobEnv, ...fileEnv } };
      const status: Status = { success: !failedSoFar && !cancelled, failure: failedSoFar, cancelled };
      const name = step.name ? safeText(step.name, stepCtx) : step.uses ? `Run ${step.uses.toString()}` : `Run ${String((step.run as { source?: string } | undefined)?.source ?? step.run ?? "").trim().split("\n")[0]}`;
      const sr: StepResult = { id: step.id, name, outcome: "skipped", conclusion: "skipped", outputs: {}, durationMs: 0, log: "", errors: [], summary: "" };
      result.steps.push(sr);
      const record = () => (steps[step.id] = { outputs: sr.outputs, outcome: sr.outcome, conclusion: sr.conclusion });
      // docs: jobs.<job_id>.steps[*].if — implicit success(); a false condition skips the step
      let go: boolean;
      try {
        go = truthy(evaluateToken(step.if, stepCtx, status));
      } catch (e) {
        sr.errors.push(`${where(scope.wf.file, step.if)}: ${(e as Error).message}`);
        sr.outcome = sr.conclusion = "failure";
        failedSoFar = true;
        record();
        run.print(`[${id}] ##[error]${sr.errors[0]}`);
        continue;
      }
      if (!go) {
        run.print(`[${id}] - ${name} (skipped)`);
        record();
        continue;
      }
      run.print(`[${id}] ▶ ${name}`);
      const t = Date.now();
      const coe = step["continue-on-error"];
      const continueOnError = typeof coe === "boolean" ? coe : coe ? truthy(evaluateToken(coe, stepCtx)) : false;
      const stepTimeoutToken = raw(rawStep, "timeout-minutes");
      const stepTimeoutMs = stepTimeoutToken ? Number(toText(evaluateToken(stepTimeoutToken, stepCtx))) * 60_000 : undefined;
      let survivesCancel = false;
      try {
        survivesCancel = truthy(evaluateToken(step.if, { ...stepCtx, job: jobCtx("cancelled") }, { success: false, failure: failedSoFar, cancelled: true }));
      } catch {
        // a condition that cannot be evaluated on cancellation cancels the step, as the runner does
      }
      const outcome = await executeStep(run, scope, {
        id,
        step,
        rawStep,
        ctx: stepCtx,
        workspace,
        temp,
        eventPath,
        summaryFile: result.summaryFile,
        env: { ...jobEnv, ...fileEnv },
        fileEnv,
        pathPrefix,
        shellDefault: raw(jobDefaults, "shell") ?? raw(wfDefaults, "shell"),
        workdirDefault: raw(jobDefaults, "working-directory") ?? raw(wfDefaults, "working-directory"),
        timeoutMs: stepTimeoutMs ?? Infinity,
        signal: survivesCancel ? hardStop.signal : jobSignal,
        sr,
      });
      sr.outcome = outcome;
      sr.conclusion = outcome === "failure" && continueOnError ? "success" : outcome;
      sr.durationMs = Date.now() - t;
      if (sr.conclusion === "failure") failedSoFar = true;
      record();
      run.print(`[${id}] ${sr.conclusion === "success" ? "✓" : "✗"} ${name} (${sr.outcome}${sr.outcome !== sr.conclusion ? `, continue-on-error` : ""})`);
    }
  } finally {
    clearTimeout(timer);
    clearTimeout(hardTimer);
    jobSignal.removeEventListener("abort", armHardStop);
  }
  const summary = readFileSync(result.summaryFile, "utf8");
  result.summary = run.masker.mask(summary);
  writeFileSync(result.summaryFile, result.summary);
  if (timeout.signal.aborted) {
    result.result = "cancelled";
    result.reason = `the job exceeded its timeout of ${jobTimeoutMs / 60_000} minutes`;
    run.print(`[${id}] ##[error]The job has exceeded the maximum execution time of ${jobTimeoutMs / 60_000} minutes.`);
  } else if (signal.aborted) result.result = "cancelled";
  else result.result = failedSoFar ? "failure" : "success";
  // docs: jobs.<job_id>.environment.url — evaluated when the job ends (it may use step outputs)
  const url = job.environment && isMapping(job.environment) ? raw(job.environment, "url") : undefined;
  if (url && result.environment) result.environment.url = evalText(url, { ...ctx, github, steps, runner, job: jobCtx(result.result), env: jobEnv });
  // docs: jobs.<job_id>.outputs — evaluated when the job ends; an output carrying a secret is dropped
  const outputs = evalMapping(job.outputs, { ...ctx, github, steps, runner, job: jobCtx(result.result), env: jobEnv, secrets: {} });
  for (const [k, v] of Object.entries(outputs)) {
    if (run.masker.carries(v)) run.print(`[${id}] ##[warning]Skip output '${k}' since it may contain secret.`);
    else result.outputs[k] = v;
  }
}

function safeText(t: TemplateToken, ctx: Contexts): string {
  try {
    return evalText(t, ctx);
  } catch {
    return t.toString();
  }
}

interface StepRun {
  id: string;
  step: Step & { run?: TemplateToken; uses?: TemplateToken; env?: TemplateToken };
  rawStep: TemplateToken | undefined;
  ctx: Contexts;
  workspace: string;
  temp: string;
  eventPath: string;
  summaryFile: string;
  env: Record<string, string>;
  fileEnv: Record<string, string>;
  pathPrefix: string[];
  shellDefault: TemplateToken | undefined;
  workdirDefault: TemplateToken | undefined;
  timeoutMs: number;
  signal: AbortSignal;
  sr: StepResult;
}

const SHELLS: Record<string, string> = {
  bash: "bash --noprofile --norc -eo pipefail {0}",
  sh: "sh -e {0}",
  python: "python3 {0}",
};

async function executeStep(run: Run, scope: Scope, s: StepRun): Promise<Outcome> {
  const error = (m: string): Outcome => {
    s.sr.errors.push(m);
    run.print(`[${s.id}] ##[error]${m}`);
    return "failure";
  };
  let stepEnv: Record<string, string>;
  try {
    stepEnv = { ...s.env, ...evalMapping(s.step.env, s.ctx) };
  } catch (e) {
    return error(`${where(scope.wf.file, s.step.env)}: ${(e as Error).message}`);
  }
  // docs: Contexts › env — a step's own env: is in the env context of its run:, with:, shell: and working-directory:
  s.ctx = { ...s.ctx, env: stepEnv };
  const dir = path.join(s.temp, `step-${s.step.id.replace(/[^A-Za-z0-9_-]/g, "_")}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const files = { GITHUB_OUTPUT: path.join(dir, "output"), GITHUB_ENV: path.join(dir, "env"), GITHUB_PATH: path.join(dir, "path"), GITHUB_STATE: path.join(dir, "state"), GITHUB_STEP_SUMMARY: path.join(dir, "summary") };
  for (const f of Object.values(files)) writeFileSync(f, "");
  const g = s.ctx.github as Record<string, string>;
  const envOf = (extra: Record<string, string>): Record<string, string> => ({
    HOME: process.env.HOME ?? "/root",
    LANG: process.env.LANG ?? "C.UTF-8",
    ...run.o.env,
    ...stepEnv,
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_SHA: g.sha!,
    GITHUB_REF: g.ref!,
    GITHUB_REF_NAME: g.ref_name!,
    GITHUB_REF_TYPE: g.ref_type!,
    GITHUB_EVENT_NAME: g.event_name!,
    GITHUB_EVENT_PATH: s.eventPath,
    GITHUB_WORKSPACE: s.workspace,
    GITHUB_REPOSITORY: g.repository!,
    GITHUB_REPOSITORY_OWNER: g.repository_owner!,
    GITHUB_RUN_ID: g.run_id!,
    GITHUB_RUN_NUMBER: g.run_number!,
    GITHUB_RUN_ATTEMPT: g.run_attempt!,
    GITHUB_ACTOR: g.actor!,
    GITHUB_TRIGGERING_ACTOR: g.triggering_actor!,
    GITHUB_SERVER_URL: g.server_url!,
    GITHUB_WORKFLOW: g.workflow!,
    GITHUB_JOB: g.job!,
    GITHUB_ACTION: s.step.id,
    GITHUB_BASE_REF: g.base_ref ?? "",
    GITHUB_HEAD_REF: g.head_ref ?? "",
    ...(g.api_url ? { GITHUB_API_URL: g.api_url } : {}),
    RUNNER_OS: "Linux",
    RUNNER_ARCH: "X64",
    RUNNER_NAME: "slipway-local",
    RUNNER_TEMP: s.temp,
    ...files,
    ...extra,
    PATH: [...s.pathPrefix, extra.PATH ?? run.o.env?.PATH ?? process.env.PATH ?? "/usr/bin:/bin"].join(":"),
  });
  const onLine = (line: string) => {
    const c = parseCommand(line);
    if (c?.name === "add-mask") {
      run.masker.add(c.message);
      return;
    }
    if (c?.name === "error") s.sr.errors.push(run.masker.mask(c.message));
    const masked = run.masker.mask(line);
    s.sr.log += (s.sr.log ? "\n" : "") + masked;
    run.print(`[${s.id}] ${masked}`);
  };
  let argv: string[];
  let cwd = s.workspace;
  let extra: Record<string, string> = {};
  if (s.step.run) {
    let script: string;
    try {
      script = evalText(s.step.run, s.ctx);
    } catch (e) {
      return error(`${where(scope.wf.file, s.step.run)}: ${(e as Error).message}`);
    }
    const shellToken = raw(s.rawStep, "shell") ?? s.shellDefault;
    // docs: jobs.<job_id>.steps[*].shell — unspecified is `bash -e {0}` (no pipefail); `shell: bash` adds -o pipefail
    const shell = shellToken ? evalText(shellToken, s.ctx) : undefined;
    const wd = raw(s.rawStep, "working-directory") ?? s.workdirDefault;
    if (wd) cwd = path.resolve(s.workspace, evalText(wd, s.ctx));
    const template = shell === undefined ? "bash -e {0}" : (SHELLS[shell] ?? (shell.includes("{0}") ? shell : undefined));
    if (!template) return error(`shell '${shell}' is not emulated by the local runner (bash, sh, python or a command with {0})`);
    const scriptFile = path.join(dir, shell === "python" ? "script.py" : "script.sh");
    writeFileSync(scriptFile, script);
    argv = template.split(" ").map((w) => (w === "{0}" ? scriptFile : w));
  } else {
    const uses = s.step.uses!.toString();
    let action;
    try {
      action = resolveAction(uses, { workspace: s.workspace, actionRepos: run.o.actionRepos ?? {}, cache: path.join(run.workDir, "actions") });
    } catch (e) {
      return error(`${where(scope.wf.file, s.step.uses)}: ${(e as Error).message}`);
    }
    let withInputs: Record<string, string>;
    try {
      withInputs = evalMapping(raw(s.rawStep, "with"), s.ctx);
    } catch (e) {
      return error(`${where(scope.wf.file, raw(s.rawStep, "with"))}: ${(e as Error).message}`);
    }
    if (action.kind === "stand-in") return standIn(run, action.name, withInputs, s, onLine, error);
    const declared = Object.keys(action.inputs);
    const unexpected = Object.keys(withInputs).filter((k) => !declared.some((d) => d.toLowerCase() === k.toLowerCase()));
    if (unexpected.length) onLine(`::warning::Unexpected input(s) '${unexpected.join("', '")}', valid inputs are ['${declared.join("', '")}']`);
    // docs (metadata syntax): inputs.<id>.default — expressions in defaults are evaluated
    for (const [k, def] of Object.entries(action.inputs)) {
      const given = Object.entries(withInputs).find(([w]) => w.toLowerCase() === k.toLowerCase());
      extra[`INPUT_${k.replace(/ /g, "_").toUpperCase()}`] = given ? given[1] : def ? evalText(def, s.ctx) : "";
    }
    for (const [k, v] of Object.entries(withInputs)) if (!declared.some((d) => d.toLowerCase() === k.toLowerCase())) extra[`INPUT_${k.replace(/ /g, "_").toUpperCase()}`] = v;
    extra = { ...extra, GITHUB_ACTION_PATH: action.dir, GITHUB_ACTION_REF: action.ref };
    argv = [run.node, action.main];
  }
  const r = await execProcess(argv, { cwd, env: envOf(extra), timeoutMs: Number.isFinite(s.timeoutMs) ? s.timeoutMs : undefined, signal: s.signal, onLine });
  collectFiles(run, s, files);
  if (r.timedOut) return error(`the step exceeded its timeout (${Math.round(s.timeoutMs / 1000)} s) and was stopped`);
  if (r.cancelled) return "cancelled";
  if (r.code !== 0) return error(`${s.step.run ? "the script" : s.step.uses!.toString()} exited with ${r.code ?? r.signal}`);
  return "success";
}

function collectFiles(run: Run, s: StepRun, files: Record<string, string>) {
  try {
    Object.assign(s.sr.outputs, parseKeyValueFile(readFileSync(files.GITHUB_OUTPUT!, "utf8"), "GITHUB_OUTPUT"));
    Object.assign(s.fileEnv, parseKeyValueFile(readFileSync(files.GITHUB_ENV!, "utf8"), "GITHUB_ENV"));
    for (const p of readFileSync(files.GITHUB_PATH!, "utf8").split("\n").map((l) => l.trim()).filter(Boolean).reverse()) s.pathPrefix.unshift(p);
  } catch (e) {
    s.sr.errors.push((e as Error).message);
  }
  const summary = readFileSync(files.GITHUB_STEP_SUMMARY!, "utf8");
  s.sr.summary = run.masker.mask(summary);
  if (summary) appendFileSync(s.summaryFile, summary.endsWith("\n") ? summary : summary + "\n");
}

/** The third-party actions our workflows use, emulated locally (docs/workflow-runner.md). */
function standIn(run: Run, name: string, inputs: Record<string, string>, s: StepRun, say: (l: string) => void, error: (m: string) => Outcome): Outcome {
  try {
    if (name === "checkout") {
      const history = inputs["fetch-depth"] === "0";
      checkout(run.o.repo, run.sha, inputs.path ? path.resolve(s.workspace, inputs.path) : s.workspace, path.join(run.workDir, "checkouts"), { history });
      say(`checkout stand-in: ${run.o.repo} at ${run.sha.slice(0, 12)} ${history ? "cloned with its history (fetch-depth: 0)" : "copied into the workspace"}`);
    } else if (name === "setup-node") {
      const want = (inputs["node-version"] ?? "").replace(/^v/, "").split(".")[0];
      const have = execFileSync(run.node, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
      if (want && want !== have.split(".")[0]) return error(`setup-node stand-in: node-version ${inputs["node-version"]} was asked for, but the runner's node is ${have} (RunOptions.node / --node)`);
      s.pathPrefix.unshift(path.dirname(run.node));
      say(`setup-node stand-in: node ${have} (${run.node}) first on PATH`);
    } else if (name === "upload-artifact") {
      if (!inputs.name) return error("upload-artifact stand-in: 'name' is required here");
      const m = run.artifacts.upload(inputs.name, inputs.path ?? "", s.workspace, inputs["if-no-files-found"] || "warn");
      if (m) say(m);
    } else if (name === "download-artifact") {
      // another run's artifacts need its run-id and a token (without a token, run-id is ignored, as in v4)
      const other = inputs["github-token"] && inputs["run-id"] && inputs["run-id"] !== run.github.run_id ? inputs["run-id"] : undefined;
      const dir = other ? run.o.artifactsOfRun?.(other) : undefined;
      if (other && !dir) return error(`download-artifact stand-in: Unable to download artifact(s): no run ${other} of ${run.github.repository} (RunOptions.artifactsOfRun)`);
      const store = dir ? new ArtifactStore(dir) : run.artifacts;
      say(store.download({ name: inputs.name, pattern: inputs.pattern, merge: inputs["merge-multiple"] === "true" }, path.resolve(s.workspace, inputs.path || ".")));
    }
    return "success";
  } catch (e) {
    return error(`${name} stand-in: ${(e as Error).message}`);
  }
}

/** A caller job (docs: "Reusing workflows" — jobs.<job_id>.uses, with, secrets, secrets: inherit, outputs). */
async function runCaller(run: Run, scope: Scope, job: ReusableWorkflowJob, rawJob: TemplateToken | undefined, id: string, ctx: Contexts): Promise<JobResult> {
  const t0 = Date.now();
  const result: JobResult = { id, name: id, result: "success", outputs: {}, steps: [], summary: "", durationMs: 0, jobs: [] };
  const ref = job.ref.value;
  let callee: LoadedWorkflow;
  try {
    const provider = fileProvider(run.o, run.sha);
    let file;
    if (ref.startsWith("./")) file = await provider.getFileContent({ path: ref.slice(2) });
    else {
      const m = /^([^/]+)\/([^/]+)\/(.+)@(.+)$/.exec(ref);
      if (!m) throw new Error(`'uses: ${ref}' is not ./path or owner/repo/path@ref`);
      file = await provider.getFileContent({ owner: m[1]!, repository: m[2]!, path: m[3]!, version: m[4]! });
    }
    callee = await loadWorkflow(file.name, file.content, provider);
  } catch (e) {
    return failed(run, id, `${where(scope.wf.file, job.ref)}: ${(e as Error).message}`);
  }
  const call = raw(raw(callee.root, "on"), "workflow_call");
  // inputs: with + defaults, typed as the callee declares them
  let given: Record<string, unknown>;
  try {
    const w = raw(rawJob, "with");
    given = w ? (toPlain(evaluateToken(w, { ...ctx, secrets: scope.secrets })) as Record<string, unknown>) : {};
  } catch (e) {
    return failed(run, id, `${where(scope.wf.file, raw(rawJob, "with"))}: ${(e as Error).message}`);
  }
  const inputs: Record<string, unknown> = {};
  const defs = raw(call, "inputs");
  if (defs && isMapping(defs))
    for (const pair of defs) {
      const name = pair.key.toString();
      const type = raw(pair.value, "type")?.toString() ?? "string";
      const def = raw(pair.value, "default");
      const required = raw(pair.value, "required")?.toString() === "true";
      let v = name in given ? given[name] : def ? toPlain(evaluateToken(def, { github: run.github, inputs: {}, vars: run.vars })) : undefined;
      if (v === undefined) {
        if (required) return failed(run, id, `${where(scope.wf.file, job.ref)}: input '${name}' of ${callee.file} is required`);
        v = type === "boolean" ? false : type === "number" ? 0 : "";
      }
      if (type === "boolean" && typeof v !== "boolean") return failed(run, id, `${where(scope.wf.file, job.ref)}: input '${name}' of ${callee.file} is a boolean, got ${JSON.stringify(v)}`);
      if (type === "number" && typeof v !== "number") return failed(run, id, `${where(scope.wf.file, job.ref)}: input '${name}' of ${callee.file} is a number, got ${JSON.stringify(v)}`);
      inputs[name] = type === "string" ? String(v) : v;
    }
  // secrets: inherit, or the ones mapped; a required secret must be given
  let secrets: Record<string, string>;
  if (job["inherit-secrets"]) secrets = { ...scope.secrets };
  else {
    secrets = { GITHUB_TOKEN: scope.secrets.GITHUB_TOKEN ?? "" };
    try {
      Object.assign(secrets, evalMapping(raw(rawJob, "secrets"), { ...ctx, secrets: scope.secrets }));
    } catch (e) {
      return failed(run, id, `${where(scope.wf.file, raw(rawJob, "secrets"))}: ${(e as Error).message}`);
    }
  }
  const sdefs = raw(call, "secrets");
  if (sdefs && isMapping(sdefs))
    for (const pair of sdefs)
      if (raw(pair.value, "required")?.toString() === "true" && !secrets[pair.key.toString()]) return failed(run, id, `${where(scope.wf.file, job.ref)}: secret '${pair.key.toString()}' of ${callee.file} is required`);
  result.jobs = await runJobs(run, { wf: callee, inputs, secrets, prefix: `${id} / ` });
  const jobsCtx = Object.fromEntries(callee.template.jobs.map((j) => [j.id.value, aggregate(result.jobs!.filter((r) => r.id === `${id} / ${j.id.value}` || r.id.startsWith(`${id} / ${j.id.value} (`)))]));
  const outs = raw(call, "outputs");
  if (outs && isMapping(outs))
    for (const pair of outs) {
      const v = evalText(raw(pair.value, "value"), { github: run.github, jobs: jobsCtx, inputs, vars: run.vars });
      if (run.masker.carries(v)) run.print(`[${id}] ##[warning]Skip output '${pair.key.toString()}' since it may contain secret.`);
      else result.outputs[pair.key.toString()] = v;
    }
  result.result = aggregate(result.jobs).result === "failure" ? "failure" : result.jobs.some((j) => j.result === "cancelled") ? "cancelled" : "success";
  result.summary = result.jobs.map((j) => j.summary).filter(Boolean).join("\n");
  result.durationMs = Date.now() - t0;
  return result;
}
