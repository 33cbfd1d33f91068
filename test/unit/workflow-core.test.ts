// The local workflow runner on the negative cases issue #14 names, each as GitHub documents it.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConcurrencyGroups } from "../../src/workflow/concurrency.js";
import { expandMatrix, runWorkflow } from "../../src/workflow/run.js";
import type { JobResult, RunOptions } from "../../src/workflow/types.js";
import { SlipwayRepo } from "../harness/slipway-repo.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function repo(workflow: string, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "wf-core-"));
  dirs.push(dir);
  for (const [f, text] of Object.entries({ ".github/workflows/w.yml": workflow, ...extra })) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
  execFileSync("bash", ["-c", "git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm c"], { cwd: dir });
  return dir;
}
const run = (dir: string, o: Partial<RunOptions> = {}) => {
  const workDir = mkdtempSync(path.join(os.tmpdir(), "wf-core-run-"));
  dirs.push(workDir);
  return runWorkflow({ repo: dir, workflow: ".github/workflows/w.yml", event: "push", workDir, ...o });
};

describe("the local workflow runner (GitHub's documented results)", () => {
  it("Contexts › steps context: a misspelled step output is empty, and the step that needs it fails naming itself", async () => {
    const r = await run(repo(`on: push
jobs:
  j:
    runs-on: ubuntu-24.04
    steps:
      - id: backup
        run: echo "backup-id=b-1" >> "$GITHUB_OUTPUT"
      - name: Deploy with the backup
        env: { ID: "\${{ steps.backup.outputs.backupid }}" }
        run: '[ -n "$ID" ] || { echo "::error::no backup id"; exit 1; }'
`));
    expect(r.conclusion).toBe("failure");
    const step = r.jobs[0]!.steps[1]!;
    expect(step.name).toBe("Deploy with the backup");
    expect(step.outcome).toBe("failure");
    expect(step.errors).toContain("no backup id");
  });

  it("Expressions › failure(): an `if: failure()` step runs only after a failure", async () => {
    const wf = (first: string) => `on: push
jobs:
  j:
    runs-on: ubuntu-24.04
    steps:
      - run: ${first}
      - id: after
        if: failure()
        run: echo ran
`;
    const ok = await run(repo(wf("true")));
    expect(ok.jobs[0]!.steps[1]!.outcome).toBe("skipped");
    const bad = await run(repo(wf("false")));
    expect(bad.jobs[0]!.steps[1]!.outcome).toBe("success");
    expect(bad.jobs[0]!.steps[1]!.log).toBe("ran");
  });

  it("Workflow syntax › jobs.<job_id>.needs: a job whose need failed is skipped, unless its if: says always()", async () => {
    const r = await run(repo(`on: push
jobs:
  a: { runs-on: x, steps: [ { run: "exit 1" } ] }
  b: { runs-on: x, needs: a, steps: [ { run: "echo b" } ] }
  c: { runs-on: x, needs: b, if: always(), steps: [ { run: "echo \${{ needs.b.result }}" } ] }
`));
    expect(r.jobs.map((j) => [j.id, j.result])).toEqual([["a", "failure"], ["b", "skipped"], ["c", "success"]]);
    expect(r.jobs[2]!.steps[0]!.log).toBe("skipped");
  });

  it("Expressions › failure() in a job's if: sees a failed ancestor behind a skipped need; a skipped need skips its dependants", async () => {
    const r = await run(repo(`on: push
jobs:
  a: { runs-on: x, steps: [ { run: "exit 1" } ] }
  b: { runs-on: x, needs: a, steps: [ { run: "echo b" } ] }
  c: { runs-on: x, needs: b, steps: [ { run: "echo c" } ] }
  report: { runs-on: x, needs: b, if: failure(), steps: [ { run: "echo report" } ] }
`));
    expect(r.jobs.map((j) => [j.id, j.result])).toEqual([["a", "failure"], ["b", "skipped"], ["c", "skipped"], ["report", "success"]]);
  });

  it("Concurrency: a newer pending run replaces the older pending one; the running one finishes", async () => {
    const dir = repo(`on: push
concurrency: { group: deploy-staging }
jobs:
  j: { runs-on: x, steps: [ { run: "sleep 1; echo done" } ] }
`);
    const groups = new ConcurrencyGroups();
    const first = run(dir, { concurrency: groups });
    await new Promise((r) => setTimeout(r, 300));
    const second = run(dir, { concurrency: groups });
    await new Promise((r) => setTimeout(r, 300));
    const third = run(dir, { concurrency: groups });
    const [a, b, c] = await Promise.all([first, second, third]);
    expect([a.conclusion, b.conclusion, c.conclusion]).toEqual(["success", "cancelled", "success"]);
    expect(b.jobs).toEqual([]);
  });

  it("Security › secrets are masked: a secret a step prints appears as *** in every log and summary", async () => {
    const r = await run(
      repo(`on: push
jobs:
  j:
    runs-on: x
    steps:
      - env: { P: "\${{ secrets.DB_PASSWORD }}" }
        run: |
          echo "password is $P"
          echo "summary $P" >> "$GITHUB_STEP_SUMMARY"
          echo "::add-mask::derived-$P-x"
          echo "dsn derived-$P-x"
`),
      { secrets: { DB_PASSWORD: "hunter2-Zq" } },
    );
    expect(r.conclusion).toBe("success");
    expect(r.log).not.toContain("hunter2-Zq");
    expect(r.log).toContain("password is ***");
    expect(r.jobs[0]!.summary).toBe("summary ***\n");
  });

  it("Environments: a rejected approval fails the job before any step and skips what needs it", async () => {
    const r = await run(
      repo(`on: push
jobs:
  staging:
    runs-on: x
    environment: { name: "\${{ 'stag' }}ing", url: "https://\${{ steps.u.outputs.host }}/" }
    steps: [ { id: u, run: "echo host=staging.example >> $GITHUB_OUTPUT" } ]
  production: { runs-on: x, needs: staging, environment: { name: production, url: "https://p.example" }, steps: [ { run: "touch /nonexistent/never" } ] }
  after: { runs-on: x, needs: production, steps: [ { run: "echo a" } ] }
`),
      { approve: (env) => (env.name === "staging" ? "approve" : "reject") },
    );
    expect(r.jobs.map((j) => [j.id, j.result, j.approval])).toEqual([["staging", "success", "approve"], ["production", "failure", "reject"], ["after", "skipped", undefined]]);
    expect(r.jobs[1]!.steps).toEqual([]);
    expect(r.jobs[0]!.environment).toEqual({ name: "staging", url: "https://staging.example/" });
  });

  it("Workflow syntax › on.workflow_dispatch.inputs: a choice outside its options is refused before anything runs", async () => {
    const dir = repo(`on:
  workflow_dispatch:
    inputs:
      environment: { type: choice, options: [staging, production], required: true }
jobs:
  j: { runs-on: x, steps: [ { run: "echo \${{ inputs.environment }}" } ] }
`);
    await expect(run(dir, { event: "workflow_dispatch", inputs: { environment: "prod" } })).rejects.toThrow(/must be one of staging, production/);
    const ok = await run(dir, { event: "workflow_dispatch", inputs: { environment: "production" } });
    expect(ok.jobs[0]!.steps[0]!.log).toBe("production");
  });

  it("a `uses:` the runner has no copy of fails the step naming it (no silent skip)", async () => {
    const r = await run(repo(`on: push
jobs:
  j: { runs-on: x, steps: [ { uses: "someone/other-action@v1" } ] }
`));
    expect(r.conclusion).toBe("failure");
    expect(r.jobs[0]!.steps[0]!.errors[0]).toMatch(/someone\/other-action/);
  });

  it("an invalid workflow is refused with GitHub's parser's message, naming the file and line", async () => {
    await expect(run(repo(`on: push
jobs:
  j:
    runs-on: x
    steps:
      - run: echo
        bogus-key: 1
`))).rejects.toThrow(/w\.yml.*Line: 7/s);
  });
});

