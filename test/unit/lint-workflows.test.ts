// slipway lint-workflows: a corpus of broken workflows (test/fixtures/workflows-repo/broken, each
// file heading its expected findings as `# expect: LINE:COL message…`) against a small repository's
// environments and .github/actionlint.yaml; clean ones (SLIPWAY_SECRETS at job level, secrets by name
// at three levels, self-hosted labels, what `slipway init` writes, this repository's own workflows and
// the example callers against test/fixtures/environments, each examples/<name>/.github/workflows
// against that example's environments/);
// and the table of slipway's reusable workflows, which must match .github/workflows.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleWorkflowDirs, FIXTURE_ENVIRONMENTS, lintRepositoryWorkflows } from "../../scripts/lint-workflows.js";
import { environmentSecrets, lintWorkflowDir, neededSecrets, repositoryEnvironments, slipwayFindings, type Finding } from "../../src/cli/lint-workflows.js";
import { reusableWorkflows, workflowCallOf } from "../../src/cli/reusable-workflows.js";
import { deployWorkflow, environmentFile, initKinds, parseActionsRef, parseHost, rollbackWorkflow } from "../../src/cli/init.js";
import { formatProblem, parseEnvironment } from "../../src/config/load.js";

const REPO = "test/fixtures/workflows-repo";
const BROKEN = path.join(REPO, "broken");
const FP = "SHA256:ZvY3hGyYZoC34gPgIVG9ClOQjKm+QyEZW1fRJYEDk3g";
const shown = (fs: Finding[]) => fs.map(formatProblem);

