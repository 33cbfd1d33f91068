// The local workflow runner on the semantics workflow-core.test.ts has no dedicated test for, each as
// GitHub documents it. Not repeated here, since workflow-core.test.ts already asserts them:
// - a choice input outside its options is refused ("on.workflow_dispatch.inputs: a choice outside its options…");
// - a GITHUB_PATH directory is on PATH in a later step ("Variables: … GITHUB_PATH for later steps…") — the test
//   below adds what that one does not assert: the step that wrote it does not see it;
// - ::add-mask:: there masks a value that carries a secret (masked anyway); the test below masks a value
//   that exists only at run time and carries no secret.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runWorkflow } from "../../src/workflow/run.js";
import { tempDirs } from "../harness/temp.js";
import type { RunOptions } from "../../src/workflow/types.js";

const tmp = tempDirs();

function repo(workflow: string): string {
  const dir = tmp("wf-sem-");
  mkdirSync(path.join(dir, ".github/workflows"), { recursive: true });
  writeFileSync(path.join(dir, ".github/workflows/w.yml"), workflow);
  execFileSync("bash", ["-c", "git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm c"], { cwd: dir });
  return dir;
}
const run = (dir: string, o: Partial<RunOptions> = {}) => runWorkflow({ repo: dir, workflow: ".github/workflows/w.yml", event: "push", workDir: tmp("wf-sem-run-"), ...o });

describe("the local workflow runner: events and their payloads", () => {
  it("Events that trigger workflows › schedule: event_name is schedule and github.event.schedule is the cron string", async () => {
    const dir = repo(`on:
  schedule:
    - cron: '30 5 * * 1-5'
jobs:
  j:
    runs-on: x
    steps:
      - env: { N: "\${{ github.event_name }}", S: "\${{ github.event.schedule }}" }
        run: echo "$N|$S|$GITHUB_EVENT_NAME"
      - if: github.event.schedule == '30 5 * * 1-5'
        run: echo weekday-schedule
      - run: |
          grep -o '"schedule": "[^"]*"' "$GITHUB_EVENT_PATH"
`);
    const r = await run(dir, { event: "schedule" });
    expect(r.conclusion).toBe("success");
    expect(r.jobs[0]!.steps.map((s) => s.log)).toEqual(["schedule|30 5 * * 1-5|schedule", "weekday-schedule", `"schedule": "30 5 * * 1-5"`]);
    // a workflow that only runs on schedule is not triggered by a push
    expect((await run(dir)).conclusion).toBe("skipped");
  });

  it("Events › pull_request: the payload's number, github.head_ref/base_ref (pull_request only), branches filtering on the base branch", async () => {
    const dir = repo(`on:
  pull_request:
    branches: ['release/**']
jobs:
  j:
    runs-on: x
    steps:
      - run: |
          echo "\${{ github.event_name }} #\${{ github.event.pull_request.number }} \${{ github.head_ref }} -> \${{ github.base_ref }} ($GITHUB_HEAD_REF -> $GITHUB_BASE_REF)"
`);
    const pr = (base: string) => ({ action: "opened", number: 42, pull_request: { number: 42, head: { ref: "feat/x", sha: "0".repeat(40) }, base: { ref: base } } });
    const r = await run(dir, { event: "pull_request", payload: pr("release/1.2") });
    expect(r.conclusion).toBe("success");
    expect(r.jobs[0]!.steps[0]!.log).toBe("pull_request #42 feat/x -> release/1.2 (feat/x -> release/1.2)");
    // the filter is on the base branch: a pull request into main does not trigger it, whatever its head branch is called
    expect((await run(dir, { event: "pull_request", payload: pr("main") })).conclusion).toBe("skipped");
    expect((await run(dir, { event: "pull_request", payload: { ...pr("main"), pull_request: { number: 7, head: { ref: "release/9" }, base: { ref: "main" } } } })).conclusion).toBe("skipped");

    // head_ref and base_ref are empty for any other event
    const push = await run(repo(`on: [push, pull_request]
jobs:
  j: { runs-on: x, steps: [ { run: "echo \\"[\${{ github.head_ref }}][\${{ github.base_ref }}][$GITHUB_HEAD_REF][$GITHUB_BASE_REF]\\"" } ] }
`));
    expect(push.jobs[0]!.steps[0]!.log).toBe("[][][][]");
  });

  it("Workflow syntax › on.workflow_dispatch.inputs: a boolean input is a boolean in inputs, a string in github.event.inputs", async () => {
    const dir = repo(`on:
  workflow_dispatch:
    inputs:
      flag: { type: boolean, default: true }
      other: { type: boolean, default: false }
jobs:
  j:
    runs-on: x
    steps:
      - run: echo "\${{ inputs.flag && 'yes' || 'no' }} \${{ github.event.inputs.flag && 'yes' || 'no' }} \${{ inputs.flag == false }} \${{ github.event.inputs.flag == 'false' }} \${{ inputs.other && 'yes' || 'no' }}"
      - if: inputs.flag
        run: echo flag-set
`);
    const off = await run(dir, { event: "workflow_dispatch", inputs: { flag: "false" } });
    // the string 'false' is truthy; the boolean false is not
    expect(off.jobs[0]!.steps[0]!.log).toBe("no yes true true no");
    expect(off.jobs[0]!.steps[1]!.outcome).toBe("skipped");
    const on = await run(dir, { event: "workflow_dispatch", inputs: { flag: "true" } });
    expect(on.jobs[0]!.steps[0]!.log).toBe("yes yes false false no");
    expect(on.jobs[0]!.steps[1]!.log).toBe("flag-set");
  });
});

