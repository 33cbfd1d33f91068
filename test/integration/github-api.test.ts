// The GitHub client against a fake GitHub API on 127.0.0.1 that answers with the examples of
// GitHub's published OpenAPI description (@octokit/openapi). EVERY request the client sends is
// checked against that description: method + path template, path and query parameters, and the
// JSON body against the operation's requestBody schema ($refs resolved by ajv) with no keys the
// operation does not declare. The fake's answers are checked against the response schemas too.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { Ajv, type ValidateFunction } from "ajv";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GitHubApiError, GitHubClient, githubConfigFromEnv, githubFromEnv, reportComment, reportDeploymentStart, reportDeploymentStatus } from "../../src/github/client.js";

const require = createRequire(import.meta.url);
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const spec = JSON.parse(readFileSync(require.resolve("@octokit/openapi/generated/api.github.com.json"), "utf8")) as Json;

// ---- the OpenAPI description as a validator ------------------------------------------------------

const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
ajv.addFormat("uri", /^[a-z][a-z0-9+.-]*:\/\/\S+$/i);
ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
ajv.addSchema({ $id: "github", components: spec.components, paths: spec.paths });
const pointer = (...parts: string[]) => "github#/" + parts.map((p) => encodeURIComponent(p.replace(/~/g, "~0").replace(/\//g, "~1"))).join("/");
const validators = new Map<string, ValidateFunction>();
function validator(ref: string): ValidateFunction {
  let v = validators.get(ref);
  if (!v) validators.set(ref, (v = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref })));
  return v;
}
/** an object of the description, following a local $ref */
const deref = (o: Json): Json => (typeof o?.$ref === "string" ? deref(o.$ref.slice(2).split("/").reduce((x: Json, k: string) => x[k.replace(/~1/g, "/").replace(/~0/g, "~")], spec)) : o);

interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}
interface Match {
  template: string;
  op: Json;
  params: Record<string, string>;
}

function findOperation(method: string, pathname: string): Match | undefined {
  const matches: Match[] = [];
  for (const [template, item] of Object.entries<Json>(spec.paths)) {
    const op = item[method.toLowerCase()];
    if (!op) continue;
    const names: string[] = [];
    const re = new RegExp("^" + template.replace(/\{(\w+)\}/g, (_, n: string) => (names.push(n), "([^/]+)")) + "$");
    const m = re.exec(pathname);
    if (m) matches.push({ template, op, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) });
  }
  return matches.sort((a, b) => Object.keys(a.params).length - Object.keys(b.params).length)[0];
}

const coerce = (schema: Json, v: string): unknown => (schema.type === "integer" || schema.type === "number" ? Number(v) : schema.type === "boolean" ? v === "true" : v);

/** Everything wrong with one request according to the OpenAPI description ([] = valid). */
function requestProblems(r: { method: string; url: string; body?: unknown }): string[] {
  const url = new URL(r.url, "http://x");
  const m = findOperation(r.method, url.pathname);
  if (!m) return [`${r.method} ${url.pathname}: no such operation in GitHub's API`];
  const where = `${r.method} ${m.template} (${m.op.operationId})`;
  const problems: string[] = [];
  const params = (m.op.parameters ?? []).map(deref);
  for (const p of params.filter((p: Json) => p.in === "path")) {
    const sv = ajv.compile(p.schema);
    if (!sv(coerce(p.schema, m.params[p.name]!))) problems.push(`${where}: path parameter ${p.name}=${m.params[p.name]} ${(sv.errors ?? []).map((e) => e.message).join(", ")}`);
  }
  for (const [k, v] of url.searchParams) {
    const p = params.find((p: Json) => p.in === "query" && p.name === k);
    if (!p) problems.push(`${where}: unknown query parameter ${k}`);
    else {
      const sv = ajv.compile(p.schema);
      if (!sv(coerce(p.schema, v))) problems.push(`${where}: query parameter ${k}=${v} ${(sv.errors ?? []).map((e) => e.message).join(", ")}`);
    }
  }
  const rb = m.op.requestBody ? deref(m.op.requestBody) : undefined;
  if (!rb) {
    if (r.body !== undefined) problems.push(`${where}: takes no body`);
    return problems;
  }
  if (r.body === undefined) return rb.required ? [...problems, `${where}: the body is required`] : problems;
  const ref = m.op.requestBody.$ref ? `github#${m.op.requestBody.$ref.slice(1)}/content/application~1json/schema` : pointer("paths", m.template, r.method.toLowerCase(), "requestBody", "content", "application/json", "schema");
  const v = validator(ref);
  if (!v(r.body)) problems.push(...(v.errors ?? []).map((e) => `${where}: body${e.instancePath} ${e.message}${e.params && "allowedValues" in e.params ? ` (${(e.params.allowedValues as string[]).join(", ")})` : ""}`));
  // GitHub ignores keys it does not know, so a misspelt key would be silently dropped: refuse them
  const declared = Object.keys(deref(rb.content["application/json"].schema).properties ?? {});
  if (r.body && typeof r.body === "object") for (const k of Object.keys(r.body)) if (!declared.includes(k)) problems.push(`${where}: body has key '${k}', which the operation does not declare (${declared.join(", ")})`);
  return problems;
}