describe("the local workflow runner: the rest of the semantics", () => {
  it("Running variations of jobs › include/exclude: the product, minus exclude, include extending or adding", () => {
    expect(expandMatrix({ os: ["a", "b"], n: [1, 2], exclude: [{ os: "b", n: 2 }], include: [{ os: "a", extra: "x" }, { os: "c", n: 9 }] })).toEqual([
      { os: "a", n: 1, extra: "x" },
      { os: "a", n: 2, extra: "x" },
      { os: "b", n: 1 },
      { os: "c", n: 9 },
    ]);
  });

  it("Reusing workflows: with: inputs typed, secrets: inherit, on.workflow_call.outputs read through needs", async () => {
    const r = await run(
      repo(
        `on: push
jobs:
  call:
    uses: ./.github/workflows/callee.yml
    with: { who: staging, dry: true }
    secrets: inherit
  after:
    needs: call
    runs-on: x
    steps: [ { run: "echo got=\${{ needs.call.outputs.greeting }}" } ]
`,
        {
          ".github/workflows/callee.yml": `on:
  workflow_call:
    inputs:
      who: { type: string, required: true }
      dry: { type: boolean, default: false }
    secrets:
      KEY: { required: true }
    outputs:
      greeting: { value: "\${{ jobs.inner.outputs.g }}" }
jobs:
  inner:
    runs-on: x
    outputs: { g: "\${{ steps.s.outputs.g }}" }
    steps:
      - id: s
        env: { K: "\${{ secrets.KEY }}" }
        run: |
          [ "\${{ inputs.dry }}" = true ] && [ -n "$K" ]
          echo "g=hello \${{ inputs.who }}" >> "$GITHUB_OUTPUT"
`,
        },
      ),
      { secrets: { KEY: "k-123456" } },
    );
    expect(r.conclusion).toBe("success");
    expect(r.jobs[0]!.jobs!.map((j) => j.id)).toEqual(["call / inner"]);
    expect(r.jobs[1]!.steps[0]!.log).toBe("got=hello staging");
  });

  it("Variables: workflow < job < GITHUB_ENV < step env; GITHUB_PATH for later steps; continue-on-error keeps the job green", async () => {
    const r = await run(repo(`on: push
env: { A: wf, B: wf, C: wf }
jobs:
  j:
    runs-on: x
    env: { B: job, C: job }
    steps:
      - run: |
          echo "D=from-env-file" >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/bin" && printf '#!/bin/sh\\necho tool-ran\\n' > "$RUNNER_TEMP/bin/mytool" && chmod +x "$RUNNER_TEMP/bin/mytool"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
      - env: { C: step }
        run: echo "$A $B $C $D $(mytool)"
      - id: flaky
        continue-on-error: true
        run: exit 1
      - run: echo "\${{ steps.flaky.outcome }}/\${{ steps.flaky.conclusion }}"
`));
    const steps = r.jobs[0]!.steps;
    expect(steps[1]!.log).toBe("wf job step from-env-file tool-ran");
    expect(steps[3]!.log).toBe("failure/success");
    expect(r.jobs[0]!.result).toBe("success");
  });

  it("Workflow syntax › timeout-minutes: a step over its timeout is stopped and fails", async () => {
    const t = Date.now();
    const r = await run(repo(`on: push
jobs:
  j: { runs-on: x, steps: [ { run: "sleep 30", timeout-minutes: 0.02 } ] }
`));
    expect(r.jobs[0]!.steps[0]!.errors[0]).toMatch(/timeout/);
    expect(Date.now() - t).toBeLessThan(15_000);
  });
});

