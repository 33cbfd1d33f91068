// The seed scenarios end to end (issues #8, #14 and #15): each seed system is an example repository
// of its own (examples/<name>/: its app, environments/<env>.yml and .github/workflows callers),
// copied into a temporary git repository with the example's hosts pointed at lab hosts. Its callers
// reference slipway as a user's do (OWNER/slipway/…@v0), resolved to a repository built from this
// checkout (test/harness/slipway-repo.ts): nothing of slipway is in the app repository. Every deploy
// is a commit pushed to main that runs the example's deploy.yml through the local workflow runner
// (GitHub's parser and expression engine); every dispatch rollback runs its rollback.yml. Approvals
// come from the test; GitHub's REST API is a fake that checks each request against GitHub's OpenAPI
// description.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { host, type LabState } from "../../src/lab/state.js";
import { runWorkflow } from "../../src/workflow/run.js";
import type { Approval, JobResult as WorkflowJob, RunResult, StepResult } from "../../src/workflow/types.js";
import { ensureNode24 } from "../../scripts/node24.mjs";
import { FakeGitHub } from "./fake-github.js";
import { ROOT, runActionAsync, type ActionRun } from "./runner.js";
import { SlipwayRepo } from "./slipway-repo.js";

/** The GitHub environments deploy.yml deploys, in its order. */
export type EnvironmentName = "staging" | "production" | "nas";

/** deploy-environment.yml's steps by id, under the names the tests use. */
const STEP_NAMES: Record<string, DeployStep> = { backup: "backup-db", migrate: "apply-migrations", systemd: "deploy", supervisor: "deploy", compose: "deploy", verify: "verify-health", rollback: "rollback" };
export const DEPLOY_JOB_STEPS = ["backup-db", "apply-migrations", "deploy", "verify-health", "rollback"] as const;
type DeployStep = (typeof DEPLOY_JOB_STEPS)[number];

export interface JobResult {
  /** the whole run succeeded */
  ok: boolean;
  /** the slipway steps of the environment's job that ran (a skipped step is absent) */
  steps: Partial<Record<DeployStep, ActionRun>>;
  /** the release now live according to the job (the deployed one, or the one its rollback restored) */
  releaseId?: string;
  /** the environment job's summary: what GitHub would show for it */
  summary: string;
  /** the commit the run deployed */
  sha: string;
  /** the environment's job (inside deploy-environment.yml), for what the tests check beyond slipway's steps */
  job?: WorkflowJob;
  run: RunResult;
}

/** A step of a run as the tests knew an action run: exit code, printed lines, outputs, summary. */
function asActionRun(s: StepResult): ActionRun {
  return { code: s.outcome === "success" ? 0 : 1, stdout: s.log, stderr: s.errors.join("\n"), outputs: s.outputs, outputsRaw: "", summary: s.summary };
}

/** every job of a run, the jobs of called workflows included */
export const allJobs = (jobs: WorkflowJob[]): WorkflowJob[] => jobs.flatMap((j) => [j, ...allJobs(j.jobs ?? [])]);

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

export class Scenario {
  /** the app repository's working tree */
  readonly ws: string;
  readonly envPath: string;
  github?: FakeGitHub;
  /** slipway at the versioned reference the example's workflows name */
  readonly slipway = SlipwayRepo.create();
  private runId = 100;
  /** every run's work directory (workspaces, artifacts, runner-side backups): removed by close() */
  private readonly runDirs: string[] = [];
  /** each run's artifacts directory, by run id: download-artifact with run-id (rollback.yml's restore-db job fetching a runner-side backup) */
  private readonly artifactDirs = new Map<string, string>();
  private readonly labels = new Map<string, string>();

  /**
   * @param name     examples/<name>: the example repository
   * @param envName  the environment it deploys (examples/<name>/environments/<envName>.yml)
   * @param hostMap  example host name -> lab host name
   * @param secrets  the repository's secrets (what the environment names: secret-env, url-secret…)
   * @param edit     adjust the example for the lab (e.g. a database address that only the lab knows)
   */
  constructor(
    readonly lab: LabState,
    readonly name: string,
    readonly envName: EnvironmentName,
    hostMap: Record<string, string>,
    readonly secrets: Record<string, string> = {},
    edit: (env: Record<string, any>) => void = () => {},
  ) {
    this.ws = mkdtempSync(path.join(os.tmpdir(), `slipway-${name}-`));
    cpSync(path.join(ROOT, "examples", name), this.ws, { recursive: true });
    this.envPath = `environments/${envName}.yml`;
    const example = `examples/${name}/${this.envPath}`;
    const env = parse(readFileSync(path.join(ROOT, example), "utf8")) as Record<string, any>;
    for (const [exampleHost, labHost] of Object.entries(hostMap)) {
      const h = host(lab, labHost);
      if (!env.hosts[exampleHost]) throw new Error(`${example} has no host ${exampleHost}`);
      env.hosts[exampleHost] = {
        ...env.hosts[exampleHost],
        address: h.address,
        port: h.port,
        user: "deploy",
        sudo: true,
        "host-key": h.hostKeyFingerprint,
        ...(h.kind === "nas" ? { commands: { ...env.hosts[exampleHost].commands, docker: "/usr/local/bin/docker", compose: "/usr/local/bin/docker-compose" } } : {}),
      };
    }
    env.ssh = { ...env.ssh, "identity-file": lab.clientKey };
    delete env.ssh["key-secret"];
    edit(env);
    writeFileSync(path.join(this.ws, this.envPath), stringify(env));
    git(this.ws, "init", "-q", "-b", "main");
    git(this.ws, "config", "user.email", "octocat@example.com");
    git(this.ws, "config", "user.name", "octocat");
  }

