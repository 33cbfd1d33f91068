// The CLI bundle (dist/cli/index.js, the package's bin) as a user runs it.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runnerNodes } from "../harness/runner.js";
import { startSshd, type Sshd } from "../harness/sshd.js";
import { startPostgres, type Postgres } from "../harness/postgres.js";
import { loopbackEnvironment, pgOnLoop } from "../harness/env.js";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";

const cli = (args: string[], node = process.execPath, cwd = ROOT) => spawnSync(node, [path.join(ROOT, "dist/cli/index.js"), ...args], { cwd, encoding: "utf8", timeout: 60_000 });

let sshd: Sshd;
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(() => sshd?.stop());

describe("slipway validate", () => {
  it("prints all three mistakes as file:line:col and exits non-zero", () => {
    const r = cli(["validate", "test/fixtures/three-mistakes.yml"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toEqual([
      "test/fixtures/three-mistakes.yml:5:5: hosts.droplet-1.usr: unknown key 'usr' (a typo? allowed keys are in environments/schema.json)",
      "test/fixtures/three-mistakes.yml:10:13: services.app.hosts.0: unknown host 'droplet-2' (hosts: droplet-1)",
      "test/fixtures/three-mistakes.yml:14:18: policy.keep-releases: Invalid input: expected number, received string",
      "test/fixtures/three-mistakes.yml: 3 problems",
    ]);
  });

  it("accepts the committed examples by name and exits 0", () => {
    const r = cli(["validate", "production", "recio", "nas"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("environments/production.yml: ok (2 hosts, 2 services, 1 databases, 5 checks)");
  });

  it("works through npx, the package's bin", () => {
    const r = spawnSync("npx", ["--no-install", "slipway", "validate", "nas"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.stdout).toContain("environments/nas.yml: ok");
    expect(r.status).toBe(0);
  });
});

describe("slipway plan", () => {
  it("prints what happens on which host", () => {
    const r = cli(["plan", "nas"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("nas  admin@192.168.1.50:22 via bastion (sudo)");
    expect(r.stdout).toContain("- apply sql migrations from schema to crypto in container crypto-timescaledb");
  });
});

describe.each(runnerNodes())("slipway fingerprint on $label", ({ bin }) => {
  it("prints the host key of a real sshd in both pinnable forms", () => {
    const r = cli(["fingerprint", "127.0.0.1", "--port", String(sshd.port)], bin);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`host-key: "${sshd.hostKeyFingerprint}"`);
    expect(r.stdout).toContain(`known-hosts: "${sshd.knownHostsLine}"`);
  });
});

describe("bad usage", () => {
  it("names an unreachable host", () => {
    const r = cli(["fingerprint", "127.0.0.1", "--port", "1"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: cannot reach 127\.0\.0\.1:1: .*ECONNREFUSED/);
  });
  it("rejects a bad port", () => {
    const r = cli(["fingerprint", "h", "--port", "99999"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("a port number");
  });
});

describe("slipway backup and migrate", () => {
  let pg: Postgres;
  beforeAll(async () => {
    pg = await startPostgres();
    pg.psql("CREATE DATABASE app");
  });
  afterAll(() => pg?.stop());

  it("backs up, refuses to migrate without a backup, then migrates with one", () => {
    const ws = mkdtempSync(path.join(os.tmpdir(), "slipway-cli-"));
    const { file } = loopbackEnvironment(sshd, pg, { databases: { app: { ...pgOnLoop(pg, "app"), migrations: { dir: "test/fixtures/migrations-basic" }, backup: { dir: path.join(ws, "b") } } } });
    const b = cli(["backup", file]);
    expect(b.status, b.stderr).toBe(0);
    const id = /^backup-id=(\S+)$/m.exec(b.stdout)?.[1];
    expect(id).toMatch(/^app-/);
    expect(b.stdout).toMatch(/^verified=true$/m);
    const refused = cli(["migrate", file]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("refusing to migrate app: no backup-id given");
    const dry = cli(["migrate", file, "--dry-run"]);
    expect(dry.stdout).toMatch(/^pending=1$/m);
    const m = cli(["migrate", file, "--backup-id", id!]);
    expect(m.status, m.stderr).toBe(0);
    expect(m.stdout).toMatch(/^applied=1$/m);
    expect(pg.psql("SELECT count(*) FROM slipway_schema_history", "app")).toBe("1");
  });
});

describe("slipway's version, validate without arguments, verify and rollback (issue #15's CLI gaps)", () => {
  it("--version prints the package's version", () => {
    const r = cli(["--version"]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string }).version);
  });

  it("validate with no argument checks every environments/*.yml of the current directory, and says so when there is none", () => {
    const repo = mkdtempSync(path.join(os.tmpdir(), "slipway-cli-repo-"));
    const none = cli(["validate"], process.execPath, repo);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain(`no environment file in ${path.join(repo, "environments")}`);
    mkdirSync(path.join(repo, "environments"));
    const host = "hosts:\n  h: { address: 127.0.0.1, user: deploy, host-key: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }\n";
    writeFileSync(path.join(repo, "environments", "a.yml"), host);
    writeFileSync(path.join(repo, "environments", "b.yml"), host + "policy: { keep-releases: 1 }\n");
    const r = cli(["validate"], process.execPath, repo);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("environments/a.yml: ok");
    expect(r.stderr).toMatch(/environments\/b\.yml:\d+:\d+: .*keep-releases/);
  });

  describe("against the loopback sshd and PostgreSQL", () => {
    let pg: Postgres;
    beforeAll(async () => {
      pg = await startPostgres();
      pg.psql("CREATE DATABASE checks");
      pg.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2)", "checks");
    });
    afterAll(() => pg?.stop());

    it("verify runs the environment's checks: exit 0 when they pass, 1 naming the check that fails", () => {
      const env = (expect_: string) =>
        loopbackEnvironment(sshd, pg, { databases: { checks: pgOnLoop(pg, "checks") }, checks: [{ name: "two rows", sql: "select count(*) from t", database: "checks", expect: expect_, retries: 0 }] }).file;
      const ok = cli(["verify", env("= 2")]);
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/^healthy=true$/m);
      const bad = cli(["verify", env("> 5")]);
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('check "two rows"');
    });

    it("rollback with nothing deployed refuses, naming the service and host, and changes nothing", () => {
      const ws = mkdtempSync(path.join(os.tmpdir(), "slipway-cli-rb-"));
      const { file } = loopbackEnvironment(sshd, pg, { services: { app: { kind: "systemd", hosts: ["loop"], "deploy-to": path.join(ws, "app"), release: "dist/app", exec: "/bin/true" } } });
      const r = cli(["rollback", file]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/app/);
      expect(r.stderr).toMatch(/loop/);
    });
  });
});