describe("the local workflow runner: actions, artifacts, cancelling", () => {
  it("Metadata syntax › inputs.<id>.default: an expression default is evaluated; artifacts move between jobs", async () => {
    const r = await run(
      repo(
        `on: push
jobs:
  build:
    runs-on: x
    steps:
      - uses: actions/checkout@v4
      - id: hello
        uses: ./actions/hello
        with: { who: builder }
      - run: mkdir -p out/keep out/skip && echo "\${{ steps.hello.outputs.said }}" > out/keep/a.txt && echo no > out/skip/b.txt
      - uses: actions/upload-artifact@v4
        with:
          name: rel
          if-no-files-found: error
          path: |
            out/
            !out/skip/
  use:
    needs: build
    runs-on: x
    steps:
      - uses: actions/download-artifact@v4
        with: { name: rel, path: got }
      - run: cat got/keep/a.txt && test ! -e got/skip
`,
        {
          "actions/hello/action.yml": `name: hello
description: d
inputs:
  who: { description: w, required: true }
  repo: { description: r, default: "\${{ github.repository }}" }
outputs:
  said: { description: s }
runs: { using: node20, main: index.js }
`,
          "actions/hello/index.js": `require("fs").appendFileSync(process.env.GITHUB_OUTPUT, "said=hi " + process.env.INPUT_WHO + " of " + process.env.INPUT_REPO + "\\n");\n`,
        },
      ),
      { repository: "acme/app" },
    );
    expect(r.conclusion).toBe("success");
    expect(r.jobs[1]!.steps[1]!.log).toBe("hi builder of acme/app");
  });

  it("download-artifact v4: another run's artifacts by run-id (with a token), a pattern, merge-multiple; no match is no error", async () => {
    const up = repo(`on: push
jobs:
  j:
    runs-on: x
    steps:
      - run: mkdir -p b && echo dump > b/db-1.dump && echo meta > b/db-1.json && echo other > o.txt
      - uses: actions/upload-artifact@v4
        with:
          name: backup-prod-7-1
          path: |
            b/db-1.dump
            b/db-1.json
      - uses: actions/upload-artifact@v4
        with: { name: logs-7, path: o.txt }
`);
    const first = await run(up, { runId: 7 });
    expect(first.conclusion).toBe("success");
    const stores = new Map([["7", path.join(first.workDir, "artifacts")]]);
    const down = repo(`on: workflow_dispatch
jobs:
  j:
    runs-on: x
    steps:
      - uses: actions/download-artifact@v4
        with: { pattern: backup-prod-*, merge-multiple: true, path: backups, run-id: "7", github-token: "\${{ github.token }}" }
      - run: cat backups/db-1.dump backups/db-1.json && test ! -e backups/o.txt
      - uses: actions/download-artifact@v4
        with: { pattern: "*", path: each, run-id: "7", github-token: "\${{ github.token }}" }
      - run: test -e each/backup-prod-7-1/db-1.dump && test -e each/logs-7/o.txt
      - uses: actions/download-artifact@v4
        with: { pattern: backup-staging-*, path: none, run-id: "7", github-token: "\${{ github.token }}" }
      - uses: actions/download-artifact@v4
        with: { pattern: backup-prod-*, path: own, run-id: "7" }
      - run: test ! -e own/backup-prod-7-1
`);
    const second = await run(down, { runId: 8, event: "workflow_dispatch", artifactsOfRun: (id) => stores.get(id) });
    expect(second.conclusion, second.log).toBe("success");
    const steps = second.jobs[0]!.steps;
    expect(steps[1]!.log).toBe("dump\nmeta");
    expect(steps[4]!.log).toContain("0 artifact(s) matching 'backup-staging-*' downloaded");
    expect(steps[5]!.log).toContain("0 artifact(s) matching 'backup-prod-*'"); // without a token, run-id is ignored: this run has none
    // a run the repository never had: GitHub answers 404, the step fails
    const lost = await run(down, { runId: 9, event: "workflow_dispatch", artifactsOfRun: () => undefined });
    expect(lost.conclusion).toBe("failure");
    expect(lost.log).toContain("download-artifact stand-in: Unable to download artifact(s): no run 7 of");
  });

  it("Concurrency › cancel-in-progress: a new run cancels the running one, which stops at once", async () => {
    const dir = repo(`on: push
concurrency: { group: g, cancel-in-progress: true }
jobs:
  j: { runs-on: x, steps: [ { run: "sleep 3" } ] }
`);
    const groups = new ConcurrencyGroups();
    const t = Date.now();
    const first = run(dir, { concurrency: groups });
    await new Promise((r) => setTimeout(r, 500));
    const second = run(dir, { concurrency: groups });
    await new Promise((r) => setTimeout(r, 500));
    const third = run(dir, { concurrency: groups });
    const [a, b, c] = await Promise.all([first, second, third]);
    expect([a.conclusion, b.conclusion, c.conclusion]).toEqual(["cancelled", "cancelled", "success"]);
    expect(a.jobs[0]!.steps[0]!.outcome).toBe("cancelled");
    // 1 s of arrivals + one whole 3 s run: the cancelled ones did not run to their end
    expect(Date.now() - t).toBeLessThan(6_000);
  }, 30_000);

  it("Running variations of jobs › fail-fast: a failing combination cancels the ones still running", async () => {
    const r = await run(repo(`on: push
jobs:
  m:
    runs-on: x
    strategy: { matrix: { n: [1, 2] } }
    steps: [ { run: "if [ \${{ matrix.n }} = 1 ]; then exit 1; else sleep 20; fi" } ]
`));
    expect(r.jobs.map((j) => [j.id, j.result])).toEqual([["m (1)", "failure"], ["m (2)", "cancelled"]]);
    expect(r.conclusion).toBe("failure");
  });
});

