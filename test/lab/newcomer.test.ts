// Issue #15's newcomer path, end to end, as a team adopting slipway would walk it: in an empty git
// repository, the CLI installed from the `npm pack` tarball (not this checkout) writes the
// environment file and the caller workflows (`slipway init`, the droplet's host key fetched and
// pinned), validate and lint-workflows pass, the team adds its app where the file says, and a push to
// main runs the generated deploy.yml through the local workflow runner — slipway reached only by the
// versioned references init wrote (OWNER/slipway/…@v0, resolved to a repository built from this
// checkout). Then a second release, `slipway verify` from the tarball, and a dispatched rollback,
// with an HTTP probe on the app all along. Approvals come from the test; GitHub's REST API is the
// OpenAPI-checked fake. The time from init to the first healthy deploy is printed for the note.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { host } from "../../src/lab/state.js";
import { rootOn } from "../../src/lab/ssh.js";
import { runWorkflow } from "../../src/workflow/run.js";
import type { RunResult } from "../../src/workflow/types.js";
import { ensureNode24 } from "../../scripts/node24.mjs";
import { ROOT } from "../harness/runner.js";
import { FakeGitHub } from "../harness/fake-github.js";
import { installPackedCli, type PackedCli } from "../harness/packed-cli.js";
import { allJobs, whyRun } from "../harness/scenario.js";
import { SlipwayRepo } from "../harness/slipway-repo.js";
import { tempDirs } from "../harness/temp.js";
import { lab, probe } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("droplet-1");

const HOST = "droplet-1";
const PORT = 8642;
const SERVICE = "hello";
const temp = tempDirs();
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const cleanup = () => rootOn(lab(), HOST, `systemctl disable --now ${SERVICE}.service 2>/dev/null; rm -f /etc/systemd/system/${SERVICE}.service; systemctl daemon-reload; systemctl reset-failed ${SERVICE}.service 2>/dev/null; rm -rf /srv/${SERVICE}; true`);

let cli: PackedCli;
let repo: string;
let slipway: SlipwayRepo;
let github: FakeGitHub;
let url: string;
let runId = 500;
const timings: Record<string, number> = {};
const shas: Record<string, string> = {};

/** The app a team would have: a static page served by python's http.server, its start script where init's exec: points. */
function writeApp(version: string) {
  const dir = path.join(repo, "dist", SERVICE);
  mkdirSync(path.join(dir, "bin"), { recursive: true });
  mkdirSync(path.join(dir, "public"), { recursive: true });
  writeFileSync(path.join(dir, "public", "index.html"), `hello ${version}\n`);
  writeFileSync(path.join(dir, "bin", SERVICE), `#!/bin/sh\ncd "$(dirname "$0")/../public" && exec /usr/bin/python3 -m http.server ${PORT} --bind 0.0.0.0\n`);
  chmodSync(path.join(dir, "bin", SERVICE), 0o755);
}

function push(label: string): string {
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", label);
  return (shas[label] = git(repo, "rev-parse", "HEAD"));
}

async function run(workflow: string, o: { event: string; sha: string; inputs?: Record<string, string>; payload?: Record<string, unknown> }): Promise<RunResult> {
  const r = await runWorkflow({
    workDir: temp("slipway-newcomer-run-"),
    repo,
    workflow: `.github/workflows/${workflow}`,
    event: o.event,
    inputs: o.inputs,
    payload: o.payload,
    sha: o.sha,
    ref: "refs/heads/main",
    runId: ++runId,
    actor: "newcomer",
    repository: "acme/hello",
    // what the team adds as a repository (or environment) secret: the deploy key the droplet accepts
    secrets: { SLIPWAY_SSH_KEY: readFileSync(lab().clientKey, "utf8") },
    approve: () => "approve",
    node: ensureNode24(),
    actionRepos: slipway.actionRepos,
    env: { GITHUB_API_URL: github.url },
  });
  expect(github.problems()).toEqual([]);
  return r;
}

const page = async () => (await (await fetch(url, { signal: AbortSignal.timeout(3000) })).text()).trim();