describe("the local workflow runner: matrices and timeouts", () => {
  it("Running variations of jobs › max-parallel: with 1 the combinations never overlap; with 3 they run together", async () => {
    const shared = tmp("wf-sem-shared-");
    const job = (n: number) => `    runs-on: x
    strategy: { max-parallel: ${n}, matrix: { k: [a, b, c] } }
    steps:
      - run: |
          s=$(date +%s%N); sleep 0.4; e=$(date +%s%N)
          echo "$s $e" > "$SHARED/\${{ github.job }}-\${{ matrix.k }}"
`;
    const r = await run(repo(`on: push
jobs:
  serial:
${job(1)}  together:
${job(3)}`), { env: { SHARED: shared } });
    expect(r.conclusion).toBe("success");
    const spans = (jobId: string) => ["a", "b", "c"].map((k) => readFileSync(path.join(shared, `${jobId}-${k}`), "utf8").trim().split(" ").map(BigInt) as [bigint, bigint]).sort((x, y) => (x[0] < y[0] ? -1 : 1));
    const serial = spans("serial");
    for (let i = 1; i < serial.length; i++) expect(serial[i]![0] >= serial[i - 1]![1]).toBe(true);
    const together = spans("together");
    // every one started before any one ended: all three ran at the same time
    const lastStart = together.reduce((m, s) => (s[0] > m ? s[0] : m), 0n);
    const firstEnd = together.reduce((m, s) => (s[1] < m ? s[1] : m), together[0]![1]);
    expect(lastStart < firstEnd).toBe(true);
  });

  it("Workflow syntax › jobs.<job_id>.timeout-minutes: past it GitHub cancels the job; the next step is skipped, an if: always() step still runs", async () => {
    const t = Date.now();
    const r = await run(repo(`on: push
jobs:
  j:
    runs-on: x
    timeout-minutes: 0.02
    steps:
      - run: sleep 30
      - run: echo next
      - if: always()
        run: echo "cleanup \${{ job.status }}"
  after: { runs-on: x, needs: j, steps: [ { run: "echo after" } ] }
`));
    expect(Date.now() - t).toBeLessThan(5_000);
    const j = r.jobs[0]!;
    expect(j.result).toBe("cancelled");
    expect(j.reason).toMatch(/timeout/);
    expect(j.steps.map((s) => s.outcome)).toEqual(["cancelled", "skipped", "success"]);
    expect(j.steps[2]!.log).toBe("cleanup cancelled");
    expect(r.jobs[1]!.result).toBe("skipped");
    expect(r.conclusion).not.toBe("success");
  });
});