  /** A file of the app repository, e.g. to make the next release's change. */
  file(rel: string): string {
    return path.join(this.ws, rel);
  }
  write(rel: string, text: string): void {
    mkdirSync(path.dirname(this.file(rel)), { recursive: true });
    writeFileSync(this.file(rel), text);
  }
  read(rel: string): string {
    return readFileSync(this.file(rel), "utf8");
  }
  exists(rel: string): boolean {
    return existsSync(this.file(rel));
  }

  /** The next change: lay changes/<change>/ over the app repository. */
  commit(change: string): void {
    const from = this.file(`changes/${change}`);
    if (!existsSync(from)) throw new Error(`examples/${this.name}/changes/${change} does not exist`);
    cpSync(from, this.file(""), { recursive: true });
  }

  /** The commit a deploy labelled `label` pushed (the tests name their commits; git gives the sha). */
  sha(label: string): string {
    const sha = this.labels.get(label);
    if (!sha) throw new Error(`no deploy labelled ${label} yet`);
    return sha;
  }

  /** Commits the working tree (the push to main); returns the sha. */
  push(label: string): string {
    git(this.ws, "add", "-A");
    git(this.ws, "commit", "-q", "--allow-empty", "-m", label);
    const sha = git(this.ws, "rev-parse", "HEAD");
    this.labels.set(label, sha);
    return sha;
  }

  /** Runs one of the repository's workflows (as committed at `sha`) through the local runner. */
  async run(workflow: string, o: { event: string; sha: string; inputs?: Record<string, string>; approvals?: Record<string, Approval>; log?: (line: string) => void }): Promise<RunResult> {
    this.github ??= await FakeGitHub.start();
    const workDir = mkdtempSync(path.join(os.tmpdir(), `slipway-workflow-${this.name}-`));
    this.runDirs.push(workDir);
    const runId = ++this.runId;
    this.artifactDirs.set(String(runId), path.join(workDir, "artifacts"));
    const run = await runWorkflow({
      workDir,
      artifactsOfRun: (id) => this.artifactDirs.get(id),
      repo: this.ws,
      workflow: `.github/workflows/${workflow}`,
      event: o.event,
      inputs: o.inputs,
      sha: o.sha,
      ref: "refs/heads/main",
      runId,
      actor: "octocat",
      repository: `acme/${this.name}`,
      secrets: this.secrets,
      approve: (env) => o.approvals?.[env.name] ?? "approve",
      node: ensureNode24(),
      actionRepos: this.slipway.actionRepos,
      env: { GITHUB_API_URL: this.github.url },
      log: o.log,
    });
    // every request the run's steps sent to GitHub, checked against GitHub's OpenAPI description
    const problems = this.github.problems();
    if (problems.length) throw new Error(`${workflow} sent requests GitHub's API description does not allow:\n${problems.join("\n")}`);
    return run;
  }

  /**
   * A push to main of the working tree as commit `label`: the example's deploy.yml runs (this
   * environment's job of slipway's deploy-environment.yml, behind its approval: approved unless
   * `approvals` says otherwise). `slipway` replaces files of slipway's release for this run only
   * (a mutation test's broken reusable workflow).
   */
  async deploy(label: string, o: { approvals?: Record<string, Approval>; slipway?: Record<string, string>; log?: (line: string) => void } = {}): Promise<JobResult> {
    const sha = this.push(label);
    if (o.slipway) this.slipway.release(o.slipway);
    let run: RunResult;
    try {
      run = await this.run("deploy.yml", { event: "push", sha, approvals: o.approvals, log: o.log });
    } finally {
      if (o.slipway) this.slipway.restore();
    }
    const job = allJobs(run.jobs).find((j) => j.id === `${this.envName} / deploy`);
    const steps: JobResult["steps"] = {};
    for (const s of job?.steps ?? []) if (STEP_NAMES[s.id] && s.outcome !== "skipped") steps[STEP_NAMES[s.id]!] = asActionRun(s);
    return { ok: run.conclusion === "success", steps, releaseId: job?.outputs["release-id"] || undefined, summary: job?.summary ?? "", sha, job, run };
  }