/** Whether a response body is shaped like the operation's response schema for that status. */
function responseProblems(method: string, pathname: string, status: number, body: unknown): string[] {
  const m = findOperation(method, pathname)!;
  if (!m.op.responses[String(status)]?.content) return [];
  const v = validator(pointer("paths", m.template, method.toLowerCase(), "responses", String(status), "content", "application/json", "schema"));
  return v(body) ? [] : (v.errors ?? []).map((e) => `${method} ${m.template} -> ${status}: ${e.instancePath} ${e.message}`);
}

/** The example an operation's documentation gives for a status. */
function example(method: string, template: string, status: number): Json {
  const content = spec.paths[template][method.toLowerCase()].responses[String(status)].content["application/json"];
  const first = Object.values<Json>(content.examples)[0]!;
  return structuredClone(deref(first).value);
}

// ---- the fake GitHub ------------------------------------------------------------------------------

const TOKEN = "ghs_fakeTokenThatMustNeverBeLogged0123456789";
const REPO = "octo-org/slipway-demo";
let server: Server;
let api: string;
let recorded: Recorded[] = [];
let answered: { method: string; pathname: string; status: number; body: unknown }[] = [];
let state: { deployments: Json[]; statuses: Map<number, Json[]>; comments: Json[]; nextId: number; failNext?: { status: number; message: string } };

function resetState() {
  state = { deployments: [], statuses: new Map(), comments: [], nextId: 1000 };
}

async function handle(method: string, url: URL, body: Json | undefined): Promise<[number, unknown]> {
  if (state.failNext) {
    const f = state.failNext;
    state.failNext = undefined;
    return [f.status, { message: f.message, documentation_url: "https://docs.github.com/rest" }];
  }
  const m = findOperation(method, url.pathname);
  if (!m) return [404, { message: "Not Found" }];
  const p = m.params;
  switch (`${method} ${m.template}`) {
    case "POST /repos/{owner}/{repo}/deployments": {
      const d = example(method, m.template, 201);
      Object.assign(d, { id: state.nextId++, sha: body!.ref, ref: body!.ref, task: body!.task, environment: body!.environment, original_environment: body!.environment, payload: body!.payload, description: body!.description, transient_environment: body!.transient_environment, production_environment: body!.production_environment });
      d.url = `${api}/repos/${p.owner}/${p.repo}/deployments/${d.id}`;
      state.deployments.unshift(d);
      return [201, d];
    }
    case "GET /repos/{owner}/{repo}/deployments": {
      const q = url.searchParams;
      const list = state.deployments.filter((d) => (!q.get("environment") || d.environment === q.get("environment")) && (!q.get("task") || d.task === q.get("task")));
      return [200, list.slice(0, Number(q.get("per_page") ?? 30))];
    }
    case "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses": {
      const id = Number(p.deployment_id);
      if (!state.deployments.some((d) => d.id === id)) return [404, { message: "Not Found" }];
      const s = example(method, m.template, 201);
      Object.assign(s, { id: state.nextId++, state: body!.state, description: body!.description ?? "", environment: state.deployments.find((d) => d.id === id)!.environment, target_url: body!.log_url ?? s.target_url, log_url: body!.log_url ?? s.log_url, environment_url: body!.environment_url ?? s.environment_url });
      state.statuses.set(id, [s, ...(state.statuses.get(id) ?? [])]);
      return [201, s];
    }
    case "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses":
      return [200, (state.statuses.get(Number(p.deployment_id)) ?? []).slice(0, Number(url.searchParams.get("per_page") ?? 30))];
    case "GET /repos/{owner}/{repo}/issues/{issue_number}/comments": {
      const per = Number(url.searchParams.get("per_page") ?? 30);
      const page = Number(url.searchParams.get("page") ?? 1);
      return [200, state.comments.filter((c) => c.issue === Number(p.issue_number)).slice((page - 1) * per, page * per).map(({ issue, ...c }) => c)];
    }
    case "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": {
      const c = example(method, m.template, 201);
      Object.assign(c, { id: state.nextId++, body: body!.body, issue: Number(p.issue_number) });
      state.comments.push(c);
      const { issue, ...shown } = c;
      return [201, shown];
    }
    case "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}": {
      const c = state.comments.find((x) => x.id === Number(p.comment_id));
      if (!c) return [404, { message: "Not Found" }];
      c.body = body!.body;
      const { issue, ...shown } = { ...example(method, m.template, 200), ...c };
      return [200, shown];
    }
  }
  return [404, { message: "Not Found" }];
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const body = text ? (JSON.parse(text) as Json) : undefined;
      const url = new URL(req.url!, "http://127.0.0.1");
      recorded.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      void handle(req.method!, url, body).then(([status, out]) => {
        answered.push({ method: req.method!, pathname: url.pathname, status, body: out });
        res.writeHead(status, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(out));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
});
beforeEach(() => {
  resetState();
  recorded = [];
  answered = [];
});

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  GITHUB_API_URL: api,
  GITHUB_TOKEN: TOKEN,
  GITHUB_REPOSITORY: REPO,
  GITHUB_SERVER_URL: "https://github.com",
  GITHUB_RUN_ID: "4242",
  ...extra,
});
const client = () => new GitHubClient(githubConfigFromEnv(env()).config!);