describe("the local workflow runner: triggers, outputs, approvals never given", () => {
  it("Events › on.push.branches: a push to another branch does not trigger the workflow", async () => {
    const dir = repo(`on: { push: { branches: [main, "release/**"] } }
jobs:
  j: { runs-on: x, steps: [ { run: "echo \${{ github.ref_name }} \${{ github.event_name }}" } ] }
`);
    expect((await run(dir, { ref: "refs/heads/dev" })).conclusion).toBe("skipped");
    const r = await run(dir, { ref: "refs/heads/release/1.2" });
    expect(r.jobs[0]!.steps[0]!.log).toBe("release/1.2 push");
  });

  it("Workflow commands › multiline strings: GITHUB_OUTPUT's name<<DELIMITER form gives a multi-line output", async () => {
    const r = await run(repo(`on: push
jobs:
  j:
    runs-on: x
    outputs: { text: "\${{ steps.s.outputs.text }}" }
    steps:
      - id: s
        run: printf 'text<<EOF_1\\nline one\\nline two\\nEOF_1\\n' >> "$GITHUB_OUTPUT"
`));
    expect(r.jobs[0]!.outputs.text).toBe("line one\nline two");
  });

  it("Environments › required reviewers: an approval nobody gives fails the job after the wait", async () => {
    const t = Date.now();
    const r = await run(repo(`on: push
jobs:
  j: { runs-on: x, environment: production, steps: [ { run: "echo never" } ] }
`), { approve: () => "pending", approvalTimeoutMs: 300 });
    expect(r.jobs[0]!.result).toBe("failure");
    expect(r.jobs[0]!.reason).toMatch(/never approved/);
    expect(r.jobs[0]!.steps).toEqual([]);
    expect(Date.now() - t).toBeGreaterThanOrEqual(300);
  });
});