beforeAll(async () => {
  await cleanup();
  cli = installPackedCli(temp);
  repo = temp("slipway-hello-");
  git(repo, "init", "-q", "-b", "main");
  git(repo, "config", "user.email", "newcomer@example.com");
  git(repo, "config", "user.name", "newcomer");
  slipway = SlipwayRepo.create();
  github = await FakeGitHub.start();
  const h = host(lab(), HOST);
  url = `http://${h.address}:${PORT}/`;
}, 180_000);

afterAll(async () => {
  await github?.stop();
  slipway?.remove();
  await cleanup();
  console.log(`newcomer path: ${Object.entries({ ...cli?.timings, ...timings }).map(([k, v]) => `${k} ${v} ms`).join(", ")}`);
}, 60_000);

describe("a newcomer's repository, from the npm tarball to a deployed, verified and rolled-back app", () => {
  it("slipway init pins the droplet's key and writes files that validate and lint clean", () => {
    const h = host(lab(), HOST);
    const t0 = performance.now();
    const init = cli.run(repo, ["init", "--kind", "systemd", "--env", "staging", "--host", `web=deploy@${h.address}:${h.port}`, "--service", SERVICE]);
    timings.init = Math.round(performance.now() - t0);
    expect(init.stderr).toBe("");
    expect(init.status).toBe(0);
    expect(init.stdout).toContain("wrote environments/staging.yml");
    expect(readFileSync(path.join(repo, "environments/staging.yml"), "utf8")).toContain(`host-key: "${h.hostKeyFingerprint}"`);
    const deploy = readFileSync(path.join(repo, ".github/workflows/deploy.yml"), "utf8");
    expect(deploy).toContain("uses: OWNER/slipway/.github/workflows/deploy-environment.yml@v0");
    expect(deploy.split("\n").length).toBeLessThanOrEqual(40); // "a caller workflow of about 30 lines"

    const validate = cli.run(repo, ["validate"]);
    expect(validate.stdout + validate.stderr).toContain("environments/staging.yml: ok");
    expect(validate.status).toBe(0);
    const lint = cli.run(repo, ["lint-workflows"]);
    expect(lint.stderr).toBe("");
    expect(lint.stdout.trim()).toBe("3 workflow file(s) clean");
  });

  it("the first push to main deploys the app through the generated deploy.yml; GitHub shows the deployment succeeded", async () => {
    writeApp("v1");
    const sha = push("v1");
    const t0 = performance.now();
    const r = await run("deploy.yml", { event: "push", sha });
    timings["first deploy (push to healthy)"] = Math.round(performance.now() - t0);
    expect(r.conclusion, `${whyRun({ run: r })}\n${r.log.slice(-4000)}`).toBe("success");
    const job = allJobs(r.jobs).find((j) => j.id === "staging / deploy")!;
    expect(job.steps.filter((s) => s.outcome === "success").map((s) => s.id)).toEqual(expect.arrayContaining(["plan", "systemd", "verify"]));
    expect(job.outputs["release-id"]).toMatch(new RegExp(`-${sha.slice(0, 7)}$`));
    expect(await page()).toBe("hello v1");
    const [deployment] = github.deploymentsFor("staging").filter((d) => (d.payload as { release?: string })?.release);
    expect(deployment).toMatchObject({ sha, payload: { release: job.outputs["release-id"], hosts: ["web"] } });
    expect(deployment!.statuses.map((s) => s.state)).toEqual(["success", "in_progress"]);
  }, 300_000);

  it("a second release goes live while the probe keeps asking; slipway verify (from the tarball) passes", async () => {
    writeApp("v2");
    const sha = push("v2");
    const { value: r, maxGapMs } = await probe(url, () => run("deploy.yml", { event: "push", sha }));
    expect(r.conclusion, `${whyRun({ run: r })}\n${r.log.slice(-4000)}`).toBe("success");
    expect(await page()).toBe("hello v2");
    timings["longest gap during the v2 deploy"] = maxGapMs;
    const verify = cli.run(repo, ["verify", "staging"], { SLIPWAY_SSH_KEY: readFileSync(lab().clientKey, "utf8") });
    expect(verify.stdout + verify.stderr).toContain(`${SERVICE} running`);
    expect(verify.status, verify.stderr).toBe(0);
  }, 300_000);

  it("the generated rollback.yml, dispatched, puts v1 back and records it on GitHub", async () => {
    const r = await run("rollback.yml", { event: "workflow_dispatch", sha: shas.v2!, inputs: { environment: "staging", release: "", "restore-db": "false" } });
    expect(r.conclusion, `${whyRun({ run: r })}\n${r.log.slice(-4000)}`).toBe("success");
    expect(await page()).toBe("hello v1");
    const rollback = github.deploymentsFor("staging").find((d) => (d.payload as { rollback?: boolean })?.rollback === true);
    expect(rollback?.statuses.map((s) => s.state)).toEqual(["success", "in_progress"]);
    expect((rollback!.payload as { release: string }).release).toMatch(new RegExp(`-${shas.v1!.slice(0, 7)}$`));
    // the deployment it replaced (v2) is no longer the active one
    const v2 = github.deploymentsFor("staging").find((d) => d.sha === shas.v2 && !(d.payload as { rollback?: boolean })?.rollback && (d.payload as { release?: string })?.release);
    expect(v2!.statuses[0]!.state).toBe("inactive");
  }, 300_000);

  it("drift (the drift.yml template, matrix cut to staging): none after the rollback; a release switched by hand is reported with a diff", async () => {
    const template = readFileSync(path.join(ROOT, "examples/workflows/drift.yml"), "utf8");
    const drift = template.replace("environment: [staging, production, nas]", "environment: [staging]");
    expect(drift).not.toBe(template);
    writeFileSync(path.join(repo, ".github/workflows/drift.yml"), drift);
    expect(cli.run(repo, ["lint-workflows"]).stdout.trim()).toBe("4 workflow file(s) clean");
    const sha = push("drift");
    const clean = await run("drift.yml", { event: "workflow_dispatch", sha });
    expect(clean.conclusion, `${whyRun({ run: clean })}\n${clean.log.slice(-3000)}`).toBe("success");
    const step = (r: RunResult) => allJobs(r.jobs).flatMap((j) => j.steps).find((s) => s.id === "drift")!;
    expect(step(clean).outputs).toMatchObject({ problems: "0", "expected-sha": shas.v1!.slice(0, 7) });

    // someone switches current to the v2 release by hand
    const v2 = await rootOn(lab(), HOST, `ls /srv/${SERVICE}/releases | grep -- -${shas.v2!.slice(0, 7)}$ | tail -1`);
    await rootOn(lab(), HOST, `ln -sfn /srv/${SERVICE}/releases/${v2} /srv/${SERVICE}/current`);
    const drifted = await run("drift.yml", { event: "workflow_dispatch", sha });
    expect(drifted.conclusion).toBe("failure");
    expect(step(drifted).outputs.problems).toBe("1");
    expect(step(drifted).summary).toContain(`+ commit ${shas.v2!.slice(0, 12)} (release ${v2}`);
  }, 300_000);

  it("a pull request (the plan.yml init wrote) gets one plan comment naming the changed release, updated in place on the next push", async () => {
    const base = shas.drift!;
    git(repo, "checkout", "-q", "-b", "feature");
    writeApp("v3");
    const pr = async (head: string) => {
      const r = await run("plan.yml", { event: "pull_request", sha: head, payload: { number: 7, pull_request: { number: 7, base: { sha: base, ref: "main" }, head: { sha: head, ref: "feature" } } } });
      expect(r.conclusion, `${whyRun({ run: r })}\n${r.log.slice(-3000)}`).toBe("success");
      return github.state.comments.filter((c) => c.issue === 7);
    };
    const [first, ...none] = await pr(push("v3"));
    expect(none).toEqual([]);
    expect(first!.body).toContain("<!-- slipway-plan:staging -->");
    expect(first!.body).toContain(`| release of ${SERVICE} (dist/${SERVICE}) | dist/${SERVICE}/public/index.html (changed) |`);
    writeFileSync(path.join(repo, "dist", SERVICE, "public", "about.html"), "about\n");
    const again = await pr(push("v3 about"));
    expect(again.map((c) => c.id)).toEqual([first!.id]);
    expect(again[0]!.body).toContain(`dist/${SERVICE}/public/about.html (new)`);
    expect(again[0]!.body).toContain(`commit ${shas["v3 about"]!.slice(0, 7)}`);
  }, 300_000);
});