  /** Where a job of a run worked (its checkout): e.g. the runner-side backups of backup-db. */
  workspaceOf(run: RunResult, jobId: string): string {
    const dir = readdirSync(path.join(run.workDir, "jobs")).find((d) => d.replace(/^\d+-/, "") === jobId.replace(/[^A-Za-z0-9_.-]+/g, "_"));
    if (!dir) throw new Error(`no job ${jobId} in ${run.workDir}`);
    return path.join(run.workDir, "jobs", dir, "workspace");
  }

  /**
   * rollback.yml dispatched for this environment: back to a release id or sha (empty: the previous
   * good one); with restoreDb, its restore-db job too (behind the <env>-db-restore approval).
   * The result reads as one step: both jobs' rollback steps, their output, outputs and summaries.
   */
  async rollback(to: string, o: { restoreDb?: boolean; backupId?: string } = {}): Promise<ActionRun & { run: RunResult }> {
    const sha = git(this.ws, "rev-parse", "HEAD");
    const run = await this.run("rollback.yml", { event: "workflow_dispatch", sha, inputs: { environment: this.envName, release: to, "restore-db": String(o.restoreDb ?? false), "backup-id": o.backupId ?? "" } });
    const ran = allJobs(run.jobs).flatMap((j) => j.steps.filter((s) => (s.id === "rollback" || s.id === "restore") && s.outcome !== "skipped"));
    const parts = ran.map(asActionRun);
    return {
      code: run.conclusion === "success" ? 0 : 1,
      stdout: parts.map((p) => p.stdout).join("\n"),
      stderr: [...parts.map((p) => p.stderr), ...allJobs(run.jobs).flatMap((j) => (j.reason ? [`${j.id}: ${j.reason}`] : []))].filter(Boolean).join("\n"),
      outputs: Object.assign({}, ...parts.map((p) => p.outputs)),
      outputsRaw: "",
      summary: allJobs(run.jobs).map((j) => j.summary).filter(Boolean).join("\n"),
      run,
    };
  }

  /** One action run by itself as the runner runs it (for what no workflow step does, e.g. a dry run). */
  step(action: string, inputs: Record<string, string> = {}): Promise<ActionRun> {
    const declared = parse(readFileSync(path.join(ROOT, "actions", action, "action.yml"), "utf8")) as { inputs: Record<string, { default?: string }> };
    const defaults = Object.fromEntries(Object.entries(declared.inputs).map(([k, v]) => [k, v.default?.includes("${{") ? "" : (v.default ?? "")]));
    const env = { GITHUB_RUN_ID: String(++this.runId), GITHUB_RUN_ATTEMPT: "1", GITHUB_REPOSITORY: `acme/${this.name}`, GITHUB_ACTOR: "octocat", GITHUB_SERVER_URL: "https://github.com", ...this.secrets };
    return runActionAsync(action, { ...defaults, environment: this.envPath, ...inputs }, { cwd: this.ws, env });
  }

  /** Stops the fake GitHub and removes the repository and every run's work directory. */
  async close(): Promise<void> {
    await this.github?.stop();
    for (const d of [this.ws, this.slipway.dir, ...this.runDirs]) rmSync(d, { recursive: true, force: true });
  }
}

/** The errors a step printed (::error lines), decoded. */
export function errors(r: ActionRun): string {
  return r.stdout
    .split("\n")
    .filter((l) => l.startsWith("::error"))
    .map((l) => l.replace(/^::error[^:]*::/, "").replace(/%0A/g, "\n").replace(/%25/g, "%"))
    .join("\n");
}

/** A failed step's output for an assertion message. */
export const why = (r: ActionRun | undefined) => (r ? `${errors(r) || r.stdout.slice(-3000)}\n${r.stderr.slice(-1500)}` : "step did not run");

/** A failed run's story for an assertion message: each job's result and reason, each failed step's errors. */
export const whyRun = (j: { run: RunResult }) =>
  allJobs(j.run.jobs)
    .map((job) => `${job.id}: ${job.result}${job.reason ? ` (${job.reason})` : ""}${job.steps.filter((s) => s.outcome === "failure").map((s) => `\n  ✗ ${s.name}: ${s.errors.join("; ")}\n${s.log.split("\n").slice(-15).join("\n")}`).join("")}`)
    .join("\n");
