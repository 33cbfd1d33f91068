// Every action bundle, run as the runner runs it (INPUT_*, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY),
// on Node 24 and on this machine's Node 20.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { actionNames, actionSpecs, inputsOf } from "../../src/actions/specs.js";
import { runAction, runnerNodes } from "../harness/runner.js";

const defaults = (name: (typeof actionNames)[number]) =>
  Object.fromEntries(Object.entries(inputsOf(actionSpecs[name])).map(([k, v]) => [k, v.default ?? ""]));

/** a multi-service test fixture (paths in it relative to the repository root, the actions' workspace here) */
const PRODUCTION = "test/fixtures/environments/production.yml";
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----";

describe.each(runnerNodes())("action bundles on $label", ({ bin }) => {
  it.each([...actionNames])("%s starts, masks the key secret, and fails clearly on a missing environment file without claiming anything", (name) => {
    const run = runAction(name, { ...defaults(name), environment: "environments/no-such-env.yml" }, { node: bin, env: { SLIPWAY_SSH_KEY: KEY } });
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`::error::${name}: .*environments/no-such-env\\.yml`));
    expect(run.outputsRaw).toBe(""); // no output claims anything
  });
});

describe("common action interface", () => {
  it("annotates every problem of an invalid environment file at its file and line", () => {
    const run = runAction("deploy-systemd", { ...defaults("deploy-systemd"), environment: "test/fixtures/three-mistakes.yml" });
    expect(run.code).toBe(1);
    const annotations = run.stdout.split("\n").filter((l) => l.startsWith("::error title=invalid environment file"));
    expect(annotations).toEqual([
      "::error title=invalid environment file,file=test/fixtures/three-mistakes.yml,line=5,col=5::hosts.droplet-1.usr: unknown key 'usr': did you mean 'user'? (allowed here: address, commands, host-key, identity-file, jump, known-hosts, port, ssh-key-secret, sudo, user)",
      "::error title=invalid environment file,file=test/fixtures/three-mistakes.yml,line=10,col=13::services.app.hosts.0: unknown host 'droplet-2' (hosts: droplet-1)",
      "::error title=invalid environment file,file=test/fixtures/three-mistakes.yml,line=14,col=18::policy.keep-releases: Invalid input: expected number, received string",
    ]);
    expect(run.stdout).toContain("::error::deploy-systemd: test/fixtures/three-mistakes.yml has 3 problem(s)");
  });

  it("annotates a warning of the environment file at its file and line, and goes on", () => {
    const run = runAction("deploy-systemd", { ...defaults("deploy-systemd"), environment: PRODUCTION, "dry-run": "true" }, { env: { SLIPWAY_SSH_KEY: KEY } });
    expect(run.stdout).toContain("::warning title=environment file,file=test/fixtures/environments/production.yml,line=30,col=14::warning: services.darkpool-collector.release: dist/collector is not in the repository now: build it in the workflow before the deploy step runs, or fix the path");
    expect(run.stdout).toContain("deploy-systemd: environment production (test/fixtures/environments/production.yml)");
  });

  it("resolves an environment by name from the workspace's environments/, and by path", () => {
    const byName = runAction("deploy-systemd", { ...defaults("deploy-systemd"), environment: "example", "dry-run": "true" }, { env: { SLIPWAY_SSH_KEY: KEY } });
    expect(byName.stdout).toContain("deploy-systemd: environment example (environments/example.yml)");
    const run = runAction("deploy-compose", { ...defaults("deploy-compose"), environment: "test/fixtures/environments/nas.yml" }, { env: { SLIPWAY_SSH_KEY: KEY } });
    expect(run.stdout).toContain("deploy-compose: environment nas (test/fixtures/environments/nas.yml), hosts: nas");
  });

  it("fails naming the secret when the ssh key is not mapped into env", () => {
    const run = runAction("deploy-systemd", { ...defaults("deploy-systemd"), environment: PRODUCTION });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("secret DEPLOY_SSH_KEY (needed for ssh to collector-1) is not set");
  });

  it("checks the hosts filter against the environment", () => {
    const unknown = runAction("deploy-systemd", { ...defaults("deploy-systemd"), environment: PRODUCTION, hosts: "collector-1, nope" }, { env: { DEPLOY_SSH_KEY: KEY } });
    expect(unknown.stdout).toContain("hosts input names unknown host(s) nope; test/fixtures/environments/production.yml defines: collector-1, trader-1");
    const unrelated = runAction("deploy-supervisor", { ...defaults("deploy-supervisor"), environment: "test/fixtures/environments/recio.yml", hosts: "etf-1" }, { env: { SLIPWAY_SSH_KEY: KEY } });
    expect(unrelated.stdout).toContain("deploy-supervisor: environment recio (test/fixtures/environments/recio.yml), hosts: etf-1");
  });

  it("rejects a dry-run value that is not a boolean, and a missing environment", () => {
    const bad = runAction("rollback", { ...defaults("rollback"), environment: PRODUCTION, "dry-run": "yes please" });
    expect(bad.stdout).toMatch(/::error::rollback: Input does not meet YAML 1.2 "Core Schema" specification: dry-run/);
    const missing = runAction("rollback", { ...defaults("rollback"), environment: "" });
    expect(missing.stdout).toContain("::error::rollback: Input required and not supplied: environment");
  });

  it("reports a missing environment file with its resolved path", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-ws-"));
    writeFileSync(path.join(dir, "README"), "empty workspace");
    const run = runAction("backup-db", { ...defaults("backup-db"), environment: "staging" }, { cwd: dir });
    expect(run.stdout).toContain(`environment file not found: ${dir}/environments/staging.yml (from 'staging')`);
  });
});