describe("the local workflow runner: shells, masking, PATH", () => {
  it("Workflow syntax › steps[*].shell: unspecified is bash -e (no pipefail); shell: bash adds -o pipefail", async () => {
    const r = await run(repo(`on: push
jobs:
  unspecified:
    runs-on: x
    steps:
      - run: |
          false | true
          echo "bash=\${BASH_VERSION:+yes} pipeline ok"
      - run: |
          false
          echo unreachable
  explicit:
    runs-on: x
    steps:
      - shell: bash
        run: |
          false | true
          echo unreachable
`));
    const [unspecified, explicit] = r.jobs;
    expect(unspecified!.steps.map((s) => s.outcome)).toEqual(["success", "failure"]);
    expect(unspecified!.steps[0]!.log).toBe("bash=yes pipeline ok");
    expect(unspecified!.steps[1]!.log).toBe("");
    expect(explicit!.result).toBe("failure");
    expect(explicit!.steps[0]!.log).toBe("");
  });

  it("Workflow syntax › defaults.run.shell: workflow default < job default < the step's own shell", async () => {
    const r = await run(repo(`on: push
defaults: { run: { shell: bash } }
jobs:
  workflow-default:
    runs-on: x
    steps:
      - run: |
          false | true
          echo unreachable
  step-override:
    runs-on: x
    steps:
      - shell: sh
        run: false | true; echo sh-no-pipefail
      - shell: bash --noprofile --norc {0}
        run: |
          false
          echo custom-no-errexit
  job-default:
    runs-on: x
    defaults: { run: { shell: python } }
    steps:
      - run: import sys; print("python", sys.version_info[0])
      - shell: bash
        run: echo "bash=\${BASH_VERSION:+yes}"
`));
    const [wf, step, job] = r.jobs;
    expect(wf!.result).toBe("failure");
    expect(wf!.steps[0]!.log).toBe("");
    expect(step!.result).toBe("success");
    expect(step!.steps.map((s) => s.log)).toEqual(["sh-no-pipefail", "custom-no-errexit"]);
    expect(job!.result).toBe("success");
    expect(job!.steps.map((s) => s.log)).toEqual(["python 3", "bash=yes"]);
  });

  it("Workflow commands › masking a value in a log: ::add-mask:: of a run-time value hides it in the later lines of the job", async () => {
    const r = await run(repo(`on: push
jobs:
  j:
    runs-on: x
    steps:
      - id: mk
        run: |
          V="tok-$((6 * 7))-$(echo zz | tr z q)"
          echo "::add-mask::$V"
          echo "same step $V"
          echo "not masked tok-41-qq"
          echo "v=$V" >> "$GITHUB_OUTPUT"
      - env: { V: "\${{ steps.mk.outputs.v }}" }
        run: echo "later step $V"
`));
    expect(r.conclusion).toBe("success");
    const [mk, later] = r.jobs[0]!.steps;
    expect(mk!.log).toBe("same step ***\nnot masked tok-41-qq");
    expect(later!.log).toBe("later step ***");
    expect(r.log).not.toContain("tok-42-qq");
  });

  it("Workflow commands › adding a system path: GITHUB_PATH is on PATH for later steps, not for the step that wrote it", async () => {
    const r = await run(repo(`on: push
jobs:
  j:
    runs-on: x
    steps:
      - run: |
          mkdir -p "$RUNNER_TEMP/bin2"
          printf '#!/bin/sh\\necho tool2-ran\\n' > "$RUNNER_TEMP/bin2/tool2" && chmod +x "$RUNNER_TEMP/bin2/tool2"
          echo "$RUNNER_TEMP/bin2" >> "$GITHUB_PATH"
          command -v tool2 >/dev/null && echo found || echo not-found
      - run: |
          tool2
          [ "\${PATH%%:*}" = "$RUNNER_TEMP/bin2" ] && echo first-on-path
`));
    expect(r.conclusion).toBe("success");
    expect(r.jobs[0]!.steps.map((s) => s.log)).toEqual(["not-found", "tool2-ran\nfirst-on-path"]);
  });
});