/** every request of the test: valid for GitHub, authenticated, and answered with documented shapes */
function expectAllValid() {
  expect(recorded.length).toBeGreaterThan(0);
  for (const r of recorded) {
    expect(requestProblems(r), `${r.method} ${r.url}`).toEqual([]);
    expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(r.headers.accept).toBe("application/vnd.github+json");
    expect(r.headers["x-github-api-version"]).toBe("2022-11-28");
    expect(r.headers["user-agent"]).toBe("slipway");
    if (r.body !== undefined) expect(r.headers["content-type"]).toBe("application/json");
  }
  for (const a of answered.filter((a) => a.status < 300)) expect(responseProblems(a.method, a.pathname, a.status, a.body)).toEqual([]);
}

// ---- tests ----------------------------------------------------------------------------------------

describe("the validator is real", () => {
  it("accepts a documented body and refuses wrong ones, naming the problem", () => {
    const statuses = "/repos/o/r/deployments/7/statuses";
    expect(requestProblems({ method: "POST", url: statuses, body: { state: "success", log_url: "https://x/y" } })).toEqual([]);
    expect(requestProblems({ method: "POST", url: statuses, body: { state: "bogus" } })).toEqual([
      "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses (repos/create-deployment-status): body/state must be equal to one of the allowed values (error, failure, inactive, in_progress, queued, pending, success)",
    ]);
    expect(requestProblems({ method: "POST", url: statuses, body: { log_url: "https://x" } })[0]).toMatch(/must have required property 'state'/);
    expect(requestProblems({ method: "POST", url: "/repos/o/r/deployments", body: { ref: 42 } })[0]).toMatch(/body\/ref must be string/);
    expect(requestProblems({ method: "POST", url: "/repos/o/r/deployments", body: { ref: "main", enviroment: "production" } })).toEqual([
      expect.stringMatching(/body has key 'enviroment', which the operation does not declare/),
    ]);
    expect(requestProblems({ method: "POST", url: "/repos/o/r/deployments", body: { ref: "main", required_contexts: "none" } })[0]).toMatch(/required_contexts must be array/);
    expect(requestProblems({ method: "POST", url: "/repos/o/r/deployments/abc/statuses", body: { state: "success" } })[0]).toMatch(/path parameter deployment_id=abc must be integer/);
    expect(requestProblems({ method: "GET", url: "/repos/o/r/deployments?enviroment=x" })).toEqual([expect.stringMatching(/unknown query parameter enviroment/)]);
    expect(requestProblems({ method: "PUT", url: "/repos/o/r/issues/comments/1", body: { body: "x" } })).toEqual(["PUT /repos/o/r/issues/comments/1: no such operation in GitHub's API"]);
    expect(requestProblems({ method: "POST", url: "/repos/o/r/issues/3/comments" })).toEqual([expect.stringMatching(/the body is required/)]);
  });

  it("checks response shapes: a deployment without an id is not one", () => {
    const good = example("POST", "/repos/{owner}/{repo}/deployments", 201);
    expect(responseProblems("POST", "/repos/o/r/deployments", 201, good)).toEqual([]);
    delete good.id;
    expect(responseProblems("POST", "/repos/o/r/deployments", 201, good)).toEqual([expect.stringMatching(/must have required property 'id'/)]);
  });
});

