// A tiny GitHub REST client for what the workflows report: deployments and their statuses, and one
// pull-request comment per marker, updated in place. Global fetch; the API from GITHUB_API_URL and
// the token from GITHUB_TOKEN (sent only as the Authorization header, never logged or put in an
// error). The report* helpers never throw: reporting must never fail a deploy.

export type DeploymentState = "in_progress" | "success" | "failure" | "inactive" | "error" | "queued" | "pending";

export interface GitHubConfig {
  /** e.g. https://api.github.com (GITHUB_API_URL) */
  apiUrl: string;
  token: string;
  owner: string;
  repo: string;
  /** the run's URL (GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID), the statuses' log_url */
  runUrl?: string;
}

export class GitHubApiError extends Error {
  constructor(
    readonly method: string,
    /** the endpoint's template, e.g. POST /repos/{owner}/{repo}/deployments */
    readonly endpoint: string,
    readonly status: number | undefined,
    detail: string,
  ) {
    super(`GitHub API ${method} ${endpoint}: ${status === undefined ? "" : `HTTP ${status}: `}${detail}`);
    this.name = "GitHubApiError";
  }
}

/** The configuration from the environment a workflow step gets, or what is missing. */
export function githubConfigFromEnv(env: NodeJS.ProcessEnv = process.env): { config?: GitHubConfig; missing: string[] } {
  const missing: string[] = [];
  if (!env.GITHUB_TOKEN) missing.push("GITHUB_TOKEN (give the step env: { GITHUB_TOKEN: ${{ github.token }} })");
  if (!env.GITHUB_API_URL) missing.push("GITHUB_API_URL (set by GitHub Actions)");
  const [owner, repo, ...rest] = (env.GITHUB_REPOSITORY ?? "").split("/");
  if (!owner || !repo || rest.length) missing.push("GITHUB_REPOSITORY as owner/repo (set by GitHub Actions)");
  if (missing.length) return { missing };
  return { config: { apiUrl: env.GITHUB_API_URL!.replace(/\/+$/, ""), token: env.GITHUB_TOKEN!, owner: owner!, repo: repo!, runUrl: runUrl(env) }, missing };
}

export function runUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!env.GITHUB_REPOSITORY || !env.GITHUB_RUN_ID) return undefined;
  return `${(env.GITHUB_SERVER_URL ?? "https://github.com").replace(/\/+$/, "")}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`;
}

export interface DeploymentRequest {
  /** the commit or ref deployed */
  ref: string;
  environment: string;
  /** the release id (recorded in the payload) */
  release: string;
  hosts: string[];
  production?: boolean;
  transient?: boolean;
  description?: string;
  /** "deploy" (default) or e.g. "deploy:migrations" */
  task?: string;
  /** more payload fields (e.g. rollback: true) */
  payload?: Record<string, unknown>;
}

export interface StatusRequest {
  state: DeploymentState;
  environmentUrl?: string;
  description?: string;
}

export interface Deployment {
  id: number;
  sha: string;
  /** an object for deployments made with one (slipway's: release, hosts), else often "" */
  payload: unknown;
}

interface Comment {
  id: number;
  body?: string;
}