describe("the broken corpus: every finding at its file:line:col", () => {
  const files = readdirSync(BROKEN).filter((f) => f.endsWith(".yml")).sort();
  let findings: Finding[] = [];
  beforeAll(async () => {
    findings = (await lintWorkflowDir(BROKEN, REPO)).findings;
  });

  it("holds at least 13 files", () => expect(files.length).toBeGreaterThanOrEqual(13));

  it.each(files)("%s", (name) => {
    const file = path.join(BROKEN, name);
    const expected = [...readFileSync(file, "utf8").matchAll(/^# expect: (\d+):(\d+) (.+)$/gm)].map(([, line, col, text]) => ({ line: Number(line), col: Number(col), text: text! }));
    expect(expected.length).toBeGreaterThan(0);
    const got = findings.filter((f) => f.file === file);
    expect(got.map((f) => `${f.line}:${f.col}`), shown(got).join("\n")).toEqual(expected.map((e) => `${e.line}:${e.col}`));
    got.forEach((f, i) => expect(f.message.startsWith(expected[i]!.text), `${formatProblem(f)}\nshould start with\n${expected[i]!.text}`).toBe(true));
  });
});

describe("clean workflows", () => {
  it("SLIPWAY_SECRETS at job level, secrets by name at workflow/job/step level, self-hosted labels of actionlint.yaml, secrets: inherit, the repository's own actions", async () => {
    const { files, findings } = await lintWorkflowDir(path.join(REPO, "clean"), REPO);
    expect(files).toHaveLength(5);
    expect(shown(findings)).toEqual([]);
  });

  it.each([
    [".github/workflows", FIXTURE_ENVIRONMENTS],
    ["examples/workflows", FIXTURE_ENVIRONMENTS],
    ...exampleWorkflowDirs().map((d) => [d, path.join(path.dirname(path.dirname(d)), "environments")]),
  ])("this repository's %s with the environments of %s", async (dir, envs) => {
    const { files, findings } = await lintWorkflowDir(dir, undefined, envs);
    expect(files.length).toBeGreaterThan(0);
    expect(shown(findings)).toEqual([]);
    // npm run lint:workflows lints it the same way
    expect(shown((await lintRepositoryWorkflows(dir)).findings)).toEqual([]);
  });

  it("examples/workflows needs the fixtures: the top-level environments/ (the minimal example only) has none of the environments it names", async () => {
    const { findings } = await lintWorkflowDir("examples/workflows");
    const missing = new Set(shown(findings).flatMap((f) => /environment '(\w+)': there is no environments\/\1\.yml/.exec(f)?.[1] ?? []));
    expect([...missing].sort()).toEqual(["nas", "production", "staging"]);
  });

  describe("what slipway init writes", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-lint-init-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each(initKinds)("--kind %s, staging and production", async (kind) => {
      const repo = path.join(dir, kind);
      mkdirSync(path.join(repo, "environments"), { recursive: true });
      mkdirSync(path.join(repo, ".github/workflows"), { recursive: true });
      const ref = parseActionsRef("acme/slipway@v1");
      for (const env of ["staging", "production"]) {
        const o = { kind, env, hosts: [parseHost("web=deploy@203.0.113.10")], service: "api", actionsRef: ref };
        writeFileSync(path.join(repo, "environments", `${env}.yml`), environmentFile(o, new Map([["web", { fingerprints: [FP] }]])));
      }
      writeFileSync(path.join(repo, ".github/workflows/deploy.yml"), deployWorkflow(["staging", "production"], ref));
      writeFileSync(path.join(repo, ".github/workflows/rollback.yml"), rollbackWorkflow(["staging", "production"], ref));
      const { files, findings } = await lintWorkflowDir(path.join(repo, ".github/workflows"));
      expect(files).toHaveLength(2);
      expect(shown(findings)).toEqual([]);
    });
  });
});

describe("the secrets a step needs", () => {
  const env = parseEnvironment(
    `ssh: { key-secret: FLEET_KEY }
hosts:
  bastion: { address: 203.0.113.1, user: deploy, host-key: "${FP}" }
  app: { address: 10.0.0.2, user: deploy, host-key: "${FP}", jump: bastion, ssh-key-secret: APP_KEY }
  local: { address: 10.0.0.3, user: deploy, host-key: "${FP}", identity-file: /home/me/.ssh/id }
services:
  web: { kind: systemd, hosts: [app], deploy-to: /opt/web, exec: bin/web, secret-env: { TOKEN: WEB_TOKEN } }
  jobs: { kind: supervisor, hosts: [local], deploy-to: /opt/jobs, programs: { w: { command: bin/w } }, secret-env: { Q: QUEUE_URL } }
databases:
  main: { engine: postgres, url-secret: MAIN_DATABASE_URL, via: app, name: main }
checks:
  - { sql: select 1, database: main, expect: "= 1" }
`,
    "env.yml",
  );

  it("ssh keys of the action's hosts and their jump hosts (none for an identity file), and only what the action reads", () => {
    expect(Object.fromEntries(neededSecrets(env, "deploy-systemd"))).toEqual({ APP_KEY: "ssh to app", FLEET_KEY: "ssh to bastion", WEB_TOKEN: "TOKEN of service web" });
    expect(Object.fromEntries(neededSecrets(env, "deploy-supervisor"))).toEqual({ QUEUE_URL: "Q of service jobs" });
    expect([...neededSecrets(env, "backup-db").keys()]).toEqual(["APP_KEY", "FLEET_KEY", "MAIN_DATABASE_URL"]);
    expect([...neededSecrets(env, "verify-health").keys()]).toContain("MAIN_DATABASE_URL");
    expect([...neededSecrets(env, "rollback", { verify: "false" }).keys()]).toEqual(["APP_KEY", "FLEET_KEY"]);
    expect([...environmentSecrets(env).keys()].sort()).toEqual(["APP_KEY", "FLEET_KEY", "MAIN_DATABASE_URL", "QUEUE_URL", "WEB_TOKEN"]);
  });

  it("a caller of plan.yml passes no secret (it reads none); one of deploy-environment.yml that passes none is reported", () => {
    const ctx = { environments: new Map([["staging", env]]) };
    const caller = (file: string) => `on: push\njobs:\n  c:\n    uses: OWNER/slipway/.github/workflows/${file}@v0\n    with: { environment: staging }\n`;
    expect(reusableWorkflows["plan.yml"]?.readsSecrets).toBe(false);
    expect(shown(slipwayFindings("w.yml", caller("plan.yml").replace("    with: { environment: staging }\n", ""), ctx))).toEqual([]);
    expect(shown(slipwayFindings("w.yml", caller("deploy-environment.yml"), ctx))).toEqual([expect.stringMatching(/^w\.yml:4:11: deploy-environment\.yml reads .*FLEET_KEY.* and this job does not pass them: add `secrets: inherit`/)]);
  });

  it("an environment file that does not validate is a finding at its first problem, and its name is not reported as missing", () => {
    const repo = mkdtempSync(path.join(os.tmpdir(), "slipway-lint-env-"));
    try {
      mkdirSync(path.join(repo, "environments"));
      writeFileSync(path.join(repo, "environments/staging.yml"), "hosts:\n  web: { address: 203.0.113.10, user: deploy }\nservices: {}\n");
      const { environments, broken, findings } = repositoryEnvironments(repo);
      expect(environments.size).toBe(0);
      expect(findings).toEqual([expect.objectContaining({ file: expect.stringMatching(/environments\/staging\.yml$/), line: 2, message: expect.stringMatching(/^does not validate, so the secrets it names are not checked: run `slipway validate staging`/) })]);
      const wf = "on: push\njobs:\n  d:\n    runs-on: x\n    steps:\n      - uses: a/slipway/actions/verify-health@v1\n        with: { environment: staging }\n";
      expect(slipwayFindings("w.yml", wf, { environments, broken })).toEqual([]);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});

describe("slipway's reusable workflows", () => {
  it("the table in src/cli/reusable-workflows.ts matches .github/workflows (on.workflow_call)", () => {
    const dir = ".github/workflows";
    const actual = Object.fromEntries(
      readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
        .flatMap((f) => {
          const call = workflowCallOf(readFileSync(path.join(dir, f), "utf8"));
          return call ? [[f, call]] : [];
        }),
    );
    expect(reusableWorkflows, `paste into src/cli/reusable-workflows.ts:\n${JSON.stringify(actual, null, 2)}`).toEqual(actual);
  });
});