describe("deployments", () => {
  it("creates a deployment (no auto-merge, no required contexts, payload release+hosts) and every status with environment_url and the run's log_url", async () => {
    const c = client();
    const { id } = await c.createDeployment({ ref: "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d", environment: "production", release: "20261123T114501123Z-a84d88e", hosts: ["collector-1", "trader-1"], production: true });
    for (const state of ["in_progress", "success", "failure", "inactive"] as const) await c.createDeploymentStatus(id, { state, environmentUrl: "https://trader.example.com", description: `now ${state}` });
    expectAllValid();
    expect(recorded[0]).toMatchObject({
      method: "POST",
      url: `/repos/${REPO}/deployments`,
      body: {
        ref: "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d",
        environment: "production",
        auto_merge: false,
        required_contexts: [],
        payload: { release: "20261123T114501123Z-a84d88e", hosts: ["collector-1", "trader-1"] },
        transient_environment: false,
        production_environment: true,
        task: "deploy",
      },
    });
    expect(recorded.slice(1).map((r) => r.body)).toEqual(
      ["in_progress", "success", "failure", "inactive"].map((state) => ({
        state,
        log_url: `https://github.com/${REPO}/actions/runs/4242`,
        environment_url: "https://trader.example.com",
        description: `now ${state}`,
        auto_inactive: state === "success",
      })),
    );
    expect(recorded.slice(1).every((r) => r.url === `/repos/${REPO}/deployments/${id}/statuses`)).toBe(true);
  });

  it("finds the commit of the newest deployment whose latest status is success", async () => {
    const c = client();
    const mk = async (sha: string, env: string, ...states: ("in_progress" | "success" | "failure")[]) => {
      const { id } = await c.createDeployment({ ref: sha, environment: env, release: `r-${sha.slice(0, 7)}`, hosts: ["nas"] });
      for (const s of states) await c.createDeploymentStatus(id, { state: s });
    };
    await mk("1111111aaaaaaa", "nas", "in_progress", "success");
    await mk("2222222bbbbbbb", "nas", "in_progress", "success");
    await mk("3333333ccccccc", "production", "in_progress", "success");
    await mk("4444444ddddddd", "nas", "in_progress", "failure");
    await mk("5555555eeeeeee", "nas", "in_progress");
    expect(await c.lastSuccessfulDeployment("nas")).toMatchObject({ sha: "2222222bbbbbbb", payload: { release: "r-2222222", hosts: ["nas"] } });
    expect(await c.lastSuccessfulDeployment("staging")).toBeUndefined();
    expectAllValid();
    expect(recorded.find((r) => r.method === "GET")?.url).toBe(`/repos/${REPO}/deployments?environment=nas&task=deploy&per_page=30`);
  });

  it("reportDeploymentStart creates it in_progress and returns the id; reportDeploymentStatus adds the final state", async () => {
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    const c = client();
    const id = await reportDeploymentStart({ ref: "abcdef1234567", environment: "nas", release: "r1", hosts: ["nas"], environmentUrl: "http://nas:3000" }, { warn, client: c });
    expect(id).toBe(1000);
    expect(await reportDeploymentStatus(id, { state: "success" }, { warn, client: c })).toBe(true);
    expect(await reportDeploymentStatus(undefined, { state: "success" }, { warn, client: c })).toBe(false);
    expect(state.statuses.get(1000)!.map((s) => s.state)).toEqual(["success", "in_progress"]);
    expect(warnings).toEqual([]);
    expectAllValid();
  });
});

