// The local workflow runner on the contexts (docs: "Contexts reference"), the recorded permissions and
// environment url, and `npm run workflow` itself run as a user runs it. Not repeated here, since
// workflow-core.test.ts and workflow-semantics.test.ts already assert them: a misspelt step output,
// env precedence of the process environment, head_ref/base_ref, github.event.schedule, job.status on a
// job timeout, secrets masked in summaries and ::add-mask::.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runWorkflow } from "../../src/workflow/run.js";
import { tempDirs } from "../harness/temp.js";
import type { EnvironmentRef, RunOptions } from "../../src/workflow/types.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const tmp = tempDirs();

function repo(workflow: string, file = ".github/workflows/w.yml"): string {
  const dir = tmp("wf-ctx-");
  mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
  writeFileSync(path.join(dir, file), workflow);
  execFileSync("bash", ["-c", "git init -q -b main && git add -A && git -c user.name=t -c user.email=t@t commit -qm c"], { cwd: dir });
  return dir;
}
const run = (dir: string, o: Partial<RunOptions> = {}) => runWorkflow({ repo: dir, workflow: ".github/workflows/w.yml", event: "push", workDir: tmp("wf-ctx-run-"), ...o });

/** `key=value` lines of a step's log as a mapping */
const values = (log: string) => Object.fromEntries(log.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));

