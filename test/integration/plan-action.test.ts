// The plan action's bundle as the runner runs it (INPUT_*, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY),
// reporting to the OpenAPI-checked fake GitHub: it validates, says which deploy actions an
// environment needs, and creates or updates one pull-request comment per environment. Reporting
// never fails the step: GitHub answering 500 is a warning. No host, no secret.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { inputsOf, actionSpecs } from "../../src/actions/specs.js";
import { FakeGitHub } from "../harness/fake-github.js";
import { runActionAsync } from "../harness/runner.js";

const TOKEN = "ghs_planTokenNeverPrinted0123456789";
let gh: FakeGitHub;
beforeAll(async () => {
  gh = await FakeGitHub.start();
});
afterAll(async () => {
  await gh?.stop();
});
beforeEach(() => gh.reset());

const defaults = Object.fromEntries(Object.entries(inputsOf(actionSpecs.plan)).map(([k, v]) => [k, v.default?.includes("${{") ? "" : (v.default ?? "")]));
const plan = (inputs: Record<string, string>, cwd?: string) =>
  runActionAsync("plan", { ...defaults, "github-token": TOKEN, ...inputs }, { cwd, env: { GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: "acme/app", GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567", GITHUB_ACTIONS: "true" } });
const comments = (issue: number) => gh.state.comments.filter((c) => c.issue === issue);

describe("the plan action", () => {
  it("outputs the kinds of service an environment deploys, and the plan, without a connection or a secret", async () => {
    const nas = await plan({ environment: "test/fixtures/environments/nas.yml", comment: "false" });
    expect(nas.code, nas.stdout).toBe(0);
    expect(nas.outputs).toMatchObject({ kinds: '["compose"]', systemd: "false", supervisor: "false", compose: "true", "has-migrations": "true", "lint-errors": "0" });
    // its SQL migrations went through PostgreSQL's parser (the WASM shipped beside the bundle)
    expect(nas.summary).toContain("**Migration lint:** 3 migration file(s), no finding.");
    expect(nas.outputs.plan).toContain("Plan for environment nas:");
    const recio = await plan({ environment: "test/fixtures/environments/recio.yml", comment: "false" });
    expect(recio.outputs).toMatchObject({ kinds: '["supervisor"]', systemd: "false", supervisor: "true", compose: "false" });
    expect(gh.recorded).toEqual([]); // comment: false asks GitHub nothing
  });

  it("creates one comment per environment on the pull request and updates it in place; every request valid for GitHub's API", async () => {
    const first = await plan({ environment: "test/fixtures/environments/nas.yml", "pull-request": "12" });
    expect(first.code, first.stdout).toBe(0);
    expect(first.stdout).toContain("plan comment created on #12");
    const [c] = comments(12);
    expect(c!.body).toMatch(/^<!-- slipway-plan:nas -->\n### slipway plan: `nas`/);
    const again = await plan({ environment: "test/fixtures/environments/nas.yml", "pull-request": "12" });
    expect(again.stdout).toContain("plan comment updated on #12");
    await plan({ environment: "test/fixtures/environments/staging.yml", "pull-request": "12" });
    expect(comments(12).map((x) => x.body.split("\n")[0])).toEqual(["<!-- slipway-plan:nas -->", "<!-- slipway-plan:staging -->"]);
    expect(gh.problems()).toEqual([]);
    // the token is registered as a secret (the runner masks it), and printed nowhere else
    const lines = (first.stdout + again.stdout).split("\n").filter((l) => l.includes(TOKEN));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l === `::add-mask::${TOKEN}`)).toBe(true);
  });

  it("GitHub failing is a warning, never a failed step; a comment asked for without a pull request is an error that says where the number comes from", async () => {
    gh.failNext(500, "Server Error", (method, pathname) => pathname.includes("/comments"));
    const r = await plan({ environment: "test/fixtures/environments/nas.yml", "pull-request": "13" });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/::warning::comment <!-- slipway-plan:nas --> on #13 not reported \(the deploy itself is unaffected\): GitHub API GET .*HTTP 500/);
    const none = await plan({ environment: "test/fixtures/environments/nas.yml", comment: "true" });
    expect(none.code).toBe(1);
    expect(none.stdout).toContain("comment is true but pull-request is '': give the pull request's number (on a pull_request event it is github.event.pull_request.number)");
    const bad = await plan({ environment: "test/fixtures/environments/nas.yml", comment: "yes" });
    expect(bad.stdout).toContain("comment input is 'yes': use auto, true or false");
  });

  it("the deployments unreadable: the comment says the pending migrations are not known, and why; still no failed step", async () => {
    gh.failNext(403, "Resource not accessible by integration", (method, pathname) => pathname.endsWith("/deployments"));
    const r = await plan({ environment: "test/fixtures/environments/nas.yml", "pull-request": "14" });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/::warning::the deployments of nas could not be read from GitHub: .*HTTP 403/);
    expect(comments(14)[0]!.body).toMatch(/\*\*Migrations this deploy will run:\*\* not known: GitHub's deployments could not be read \(.*\); the job needs permissions: deployments: read/);
  });

  it("an invalid environment file fails it with each problem annotated at its line", async () => {
    const r = await plan({ environment: "test/fixtures/three-mistakes.yml", comment: "false" });
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n").filter((l) => l.startsWith("::error title=invalid environment file"))).toHaveLength(3);
    expect(r.outputsRaw).toBe("");
  });
});

describe("the plan comment knows the schema without database access", () => {
  /** a deployment as deploy-* records it (payload: release, hosts, migration head), then live (success) */
  async function deployed(release: string, sha: string, migrationHead?: string) {
    const post = (p: string, body: unknown) => fetch(`${gh.url}/repos/acme/app${p}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<{ id: number }>);
    const { id } = await post("/deployments", { ref: sha, environment: "app", task: "deploy", auto_merge: false, required_contexts: [], payload: { release, hosts: ["web"], ...(migrationHead ? { migrationHead } : {}) } });
    await post(`/deployments/${id}/statuses`, { state: "in_progress" });
    await post(`/deployments/${id}/statuses`, { state: "success", auto_inactive: true });
  }

  it("lists exactly the migrations the deploy will run with their lint, and which releases stay safe rollback targets", async () => {
    const ws = mkdtempSync(path.join(os.tmpdir(), "slipway-plan-schema-"));
    mkdirSync(path.join(ws, "environments"));
    mkdirSync(path.join(ws, "migrations"));
    const files: Record<string, string> = {
      "001_items.sql": "CREATE TABLE items (id int PRIMARY KEY, note text);\n",
      "002_drop_note.sql": "SET lock_timeout = '5s';\n-- slipway:allow ban-drop-column notes moved to item_notes\nALTER TABLE items DROP COLUMN note;\n",
      // this pull request: one dangerous statement (NOT NULL without a default), one safe file
      "003_venue.sql": "SET lock_timeout = '5s';\nALTER TABLE items ADD COLUMN venue text NOT NULL;\n",
      "004_prices.sql": "CREATE TABLE prices (item int, px numeric);\n",
    };
    for (const [f, sql] of Object.entries(files)) writeFileSync(path.join(ws, "migrations", f), sql);
    writeFileSync(
      path.join(ws, "environments", "app.yml"),
      stringify({
        hosts: { web: { address: "192.0.2.10", user: "deploy", "host-key": `SHA256:${"A".repeat(43)}` } },
        databases: { app: { engine: "postgres", on: { host: "web" }, name: "app", user: "app", migrations: { dir: "migrations" } } },
      }),
    );
    await deployed("r1", "1111111111111111111111111111111111111111", "001");
    await deployed("r2", "2222222222222222222222222222222222222222", "002");
    await deployed("r3", "3333333333333333333333333333333333333333", "002");

    const r = await plan({ environment: "app", "pull-request": "21" }, ws);
    expect(r.code, r.stdout).toBe(0);
    const body = comments(21)[0]!.body;
    // pending: counted from r3's head (002), exactly the two files of this pull request, in order, with the finding
    expect(body).toContain("**Migrations this deploy will run** (after migration head 002, recorded by the deploy of r3), in order:");
    const rows = body.split("\n").filter((l: string) => /^\| app \| \d{3}_/.test(l));
    expect(rows).toEqual(["| app | 003_venue.sql | expand | ⚠️ `adding-not-nullable-field` line 2 |", "| app | 004_prices.sql | expand | ✅ clean |"]);
    // rollback targets once deployed: r3 and r2 sit after the contract migration 002, r1 before it
    expect(body).toContain("| r3 | 3333333 | ✅ code-only rollback is safe |");
    expect(body).toContain("| r2 | 2222222 | ✅ code-only rollback is safe |");
    expect(body).toContain("| r1 | 1111111 | ⚠️ only with restore-db: crosses 002_drop_note.sql |");
    expect(gh.problems()).toEqual([]);
    // the deployments were only read
    expect(gh.recorded.filter((q) => q.url.includes("/deployments") && q.method !== "GET").length).toBe(9); // this test's own seeding: 3 deployments, 2 statuses each
  });
});