describe("pull-request comments by marker", () => {
  const marker = "<!-- slipway-plan:production -->";

  it("creates the comment once, then updates the same comment in place, leaving the others alone", async () => {
    const c = client();
    // 120 comments of people first: the marker is looked for on every page
    for (let i = 0; i < 120; i++) state.comments.push({ ...example("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", 201), id: i + 1, body: `comment ${i}`, issue: 7 });
    state.comments.push({ ...example("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", 201), id: 500, body: `${marker} on another PR`, issue: 8 });
    expect(await c.upsertComment(7, marker, "plan v1")).toEqual({ id: 1000, action: "created" });
    expect(await c.upsertComment(7, marker, `${marker}\nplan v2`)).toEqual({ id: 1000, action: "updated" });
    expect(state.comments.filter((x) => x.body.includes(marker)).map((x) => [x.issue, x.body])).toEqual([
      [8, `${marker} on another PR`],
      [7, `${marker}\nplan v2`],
    ]);
    expect(recorded.map((r) => `${r.method} ${r.url}`)).toEqual([
      `GET /repos/${REPO}/issues/7/comments?per_page=100&page=1`,
      `GET /repos/${REPO}/issues/7/comments?per_page=100&page=2`,
      `POST /repos/${REPO}/issues/7/comments`,
      `GET /repos/${REPO}/issues/7/comments?per_page=100&page=1`,
      `GET /repos/${REPO}/issues/7/comments?per_page=100&page=2`,
      `PATCH /repos/${REPO}/issues/comments/1000`,
    ]);
    expect(recorded[2]!.body).toEqual({ body: `${marker}\nplan v1` }); // the marker is put in front when missing
    expectAllValid();
  });
});

describe("errors never fail a deploy", () => {
  it("an API error names the endpoint and status and never the token", async () => {
    state.failNext = { status: 422, message: "No ref found for: nope" };
    const err = await client().createDeployment({ ref: "nope", environment: "nas", release: "r", hosts: [] }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(GitHubApiError);
    expect((err as Error).message).toBe("GitHub API POST /repos/{owner}/{repo}/deployments: HTTP 422: No ref found for: nope");
    expect((err as GitHubApiError).status).toBe(422);

    state.failNext = { status: 403, message: "Resource not accessible by integration" };
    const warnings: string[] = [];
    expect(await reportDeploymentStart({ ref: "abc", environment: "nas", release: "r", hosts: [] }, { warn: (m) => warnings.push(m), client: client() })).toBeUndefined();
    expect(warnings).toEqual([
      "deployment of r to nas not reported (the deploy itself is unaffected): GitHub API POST /repos/{owner}/{repo}/deployments: HTTP 403: Resource not accessible by integration (does the job's permissions: block grant it? a pull request from a fork gets a read-only token)",
    ]);
    expect(JSON.stringify(warnings)).not.toContain(TOKEN);
  });

  it("a missing token or repository is a warning, and nothing is sent", async () => {
    const warnings: string[] = [];
    expect(githubFromEnv((m) => warnings.push(m), { ...env(), GITHUB_TOKEN: "" })).toBeUndefined();
    expect(warnings[0]).toBe("GitHub reporting skipped: GITHUB_TOKEN (give the step env: { GITHUB_TOKEN: ${{ github.token }} }) not set");
    expect(githubConfigFromEnv({ ...env(), GITHUB_REPOSITORY: "just-a-name" }).missing).toEqual(["GITHUB_REPOSITORY as owner/repo (set by GitHub Actions)"]);
    expect(recorded).toEqual([]);
  });

  it("an unreachable API is a warning naming the endpoint", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const warnings: string[] = [];
    const c = new GitHubClient(githubConfigFromEnv(env({ GITHUB_API_URL: `http://127.0.0.1:${port}` })).config!);
    expect(await reportComment(3, "<!-- m -->", "x", { warn: (m) => warnings.push(m), client: c })).toBeUndefined();
    expect(warnings[0]).toMatch(new RegExp(`^comment <!-- m --> on #3 not reported \\(the deploy itself is unaffected\\): GitHub API GET /repos/\\{owner\\}/\\{repo\\}/issues/\\{issue_number\\}/comments: fetch failed \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)`));
  });
});