describe("the local workflow runner: contexts as GitHub documents them", () => {
  it("Contexts reference › github, runner, vars, secrets, env, steps, job, matrix, strategy: each value as documented", async () => {
    const dir = repo(`on: push
env: { WF_LEVEL: from-workflow, OVERRIDDEN: workflow }
jobs:
  ctx:
    runs-on: ubuntu-24.04
    env: { JOB_LEVEL: from-job, OVERRIDDEN: job }
    steps:
      - id: show
        env: { TOKEN: "\${{ secrets.DEPLOY_TOKEN }}" }
        run: |
          echo "sha=\${{ github.sha }}"
          echo "ref=\${{ github.ref }}"
          echo "ref_name=\${{ github.ref_name }}"
          echo "event_name=\${{ github.event_name }}"
          echo "head_commit=\${{ github.event.head_commit.id }}"
          echo "run_id=\${{ github.run_id }}"
          echo "run_attempt=\${{ github.run_attempt }}"
          echo "actor=\${{ github.actor }}"
          echo "repository=\${{ github.repository }}"
          echo "server_url=\${{ github.server_url }}"
          echo "workspace=\${{ github.workspace }}"
          echo "GITHUB_WORKSPACE=$GITHUB_WORKSPACE"
          echo "cwd=$(pwd)"
          echo "runner_os=\${{ runner.os }}"
          echo "runner_temp=\${{ runner.temp }}"
          echo "RUNNER_TEMP=$RUNNER_TEMP"
          echo "var=\${{ vars.REGION }}"
          echo "secret=$TOKEN"
          echo "secret_length=\${#TOKEN}"
          echo "env=\${{ env.WF_LEVEL }}/\${{ env.JOB_LEVEL }}/\${{ env.OVERRIDDEN }}"
          echo "FROM_FILE=written" >> "$GITHUB_ENV"
      - id: flaky
        continue-on-error: true
        run: exit 3
      - id: after
        if: always()
        run: echo "status=\${{ job.status }} outcome=\${{ steps.flaky.outcome }} conclusion=\${{ steps.flaky.conclusion }} env=\${{ env.FROM_FILE }}"
  broken:
    runs-on: ubuntu-24.04
    steps:
      - run: exit 1
      - if: always()
        run: echo "status=\${{ job.status }}"
  matrix:
    runs-on: ubuntu-24.04
    strategy:
      fail-fast: false
      matrix: { region: [eu, us], size: [1] }
    steps:
      - run: echo "\${{ matrix.region }}-\${{ matrix.size }} \${{ strategy.job-index }}/\${{ strategy.job-total }} fail-fast=\${{ strategy.fail-fast }} max-parallel=\${{ strategy.max-parallel }}"
`);
    // run a commit that is not HEAD: github.sha is the given one
    const sha = execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim();
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "later"], { cwd: dir });
    const workDir = tmp("wf-ctx-run-");
    const r = await run(dir, { workDir, sha, runId: 4242, runAttempt: 3, actor: "mona", repository: "acme/contexts", vars: { REGION: "eu-west" }, secrets: { DEPLOY_TOKEN: "tok-Zq9-secret" } });

    const job = (id: string) => r.jobs.find((j) => j.id === id)!;
    const ctx = job("ctx");
    const v = values(ctx.steps[0]!.log);
    expect(v).toMatchObject({
      sha,
      ref: "refs/heads/main",
      ref_name: "main",
      event_name: "push",
      head_commit: sha,
      run_id: "4242",
      run_attempt: "3",
      actor: "mona",
      repository: "acme/contexts",
      server_url: "https://github.com",
      runner_os: "Linux",
      var: "eu-west",
      secret: "***",
      secret_length: "14",
      env: "from-workflow/from-job/job",
    });
    // github.workspace is $GITHUB_WORKSPACE and the directory a run: step starts in, inside the run's work dir
    expect(v.workspace).toBe(v.GITHUB_WORKSPACE);
    expect(v.cwd).toBe(realpathSync(v.workspace!));
    expect(v.workspace!.startsWith(path.join(workDir, "jobs") + path.sep)).toBe(true);
    expect(v.runner_temp).toBe(v.RUNNER_TEMP);
    expect(v.runner_temp!.startsWith(workDir + path.sep)).toBe(true);
    // the secret is usable in the step but never printed
    expect(r.log).not.toContain("tok-Zq9-secret");

    // continue-on-error: outcome failure, conclusion success; the job stays successful for job.status
    expect(ctx.steps[1]).toMatchObject({ id: "flaky", outcome: "failure", conclusion: "success" });
    expect(ctx.steps[2]!.log).toBe("status=success outcome=failure conclusion=success env=written");
    expect(ctx.result).toBe("success");
    // a real failure: job.status is failure in the if: always() step
    expect(job("broken").steps[1]!.log).toBe("status=failure");
    expect(job("broken").result).toBe("failure");
    expect(r.conclusion).toBe("failure");

    expect(job("matrix (eu, 1)").steps[0]!.log).toBe("eu-1 0/2 fail-fast=false max-parallel=2");
    expect(job("matrix (us, 1)").steps[0]!.log).toBe("us-1 1/2 fail-fast=false max-parallel=2");
    expect(job("matrix (eu, 1)").matrix).toEqual({ region: "eu", size: 1 });
  });

  it("Contexts › env: a step's own env: is in the env context of its run: and with:, over the job's", async () => {
    const dir = repo(`on: push
env: { LEVEL: workflow }
jobs:
  j:
    runs-on: ubuntu-latest
    env: { LEVEL: job, JOB_ONLY: j }
    steps:
      - id: s
        env: { LEVEL: step }
        run: echo "level=\${{ env.LEVEL }} job_only=\${{ env.JOB_ONLY }}"
      - id: t
        run: echo "level=\${{ env.LEVEL }}"
`);
    const r = await run(dir);
    const [s1, s2] = r.jobs[0]!.steps;
    expect(s1!.log).toBe("level=step job_only=j");
    expect(s2!.log).toBe("level=job");
  });

  it("Workflow syntax › permissions: the workflow's recorded on the run; a job's own replaces it, a job without one has the workflow's", async () => {
    const r = await run(repo(`on: push
permissions: { contents: read }
jobs:
  deploy:
    runs-on: x
    permissions: { deployments: write }
    steps: [ { run: "true" } ]
  build: { runs-on: x, steps: [ { run: "true" } ] }
  audit: { runs-on: x, permissions: read-all, steps: [ { run: "true" } ] }
`));
    expect(r.conclusion).toBe("success");
    expect(r.permissions).toEqual({ contents: "read" });
    expect(r.jobs.map((j) => [j.id, j.permissions])).toEqual([
      ["deploy", { deployments: "write" }],
      ["build", { contents: "read" }],
      ["audit", "read-all"],
    ]);
  });

  it("Workflow syntax › jobs.<job_id>.environment: the url from a step output is evaluated when the job ends, not when it is approved", async () => {
    const asked: EnvironmentRef[] = [];
    const r = await run(
      repo(`on: push
jobs:
  staging:
    runs-on: x
    environment:
      name: staging
      url: "https://\${{ steps.deploy.outputs.host }}/\${{ job.status }}"
    steps:
      - run: echo "before the deploy"
      - id: deploy
        run: echo "host=app-\${{ github.run_id }}.staging.example" >> "$GITHUB_OUTPUT"
`),
      { runId: 77, approve: (env) => (asked.push({ ...env }), "approve") },
    );
    expect(r.conclusion).toBe("success");
    expect(asked).toEqual([{ name: "staging" }]);
    expect(r.jobs[0]!.approval).toBe("approve");
    expect(r.jobs[0]!.environment).toEqual({ name: "staging", url: "https://app-77.staging.example/success" });
  });
});