describe("the local workflow runner: references to another repository", () => {
  it("uses: owner/repo/path@ref runs the action as it is at that ref, not the clone's newest commit", async () => {
    const tools = repo("on: push\njobs: {}\n", {
      "actions/say/action.yml": "name: say\ndescription: d\noutputs:\n  v: { description: v }\nruns: { using: node20, main: index.js }\n",
      "actions/say/index.js": `require("fs").appendFileSync(process.env.GITHUB_OUTPUT, "v=one\\n");\n`,
    });
    execFileSync("bash", ["-c", `git tag v1 && sed -i s/one/two/ actions/say/index.js && git -c user.name=t -c user.email=t@t commit -qam two`], { cwd: tools });
    const app = repo(`on: push
jobs:
  j:
    runs-on: x
    steps:
      - id: v1
        uses: acme/tools/actions/say@v1
      - id: main
        uses: acme/tools/actions/say@main
      - run: echo "\${{ steps.v1.outputs.v }} \${{ steps.main.outputs.v }}"
`);
    const r = await run(app, { actionRepos: { "acme/tools": tools } });
    expect(r.jobs[0]!.steps[2]!.log).toBe("one two");
  });
});

describe("this repository's own workflow files in the runner", () => {
  const ROOT = path.resolve(import.meta.dirname, "../..");
  // OWNER/slipway/.github/workflows/rollback.yml@v0 resolves to a repository built from this checkout
  let slipway: SlipwayRepo | undefined;
  afterAll(() => slipway?.remove());
  it("examples/workflows/rollback.yml (workflow_dispatch) calls slipway's rollback.yml: with its environment rejected it runs no step and skips restore-db", async () => {
    slipway = SlipwayRepo.create();
    const workDir = mkdtempSync(path.join(os.tmpdir(), "wf-core-run-"));
    dirs.push(workDir);
    const seen: string[] = [];
    const r = await runWorkflow({
      repo: ROOT,
      workflow: "examples/workflows/rollback.yml",
      event: "workflow_dispatch",
      inputs: { environment: "production", "restore-db": "true" },
      workDir,
      actionRepos: slipway.actionRepos,
      approve: (env) => (seen.push(env.name), "reject"),
    });
    expect(seen).toEqual(["production"]);
    expect(r.conclusion).toBe("failure");
    const called = (j: JobResult): unknown[] => [j.id, j.result, j.steps.length, ...(j.jobs ? [j.jobs.map(called)] : [])];
    expect(r.jobs.map(called)).toEqual([["rollback", "failure", 0, [["rollback / rollback", "failure", 0], ["rollback / restore-db", "skipped", 0]]]]);
    expect(r.permissions).toEqual({ contents: "read" });
  });
});
