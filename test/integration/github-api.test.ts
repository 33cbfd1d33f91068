// The GitHub client against a fake GitHub API on 127.0.0.1 (test/harness/fake-github.ts) that answers
// with the examples of GitHub's published OpenAPI description (@octokit/openapi). EVERY request the client sends is
// checked against that description: method + path template, path and query parameters, and the
// JSON body against the operation's requestBody schema ($refs resolved by ajv) with no keys the
// operation does not declare. The fake's answers are checked against the response schemas too.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GitHubApiError, GitHubClient, githubConfigFromEnv, githubFromEnv, reportComment, reportDeploymentStart, reportDeploymentStatus } from "../../src/github/client.js";
import { example, FakeGitHub, requestProblems, responseProblems } from "../harness/fake-github.js";

const TOKEN = "ghs_fakeTokenThatMustNeverBeLogged0123456789";
const REPO = "octo-org/slipway-demo";
let gh: FakeGitHub;

beforeAll(async () => {
  gh = await FakeGitHub.start();
});
afterAll(async () => {
  await gh?.stop();
});
beforeEach(() => gh.reset());

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  GITHUB_API_URL: gh.url,
  GITHUB_TOKEN: TOKEN,
  GITHUB_REPOSITORY: REPO,
  GITHUB_SERVER_URL: "https://github.com",
  GITHUB_RUN_ID: "4242",
  ...extra,
});
const client = () => new GitHubClient(githubConfigFromEnv(env()).config!);

/** every request of the test: valid for GitHub, authenticated, and answered with documented shapes */
function expectAllValid() {
  expect(gh.recorded.length).toBeGreaterThan(0);
  for (const r of gh.recorded) {
    expect(requestProblems(r), `${r.method} ${r.url}`).toEqual([]);
    expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(r.headers.accept).toBe("application/vnd.github+json");
    expect(r.headers["x-github-api-version"]).toBe("2022-11-28");
    expect(r.headers["user-agent"]).toBe("slipway");
    if (r.body !== undefined) expect(r.headers["content-type"]).toBe("application/json");
  }
  for (const a of gh.answered.filter((a) => a.status < 300)) expect(responseProblems(a.method, a.pathname, a.status, a.body)).toEqual([]);
  expect(gh.problems()).toEqual([]); // the harness's own summary agrees
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

describe("the harness (what lab tests use)", () => {
  it("problems() names each invalid request; deploymentsFor() shows an environment's deployments with statuses, newest first; instances are separate", async () => {
    const send = (method: string, p: string, body?: unknown) =>
      fetch(gh.url + p, { method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }) });
    const { id } = (await (await send("POST", "/repos/o/r/deployments", { ref: "abc1234", environment: "nas", task: "deploy", payload: { release: "r1" } })).json()) as { id: number };
    await send("POST", `/repos/o/r/deployments/${id}/statuses`, { state: "in_progress" });
    await send("POST", `/repos/o/r/deployments/${id}/statuses`, { state: "success", environment_url: "http://nas:8000" });
    const other = (await (await send("POST", "/repos/o/r/deployments", { ref: "def5678", environment: "nas" })).json()) as { id: number };
    await send("POST", "/repos/o/r/deployments", { ref: "0000000", environment: "production" });
    expect(gh.problems()).toEqual([]);
    expect(gh.deploymentsFor("nas")).toMatchObject([
      { id: other.id, sha: "def5678", environment: "nas", statuses: [] },
      { id, sha: "abc1234", ref: "abc1234", task: "deploy", payload: { release: "r1" }, statuses: [{ state: "success", environment_url: "http://nas:8000" }, { state: "in_progress" }] },
    ]);
    expect(gh.deploymentsFor("staging")).toEqual([]);
    gh.deploymentsFor("nas")[0]!.statuses.push({ state: "bogus" }); // a copy: the fake's state is untouched
    expect(gh.state.statuses.get(other.id)).toBeUndefined();

    expect((await send("POST", `/repos/o/r/deployments/${id}/statuses`, { state: "bogus", enviroment_url: "x" })).status).toBe(422); // as GitHub would
    expect((await send("POST", "/repos/o/r/deployments", "{not json")).status).toBe(400);
    expect(gh.deploymentsFor("nas")[1]!.statuses.map((s) => s.state)).toEqual(["success", "in_progress"]);
    expect(gh.problems()).toEqual([
      `POST /repos/o/r/deployments/${id}/statuses: POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses (repos/create-deployment-status): body/state must be equal to one of the allowed values (error, failure, inactive, in_progress, queued, pending, success)`,
      expect.stringMatching(/^POST \/repos\/o\/r\/deployments\/\d+\/statuses: .*body has key 'enviroment_url', which the operation does not declare/),
      expect.stringMatching(/^POST \/repos\/o\/r\/deployments: .*body must be object/),
    ]);
    expect(gh.answered.at(-1)).toMatchObject({ status: 400, body: { message: "Problems parsing JSON" } });

    gh.failNext(500, "Server Error");
    expect((await send("GET", "/repos/o/r/deployments")).status).toBe(500);
    expect((await send("GET", "/repos/o/r/deployments")).status).toBe(200); // only the next one

    const second = await FakeGitHub.start();
    try {
      expect(second.url).not.toBe(gh.url);
      expect(second.recorded).toEqual([]);
      expect(second.deploymentsFor("nas")).toEqual([]);
      await fetch(second.url + "/repos/o/r/deployments", { method: "POST", body: JSON.stringify({ ref: "fff0000", environment: "nas" }) });
      expect(second.deploymentsFor("nas").map((d) => [d.id, d.sha])).toEqual([[1000, "fff0000"]]);
      expect(gh.deploymentsFor("nas").map((d) => d.sha)).toEqual(["def5678", "abc1234"]);
    } finally {
      await second.stop();
    }
    gh.reset();
    expect([gh.recorded, gh.answered, gh.state.deployments, gh.deploymentsFor("nas"), gh.problems()]).toEqual([[], [], [], [], []]);
  });
});