describe("npm run workflow (src/workflow/cli.ts), run as a user runs it", () => {
  const SECRET = "s3cr3t-Tok-91";
  let app: string;
  let secretsFile: string;
  let varsFile: string;
  beforeAll(() => {
    app = repo(
      `name: deploy
on:
  workflow_dispatch:
    inputs:
      who: { type: string, required: true }
      fail: { type: boolean, default: false }
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - name: Build
        run: echo "building for \${{ inputs.who }}"
  staging:
    needs: build
    runs-on: ubuntu-24.04
    environment: staging
    steps:
      - name: Deploy
        env: { TOKEN: "\${{ secrets.API_TOKEN }}", PIN: "\${{ secrets.PIN }}" }
        run: |
          echo "token is $TOKEN, pin of \${#PIN} digits, region \${{ vars.REGION }}"
          echo "### Deployed to \${{ vars.REGION }} with $TOKEN" >> "$GITHUB_STEP_SUMMARY"
          [ "\${{ inputs.fail }}" = false ] || { echo "::error::deploy failed on purpose"; exit 1; }
      - name: Verify
        run: echo verified
`,
      ".github/workflows/deploy.yml",
    );
    const files = tmp("wf-ctx-files-");
    secretsFile = path.join(files, "secrets.yml");
    // PIN and REGION are kept as written (not the numbers 42 and 10)
    writeFileSync(secretsFile, `API_TOKEN: ${SECRET}\nPIN: 0042\n`, { mode: 0o600 });
    varsFile = path.join(files, "vars.yml");
    writeFileSync(varsFile, "REGION: 010\n");
  });
  const cli = (...args: string[]) => {
    const workDir = tmp("wf-ctx-cli-");
    const p = spawnSync(path.join(ROOT, "node_modules/.bin/tsx"), ["src/workflow/cli.ts", ".github/workflows/deploy.yml", "--event", "workflow_dispatch", "--repo", app, "--work-dir", workDir, ...args], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
      timeout: 20_000,
    });
    return { code: p.status, stdout: p.stdout, stderr: p.stderr, workDir };
  };

  it("Using environments for deployment: approved with --approve, secrets from --secrets masked, vars from --vars; exit 0, the table, the summary file", () => {
    const r = cli("--input", "who=ann", "--secrets", secretsFile, "--vars", varsFile, "--approve", "staging");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\.github\/workflows\/deploy\.yml \(workflow_dispatch\): success$/m);
    expect(r.stdout).toMatch(/^✓ build {2}success {2}[\d.]+ s$/m);
    expect(r.stdout).toMatch(/^ {4}✓ Build +success +[\d.]+ s$/m);
    expect(r.stdout).toMatch(/^✓ staging {2}success {2}[\d.]+ s \[environment staging: approve\]$/m);
    expect(r.stdout).toMatch(/^ {4}✓ Deploy +success +[\d.]+ s$/m);
    expect(r.stdout).toMatch(/^ {4}✓ Verify +success +[\d.]+ s$/m);
    // the secret a step prints is *** in the output, never in clear; a secret and a var are the strings written
    expect(r.stdout).toContain("[staging] token is ***, pin of 4 digits, region 010");
    expect(r.stdout).not.toContain(SECRET);
    // the job summaries are named; only the job that wrote one has a file listed
    const listed = [...r.stdout.matchAll(/^ {2}(\S+): (\/\S+\.md)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(r.stdout).toMatch(/^job summaries:$/m);
    expect(listed.map(([job]) => job)).toEqual(["staging"]);
    const file = listed[0]![1];
    expect(file.startsWith(r.workDir + path.sep)).toBe(true);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, "utf8")).toBe("### Deployed to 010 with ***\n");
  });

  it("a failed step: exit 1, the step ✗ with its ::error::, the next step skipped", () => {
    const r = cli("--input", "who=ann", "--input", "fail=true", "--approve", "staging");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^\.github\/workflows\/deploy\.yml \(workflow_dispatch\): failure$/m);
    expect(r.stdout).toMatch(/^✗ staging {2}failure {2}[\d.]+ s \[environment staging: approve\]$/m);
    expect(r.stdout).toMatch(/^ {4}✗ Deploy +failure +[\d.]+ s {2}deploy failed on purpose$/m);
    expect(r.stdout).toMatch(/^ {4}- Verify +skipped +[\d.]+ s$/m);
  });

  it("Reviewing deployments › reject: --reject staging fails the run, the job shown rejected with no step run", () => {
    const r = cli("--input", "who=ann", "--secrets", secretsFile, "--reject", "staging");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^\.github\/workflows\/deploy\.yml \(workflow_dispatch\): failure$/m);
    expect(r.stdout).toMatch(/^✓ build {2}success/m);
    expect(r.stdout).toMatch(/^✗ staging {2}failure {2}[\d.]+ s \[environment staging: reject\] {2}— the deployment to environment 'staging' was rejected$/m);
    // no step of the job ran: none in the table, nothing printed
    expect(r.stdout).not.toMatch(/^ {4}. (Deploy|Verify)/m);
    expect(r.stdout).not.toContain("token is");
    expect(r.stdout).not.toContain(SECRET);
  });

  it("Workflow syntax › on.workflow_dispatch.inputs: an unknown --input is refused before anything runs, naming it and the inputs there are", () => {
    const r = cli("--input", "who=ann", "--input", "whom=bob", "--approve", "staging");
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe("workflow: .github/workflows/deploy.yml: workflow_dispatch has no input 'whom' (it has: who, fail)");
    expect(r.stdout).toBe("");
  });
});