export class GitHubClient {
  constructor(
    readonly config: GitHubConfig,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  /** One call. `template` names the endpoint in errors; `{owner}`/`{repo}` and params are filled in. */
  private async call<T>(method: string, template: string, params: Record<string, string | number> = {}, body?: unknown, query?: Record<string, string | number | undefined>): Promise<T> {
    const all: Record<string, string | number> = { owner: this.config.owner, repo: this.config.repo, ...params };
    const path = template.replace(/\{(\w+)\}/g, (_, k: string) => {
      if (all[k] === undefined) throw new Error(`${template}: no value for {${k}}`);
      return encodeURIComponent(String(all[k]));
    });
    const qs = Object.entries(query ?? {}).filter(([, v]) => v !== undefined && v !== "");
    const url = `${this.config.apiUrl}${path}${qs.length ? `?${new URLSearchParams(qs.map(([k, v]): [string, string] => [k, String(v)]))}` : ""}`;
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method,
        headers: {
          accept: "application/vnd.github+json",
          authorization: `Bearer ${this.config.token}`,
          "x-github-api-version": "2022-11-28",
          "user-agent": "slipway",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      const cause = (e as Error & { cause?: Error }).cause;
      throw new GitHubApiError(method, template, undefined, `${(e as Error).message}${cause ? ` (${cause.message})` : ""} (GITHUB_API_URL is ${this.config.apiUrl})`);
    }
    const text = await res.text();
    if (!res.ok) {
      let detail = text.slice(0, 300);
      try {
        const j = JSON.parse(text) as { message?: string; errors?: unknown };
        detail = [j.message, j.errors ? JSON.stringify(j.errors) : ""].filter(Boolean).join(" ");
      } catch {
        /* not JSON: keep the text */
      }
      const hint = res.status === 403 || res.status === 404 ? " (does the job's permissions: block grant it? a pull request from a fork gets a read-only token)" : "";
      throw new GitHubApiError(method, template, res.status, `${detail || res.statusText}${hint}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** POST /repos/{owner}/{repo}/deployments: no auto-merge, no required status contexts. */
  async createDeployment(d: DeploymentRequest): Promise<{ id: number }> {
    const r = await this.call<{ id?: number; message?: string }>("POST", "/repos/{owner}/{repo}/deployments", {}, {
      ref: d.ref,
      task: d.task ?? "deploy",
      environment: d.environment,
      auto_merge: false,
      required_contexts: [],
      payload: { ...d.payload, release: d.release, hosts: d.hosts },
      description: (d.description ?? `slipway: ${d.release} on ${d.hosts.join(", ") || "no host"}`).slice(0, 140),
      transient_environment: d.transient ?? false,
      production_environment: d.production ?? false,
    });
    // 202 means GitHub merged or refused to create one (a message instead of a deployment)
    if (typeof r?.id !== "number") throw new GitHubApiError("POST", "/repos/{owner}/{repo}/deployments", 202, r?.message ?? "no deployment was created");
    return { id: r.id };
  }

  /** POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses, log_url = this run. */
  async createDeploymentStatus(deploymentId: number, s: StatusRequest): Promise<{ id: number }> {
    return this.call("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", { deployment_id: deploymentId }, {
      state: s.state,
      ...(this.config.runUrl ? { log_url: this.config.runUrl } : {}),
      ...(s.environmentUrl ? { environment_url: s.environmentUrl } : {}),
      ...(s.description ? { description: s.description.slice(0, 140) } : {}),
      auto_inactive: s.state === "success",
    });
  }

  /** The environment's newest deployment (of `task`, accepted by `accept`) whose latest status is success. */
  async lastSuccessfulDeployment(environment: string, task = "deploy", accept: (d: Deployment) => boolean = () => true): Promise<Deployment | undefined> {
    const deployments = await this.call<Deployment[]>("GET", "/repos/{owner}/{repo}/deployments", {}, undefined, { environment, task, per_page: 30 });
    for (const d of deployments.filter(accept)) {
      const [latest] = await this.call<{ state: string }[]>("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", { deployment_id: d.id }, undefined, { per_page: 1 });
      if (latest?.state === "success") return { id: d.id, sha: d.sha, payload: d.payload };
    }
    return undefined;
  }

  /**
   * The environment's deployments of `task` accepted by `accept`, newest first (up to 30), that were
   * live at some point (a success status, perhaps inactive since a newer one succeeded); at most
   * `limit` (one status request per deployment read).
   */
  async liveDeployments(environment: string, task = "deploy", accept: (d: Deployment) => boolean = () => true, limit = 10): Promise<Deployment[]> {
    const deployments = await this.call<Deployment[]>("GET", "/repos/{owner}/{repo}/deployments", {}, undefined, { environment, task, per_page: 30 });
    const out: Deployment[] = [];
    for (const d of deployments.filter(accept)) {
      const statuses = await this.call<{ state: string }[]>("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", { deployment_id: d.id }, undefined, { per_page: 100 });
      if (statuses.some((s) => s.state === "success")) out.push({ id: d.id, sha: d.sha, payload: d.payload });
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Create or update (in place) the one comment of an issue or pull request that carries `marker`. */
  async upsertComment(issueNumber: number, marker: string, body: string): Promise<{ id: number; action: "created" | "updated" }> {
    const text = body.includes(marker) ? body : `${marker}\n${body}`;
    for (let page = 1; page <= 20; page++) {
      const comments = await this.call<Comment[]>("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", { issue_number: issueNumber }, undefined, { per_page: 100, page });
      const found = comments.find((c) => c.body?.includes(marker));
      if (found) {
        await this.call("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", { comment_id: found.id }, { body: text });
        return { id: found.id, action: "updated" };
      }
      if (comments.length < 100) break;
    }
    const created = await this.call<Comment>("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", { issue_number: issueNumber }, { body: text });
    return { id: created.id, action: "created" };
  }
}

export type Warn = (message: string) => void;

/** A warning in the workflow's log (an annotation in Actions), on stderr. */
export const warnToStderr: Warn = (m) => process.stderr.write(`${process.env.GITHUB_ACTIONS === "true" ? "::warning title=GitHub reporting::" : "warning: "}${m.replace(/\r?\n/g, " ")}\n`);

/** A client from the environment, or undefined with a warning saying what is missing. */
export function githubFromEnv(warn: Warn = warnToStderr, env: NodeJS.ProcessEnv = process.env, fetchFn?: typeof fetch): GitHubClient | undefined {
  const { config, missing } = githubConfigFromEnv(env);
  if (!config) {
    warn(`GitHub reporting skipped: ${missing.join("; ")} not set`);
    return undefined;
  }
  return new GitHubClient(config, fetchFn);
}

async function safely<T>(what: string, warn: Warn, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    warn(`${what} not reported (the deploy itself is unaffected): ${(e as Error).message}`);
    return undefined;
  }
}

/** Create a deployment and mark it in_progress. Returns its id, or undefined (with a warning): never throws. */
export async function reportDeploymentStart(d: DeploymentRequest & { environmentUrl?: string }, o: { warn?: Warn; client?: GitHubClient } = {}): Promise<number | undefined> {
  const warn = o.warn ?? warnToStderr;
  const client = o.client ?? githubFromEnv(warn);
  if (!client) return undefined;
  return safely(`deployment of ${d.release} to ${d.environment}`, warn, async () => {
    const { id } = await client.createDeployment(d);
    await client.createDeploymentStatus(id, { state: "in_progress", environmentUrl: d.environmentUrl, description: `deploying ${d.release}` });
    return id;
  });
}

/** Add a status to a deployment (no-op without an id). Never throws. */
export async function reportDeploymentStatus(deploymentId: number | undefined, s: StatusRequest, o: { warn?: Warn; client?: GitHubClient } = {}): Promise<boolean> {
  if (deploymentId === undefined) return false;
  const warn = o.warn ?? warnToStderr;
  const client = o.client ?? githubFromEnv(warn);
  if (!client) return false;
  return (await safely(`status ${s.state} of deployment ${deploymentId}`, warn, () => client.createDeploymentStatus(deploymentId, s))) !== undefined;
}

/** Upsert the comment carrying `marker`. Never throws. */
export async function reportComment(issueNumber: number, marker: string, body: string, o: { warn?: Warn; client?: GitHubClient } = {}): Promise<"created" | "updated" | undefined> {
  const warn = o.warn ?? warnToStderr;
  const client = o.client ?? githubFromEnv(warn);
  if (!client) return undefined;
  return (await safely(`comment ${marker} on #${issueNumber}`, warn, () => client.upsertComment(issueNumber, marker, body)))?.action;
}
