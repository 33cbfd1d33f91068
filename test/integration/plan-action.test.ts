// The plan action's bundle as the runner runs it (INPUT_*, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY),
// reporting to the OpenAPI-checked fake GitHub: it validates, says which deploy actions an
// environment needs, and creates or updates one pull-request comment per environment. Reporting
// never fails the step: GitHub answering 500 is a warning. No host, no secret.
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
const plan = (inputs: Record<string, string>) =>
  runActionAsync("plan", { ...defaults, "github-token": TOKEN, ...inputs }, { env: { GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: "acme/app", GITHUB_SHA: "0123456789abcdef0123456789abcdef01234567", GITHUB_ACTIONS: "true" } });
const comments = (issue: number) => gh.state.comments.filter((c) => c.issue === issue);

describe("the plan action", () => {
  it("outputs the kinds of service an environment deploys, and the plan, without a connection or a secret", async () => {
    const nas = await plan({ environment: "test/fixtures/environments/nas.yml", comment: "false" });
    expect(nas.code, nas.stdout).toBe(0);
    expect(nas.outputs).toMatchObject({ kinds: '["compose"]', systemd: "false", supervisor: "false", compose: "true", "has-migrations": "true", "lint-errors": "0" });
    // its SQL migrations went through PostgreSQL's parser (the WASM shipped beside the bundle)
    expect(nas.summary).toContain("**Migration lint:** 3 SQL migration file(s), no finding.");
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
    gh.failNext(500, "Server Error");
    const r = await plan({ environment: "test/fixtures/environments/nas.yml", "pull-request": "13" });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/::warning::comment <!-- slipway-plan:nas --> on #13 not reported \(the deploy itself is unaffected\): GitHub API GET .*HTTP 500/);
    const none = await plan({ environment: "test/fixtures/environments/nas.yml", comment: "true" });
    expect(none.code).toBe(1);
    expect(none.stdout).toContain("comment is true but pull-request is '': give the pull request's number (on a pull_request event it is github.event.pull_request.number)");
    const bad = await plan({ environment: "test/fixtures/environments/nas.yml", comment: "yes" });
    expect(bad.stdout).toContain("comment input is 'yes': use auto, true or false");
  });

  it("an invalid environment file fails it with each problem annotated at its line", async () => {
    const r = await plan({ environment: "test/fixtures/three-mistakes.yml", comment: "false" });
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n").filter((l) => l.startsWith("::error title=invalid environment file"))).toHaveLength(3);
    expect(r.outputsRaw).toBe("");
  });
});