describe("slipway github (the CLI bundle the workflows call)", () => {
  const ROOT = path.resolve(import.meta.dirname, "../..");
  // asynchronous: the fake API answers from this process's event loop
  const cli = (args: string[], extra: Record<string, string> = {}) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const p = spawn(process.execPath, [path.join(ROOT, "dist/cli/index.js"), "github", ...args], { cwd: ROOT, env: { PATH: process.env.PATH, ...env(extra) }, timeout: 60_000 });
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (d: Buffer) => (stdout += d));
      p.stderr.on("data", (d: Buffer) => (stderr += d));
      p.on("error", reject);
      p.on("close", (status) => resolve({ status, stdout, stderr }));
    });

  it("deployment create prints the id; status reports; last-deployed prints the commit; comment upserts", async () => {
    const created = await cli(["deployment", "create", "--environment", "nas", "--release", "20261123T114501123Z-abcdef1", "--hosts", '{"nas":{"release":"x","outcome":"success"}}', "--ref", "abcdef1234567890", "--production"]);
    expect(created.stderr).toBe("");
    expect(created.stdout).toBe("1000\n");
    expect((await cli(["deployment", "status", "--id", "1000", "--state", "success", "--environment-url", "http://nas:8000"])).status).toBe(0);
    const last = await cli(["last-deployed", "--environment", "nas"]);
    expect(last.stdout).toBe("abcdef1234567890\n");
    // GitHub's own deployment of an environment's job (no slipway payload) does not count
    const own = await client().createDeployment({ ref: "9999999999999999", environment: "nas", release: "x", hosts: [] });
    state.deployments[0]!.payload = {};
    await client().createDeploymentStatus(own.id, { state: "success" });
    expect((await cli(["last-deployed", "--environment", "nas"])).stdout).toBe("abcdef1234567890\n");
    // a rollback: the commit that should be live is the one of the release it returned to
    const rb = await cli(["deployment", "create", "--environment", "nas", "--release", "20261120T080000000Z-1f2e3d4", "--ref", "abcdef1234567890", "--rollback"]);
    await cli(["deployment", "status", "--id", rb.stdout.trim(), "--state", "success"]);
    expect((await cli(["last-deployed", "--environment", "nas"])).stdout).toBe("1f2e3d4\n");
    expect((await cli(["last-deployed", "--environment", "nas", "--print", "id"])).stdout).toBe(`${rb.stdout.trim()}\n`);
    expect(state.deployments[0]!.payload).toEqual({ rollback: true, release: "20261120T080000000Z-1f2e3d4", hosts: [] });
    const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-gh-"));
    writeFileSync(path.join(dir, "plan.md"), "the plan");
    for (const action of ["created", "updated"]) {
      const r = await cli(["comment", "--issue", "12", "--marker", "<!-- slipway-plan:nas -->", "--file", path.join(dir, "plan.md")]);
      expect(r.stdout).toBe(`comment ${action} on #12\n`);
    }
    expect(recorded[0]!.body).toMatchObject({ payload: { release: "20261123T114501123Z-abcdef1", hosts: ["nas"] }, production_environment: true });
    expect(recorded.filter((r) => r.method === "PATCH").length).toBe(1);
    expectAllValid();
  });

  it("reporting problems are warnings with exit code 0; a missing id or token sends nothing", async () => {
    const noToken = await cli(["deployment", "create", "--environment", "nas", "--release", "r", "--ref", "abc1234"], { GITHUB_TOKEN: "", GITHUB_ACTIONS: "true" });
    expect(noToken.status).toBe(0);
    expect(noToken.stdout).toBe("");
    expect(noToken.stderr).toMatch(/^::warning title=GitHub reporting::GitHub reporting skipped: GITHUB_TOKEN/);
    const noId = await cli(["deployment", "status", "--id", "", "--state", "failure"]);
    expect(noId.status).toBe(0);
    expect(noId.stderr).toContain("no deployment id: status failure not reported");
    state.failNext = { status: 404, message: "Not Found" };
    const failing = await cli(["deployment", "status", "--id", "99", "--state", "failure"]);
    expect(failing.status).toBe(0);
    expect(failing.stderr).toContain("GitHub API POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses: HTTP 404: Not Found");
    expect(failing.stderr + failing.stdout).not.toContain(TOKEN);
    expect(recorded.map((r) => `${r.method} ${r.url}`)).toEqual([`POST /repos/${REPO}/deployments/99/statuses`]);
    expect((await cli(["deployment", "status", "--id", "1", "--state", "bogus"])).status).toBe(1); // a usage error is an error
  });
});