describe("deployments", () => {
  it("creates a deployment (no auto-merge, no required contexts, payload release+hosts) and every status with environment_url and the run's log_url", async () => {
    const c = client();
    const { id } = await c.createDeployment({ ref: "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d", environment: "production", release: "20261123T114501123Z-a84d88e", hosts: ["collector-1", "trader-1"], production: true });
    for (const state of ["in_progress", "success", "failure", "inactive"] as const) await c.createDeploymentStatus(id, { state, environmentUrl: "https://trader.example.com", description: `now ${state}` });
    expectAllValid();
    expect(gh.recorded[0]).toMatchObject({
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
    expect(gh.recorded.slice(1).map((r) => r.body)).toEqual(
      ["in_progress", "success", "failure", "inactive"].map((state) => ({
        state,
        log_url: `https://github.com/${REPO}/actions/runs/4242`,
        environment_url: "https://trader.example.com",
        description: `now ${state}`,
        auto_inactive: state === "success",
      })),
    );
    expect(gh.recorded.slice(1).every((r) => r.url === `/repos/${REPO}/deployments/${id}/statuses`)).toBe(true);
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
    expect(gh.recorded.find((r) => r.method === "GET")?.url).toBe(`/repos/${REPO}/deployments?environment=nas&task=deploy&per_page=30`);
  });

  it("reportDeploymentStart creates it in_progress and returns the id; reportDeploymentStatus adds the final state", async () => {
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    const c = client();
    const id = await reportDeploymentStart({ ref: "abcdef1234567", environment: "nas", release: "r1", hosts: ["nas"], environmentUrl: "http://nas:3000" }, { warn, client: c });
    expect(id).toBe(1000);
    expect(await reportDeploymentStatus(id, { state: "success" }, { warn, client: c })).toBe(true);
    expect(await reportDeploymentStatus(undefined, { state: "success" }, { warn, client: c })).toBe(false);
    expect(gh.state.statuses.get(1000)!.map((s) => s.state)).toEqual(["success", "in_progress"]);
    expect(warnings).toEqual([]);
    expectAllValid();
  });
});

describe("pull-request comments by marker", () => {
  const marker = "<!-- slipway-plan:production -->";

  it("creates the comment once, then updates the same comment in place, leaving the others alone", async () => {
    const c = client();
    // 120 comments of people first: the marker is looked for on every page
    for (let i = 0; i < 120; i++) gh.state.comments.push({ ...example("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", 201), id: i + 1, body: `comment ${i}`, issue: 7 });
    gh.state.comments.push({ ...example("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", 201), id: 500, body: `${marker} on another PR`, issue: 8 });
    expect(await c.upsertComment(7, marker, "plan v1")).toEqual({ id: 1000, action: "created" });
    expect(await c.upsertComment(7, marker, `${marker}\nplan v2`)).toEqual({ id: 1000, action: "updated" });
    expect(gh.state.comments.filter((x) => x.body.includes(marker)).map((x) => [x.issue, x.body])).toEqual([
      [8, `${marker} on another PR`],
      [7, `${marker}\nplan v2`],
    ]);
    expect(gh.recorded.map((r) => `${r.method} ${r.url}`)).toEqual([
      `GET /repos/${REPO}/issues/7/comments?per_page=100&page=1`,
      `GET /repos/${REPO}/issues/7/comments?per_page=100&page=2`,
      `POST /repos/${REPO}/issues/7/comments`,
      `GET /repos/${REPO}/issues/7/comments?per_page=100&page=1`,
      `GET /repos/${REPO}/issues/7/comments?per_page=100&page=2`,
      `PATCH /repos/${REPO}/issues/comments/1000`,
    ]);
    expect(gh.recorded[2]!.body).toEqual({ body: `${marker}\nplan v1` }); // the marker is put in front when missing
    expectAllValid();
  });
});

describe("errors never fail a deploy", () => {
  it("an API error names the endpoint and status and never the token", async () => {
    gh.failNext(422, "No ref found for: nope");
    const err = await client().createDeployment({ ref: "nope", environment: "nas", release: "r", hosts: [] }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(GitHubApiError);
    expect((err as Error).message).toBe("GitHub API POST /repos/{owner}/{repo}/deployments: HTTP 422: No ref found for: nope");
    expect((err as GitHubApiError).status).toBe(422);

    gh.failNext(403, "Resource not accessible by integration");
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
    expect(gh.recorded).toEqual([]);
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
    gh.state.deployments[0]!.payload = {};
    await client().createDeploymentStatus(own.id, { state: "success" });
    expect((await cli(["last-deployed", "--environment", "nas"])).stdout).toBe("abcdef1234567890\n");
    // a rollback: the commit that should be live is the one of the release it returned to
    const rb = await cli(["deployment", "create", "--environment", "nas", "--release", "20261120T080000000Z-1f2e3d4", "--ref", "abcdef1234567890", "--rollback"]);
    await cli(["deployment", "status", "--id", rb.stdout.trim(), "--state", "success"]);
    expect((await cli(["last-deployed", "--environment", "nas"])).stdout).toBe("1f2e3d4\n");
    expect((await cli(["last-deployed", "--environment", "nas", "--print", "id"])).stdout).toBe(`${rb.stdout.trim()}\n`);
    expect(gh.state.deployments[0]!.payload).toEqual({ rollback: true, release: "20261120T080000000Z-1f2e3d4", hosts: [] });
    const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-gh-"));
    writeFileSync(path.join(dir, "plan.md"), "the plan");
    for (const action of ["created", "updated"]) {
      const r = await cli(["comment", "--issue", "12", "--marker", "<!-- slipway-plan:nas -->", "--file", path.join(dir, "plan.md")]);
      expect(r.stdout).toBe(`comment ${action} on #12\n`);
    }
    expect(gh.recorded[0]!.body).toMatchObject({ payload: { release: "20261123T114501123Z-abcdef1", hosts: ["nas"] }, production_environment: true });
    expect(gh.recorded.filter((r) => r.method === "PATCH").length).toBe(1);
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
    gh.failNext(404, "Not Found");
    const failing = await cli(["deployment", "status", "--id", "99", "--state", "failure"]);
    expect(failing.status).toBe(0);
    expect(failing.stderr).toContain("GitHub API POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses: HTTP 404: Not Found");
    expect(failing.stderr + failing.stdout).not.toContain(TOKEN);
    expect(gh.recorded.map((r) => `${r.method} ${r.url}`)).toEqual([`POST /repos/${REPO}/deployments/99/statuses`]);
    expect((await cli(["deployment", "status", "--id", "1", "--state", "bogus"])).status).toBe(1); // a usage error is an error
  });
});