describe("npm run workflow --action-repo: a `uses: owner/name/path@ref` resolved to a local clone at that ref", () => {
  it("runs the action of the clone's tagged commit; without the option the error names it", () => {
    const tools = repo(`name: hello\ndescription: says hello\ninputs:\n  who: { required: true }\nruns:\n  using: node24\n  main: index.js\n`, "actions/hello/action.yml");
    writeFileSync(path.join(tools, "actions/hello/index.js"), 'console.log(`hello ${process.env["INPUT_WHO"]} from v1`);\n');
    execFileSync("bash", ["-c", "git add -A && git -c user.name=t -c user.email=t@t commit -qm v1 && git tag v1 && echo 'console.log(\"untagged\");' > actions/hello/index.js && git -c user.name=t -c user.email=t@t commit -qam next"], { cwd: tools });
    const app = repo(`on: push\njobs:\n  greet:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: acme/tools/actions/hello@v1\n        with: { who: ann }\n`);
    const cli = (...args: string[]) =>
      spawnSync(path.join(ROOT, "node_modules/.bin/tsx"), ["src/workflow/cli.ts", ".github/workflows/w.yml", "--event", "push", "--repo", app, "--work-dir", tmp("wf-ctx-cli-"), ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 20_000 });
    const ok = cli("--action-repo", `acme/tools=${tools}`);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain("[greet] hello ann from v1");
    const missing = cli();
    expect(missing.status).toBe(1);
    expect(missing.stdout).toContain("the local runner has no copy of acme/tools");
    expect(missing.stdout).toContain("--action-repo acme/tools=DIR");
  });
});
