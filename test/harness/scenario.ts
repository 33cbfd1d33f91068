// The seed scenarios end to end (issue #8): an example environment (environments/examples/<name>.yml)
// and its sample app (examples/<name>/) copied into a workspace laid out like the repository, with
// the example's hosts pointed at lab hosts; then the actions run in the order deploy.yml's jobs run
// them, as the runner runs them (the committed bundles under Node 24, every declared input set).
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { host, type LabState } from "../../src/lab/state.js";
import { ROOT, runActionAsync, type ActionRun } from "./runner.js";

export type DeployAction = "deploy-systemd" | "deploy-supervisor" | "deploy-compose";

/** The order of the action steps in every deploy job of .github/workflows/deploy.yml (a unit test checks it). */
export const DEPLOY_JOB_STEPS = ["backup-db", "apply-migrations", "deploy", "verify-health", "rollback"] as const;

/** Every input an action declares, with its action.yml default: the runner sets them all. */
function declaredInputs(action: string): Record<string, string> {
  const spec = parse(readFileSync(path.join(ROOT, "actions", action, "action.yml"), "utf8")) as { inputs: Record<string, { default?: string }> };
  return Object.fromEntries(Object.entries(spec.inputs).map(([k, v]) => [k, v.default ?? ""]));
}

export interface JobResult {
  ok: boolean;
  steps: Partial<Record<(typeof DEPLOY_JOB_STEPS)[number], ActionRun>>;
  /** the release now live according to the deploy (or the rollback) */
  releaseId?: string;
  /** every step's job summary, in order: what GitHub would show for the job */
  summary: string;
}

export class Scenario {
  readonly ws: string;
  readonly envPath: string;
  /** GitHub's run context; each deploy() is a new workflow run */
  private run = 100;

  /**
   * @param name     examples/<name> and environments/examples/<name>.yml
   * @param hostMap  example host name -> lab host name
   * @param secrets  the job's env: secrets the environment names (key-secret, secret-env, url-secret)
   * @param edit     adjust the example for the lab (e.g. a database address that only the lab knows)
   */
  constructor(
    readonly lab: LabState,
    readonly name: string,
    readonly deployAction: DeployAction,
    hostMap: Record<string, string>,
    readonly secrets: Record<string, string> = {},
    edit: (env: Record<string, any>) => void = () => {},
  ) {
    this.ws = mkdtempSync(path.join(os.tmpdir(), `slipway-${name}-`));
    cpSync(path.join(ROOT, "examples", name), path.join(this.ws, "examples", name), { recursive: true });
    this.envPath = `environments/examples/${name}.yml`;
    const env = parse(readFileSync(path.join(ROOT, this.envPath), "utf8")) as Record<string, any>;
    for (const [exampleHost, labHost] of Object.entries(hostMap)) {
      const h = host(lab, labHost);
      if (!env.hosts[exampleHost]) throw new Error(`${this.envPath} has no host ${exampleHost}`);
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
    mkdirSync(path.join(this.ws, "environments", "examples"), { recursive: true });
    writeFileSync(path.join(this.ws, this.envPath), stringify(env));
  }

  /** A file of the workspace's sample app (examples/<name>/<rel>), e.g. to make the next release's change. */
  file(rel: string): string {
    return path.join(this.ws, "examples", this.name, rel);
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

  /** The next commit: lay examples/<name>/changes/<change>/ over the workspace's copy of the app. */
  commit(change: string): void {
    const from = this.file(`changes/${change}`);
    if (!existsSync(from)) throw new Error(`examples/${this.name}/changes/${change} does not exist`);
    cpSync(from, this.file(""), { recursive: true });
  }

  githubEnv(run = this.run): Record<string, string> {
    return { GITHUB_RUN_ID: String(run), GITHUB_RUN_ATTEMPT: "1", GITHUB_REPOSITORY: `acme/${this.name}`, GITHUB_ACTOR: "octocat", GITHUB_SERVER_URL: "https://github.com", ...this.secrets };
  }

  /** One action step as the runner runs it. */
  step(action: string, inputs: Record<string, string> = {}, run = this.run): Promise<ActionRun> {
    return runActionAsync(action, { ...declaredInputs(action), environment: this.envPath, ...inputs }, { cwd: this.ws, env: this.githubEnv(run) });
  }

  /**
   * One deploy job of deploy.yml for a push of `sha`: backup-db -> apply-migrations -> deploy ->
   * verify-health; on failure, when the deploy changed something, rollback (auto, only-if-live).
   */
  async deploy(sha: string, o: { release?: string } = {}): Promise<JobResult> {
    const run = ++this.run;
    const steps: JobResult["steps"] = {};
    const summaries: string[] = [];
    const take = (name: (typeof DEPLOY_JOB_STEPS)[number], r: ActionRun) => {
      steps[name] = r;
      if (r.summary.trim()) summaries.push(r.summary.trim());
      return r.code === 0;
    };
    let ok = take("backup-db", await this.step("backup-db", {}, run));
    const backupId = steps["backup-db"]!.outputs["backup-id"] ?? "";
    if (ok) ok = take("apply-migrations", await this.step("apply-migrations", { "backup-id": backupId }, run));
    if (ok) {
      const inputs: Record<string, string> = { sha, "backup-id": backupId, "migration-head": steps["apply-migrations"]!.outputs.head ?? "" };
      if (o.release) inputs.release = o.release;
      ok = take("deploy", await this.step(this.deployAction, inputs, run));
    }
    if (ok) ok = take("verify-health", await this.step("verify-health", {}, run));
    let releaseId = steps.deploy?.outputs["release-id"];
    if (!ok && steps.deploy?.outputs.changed === "true") {
      const rb = await this.step("rollback", { auto: "true", "only-if-live": steps.deploy.outputs["release-id"] ?? "", reason: `deploy or verification failed in run ${run}` }, run);
      take("rollback", rb);
      releaseId = rb.outputs["release-id"] || releaseId;
    }
    return { ok, steps, releaseId, summary: summaries.join("\n\n") };
  }

  /** rollback.yml's rollback job (workflow_dispatch): to a named release or sha, optionally with the database. */
  rollback(to: string, o: { restoreDb?: boolean; backupId?: string } = {}): Promise<ActionRun> {
    return this.step("rollback", { to, "restore-db": String(o.restoreDb ?? false), "backup-id": o.backupId ?? "", reason: "workflow_dispatch" }, ++this.run);
  }
}

/** The errors an action printed (::error lines), decoded. */
export function errors(r: ActionRun): string {
  return r.stdout
    .split("\n")
    .filter((l) => l.startsWith("::error"))
    .map((l) => l.replace(/^::error[^:]*::/, "").replace(/%0A/g, "\n").replace(/%25/g, "%"))
    .join("\n");
}

/** A failed step's output for an assertion message. */
export const why = (r: ActionRun | undefined) => (r ? `${errors(r) || r.stdout.slice(-3000)}\n${r.stderr.slice(-1500)}` : "step did not run");
