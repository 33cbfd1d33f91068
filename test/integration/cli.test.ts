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
      "test/fixtures/three-mistakes.yml:5:5: hosts.droplet-1.usr: unknown key 'usr': did you mean 'user'? (allowed here: address, commands, host-key, identity-file, jump, known-hosts, port, ssh-key-secret, sudo, user)",
      "test/fixtures/three-mistakes.yml:10:13: services.app.hosts.0: unknown host 'droplet-2' (hosts: droplet-1)",
      "test/fixtures/three-mistakes.yml:14:18: policy.keep-releases: Invalid input: expected number, received string",
      "test/fixtures/three-mistakes.yml: 3 problems",
    ]);
  });

  it("accepts the multi-service test fixtures by path and exits 0", () => {
    const r = cli(["validate", ...["production", "recio", "nas"].map((n) => `test/fixtures/environments/${n}.yml`)]);
    expect(r.status).toBe(0);
    // production's releases are built by the workflow (dist/…): a warning each, not an error
    expect(r.stdout).toContain("test/fixtures/environments/production.yml: ok with 2 warnings (2 hosts, 2 services, 1 databases, 5 checks)");
    expect(r.stdout).toContain("test/fixtures/environments/nas.yml: ok (2 hosts, 1 services, 1 databases, 5 checks)");
    expect(r.stderr).toContain("test/fixtures/environments/production.yml:30:14: warning: services.darkpool-collector.release: dist/collector is not in the repository now: build it in the workflow before the deploy step runs, or fix the path");
  });

  it("validates the documented minimal example, by name and with no argument (the top-level environments/ holds only it), with no error", () => {
    for (const args of [["validate", "example"], ["validate"]]) {
      const r = cli(args);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe("environments/example.yml: ok with 1 warning (1 hosts, 1 services, 0 databases, 1 checks)\n");
      // its release is built by the workflow: the one warning
      expect(r.stderr).toBe("environments/example.yml:24:14: warning: services.app.release: dist/app is not in the repository now: build it in the workflow before the deploy step runs, or fix the path\n");
    }
  });

  it("works through npx, the package's bin", () => {
    const r = spawnSync("npx", ["--no-install", "slipway", "validate", "test/fixtures/environments/nas.yml"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.stdout).toContain("test/fixtures/environments/nas.yml: ok");
    expect(r.status).toBe(0);
  });
});

describe("slipway plan", () => {
  it("prints what happens on which host", () => {
    const r = cli(["plan", "test/fixtures/environments/nas.yml"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("nas  admin@192.168.1.50:22 via bastion (sudo)");
    expect(r.stdout).toContain("- apply sql migrations from examples/nas-collectors/schema to crypto in container crypto-timescaledb");
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

describe("slipway render (issue #17): every file a deploy installs, offline", () => {
  const FP = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
  const envYml = `hosts:
  d1: { address: 10.0.0.1, host-key: "${FP}", sudo: true }
  d2: { address: 10.0.0.2, host-key: "${FP}" }
services:
  job:
    kind: systemd
    hosts: [d1, d2]
    deploy-to: /srv/job
    exec: venv/bin/python -m job
    env: { MODE: "a \\"quoted\\" $value" }
    secret-env: { DB_PASSWORD: JOB_DB_PASSWORD }
    timer: { on-calendar: "*:0/5" }
    replaces-cron: { user: deployer, match: job.py }
    logrotate: { paths: [/var/log/job/*.log] }
  workers:
    kind: supervisor
    hosts: [d2]
    deploy-to: /srv/workers
    secret-env: { TOKEN: WORKERS_TOKEN }
    programs:
      w: { command: venv/bin/python -m w }
  stack:
    kind: compose
    hosts: [d1]
    deploy-to: /srv/stack
    files: [compose.yml]
    env: { TZ: UTC }
`;
  const SECRET = "s3cret-value-never-written";
  const repo = mkdtempSync(path.join(os.tmpdir(), "slipway-render-"));
  mkdirSync(path.join(repo, "environments"));
  writeFileSync(path.join(repo, "environments", "app.yml"), envYml);
  const run = (args: string[]) => spawnSync(process.execPath, [path.join(ROOT, "dist/cli/index.js"), ...args], { cwd: repo, encoding: "utf8", timeout: 60_000, env: { ...process.env, JOB_DB_PASSWORD: SECRET, SLIPWAY_SECRETS: JSON.stringify({ WORKERS_TOKEN: SECRET }) } });
  const files = (dir: string) => spawnSync("find", [dir, "-type", "f", "-printf", "%P %m\n"], { encoding: "utf8" }).stdout.trim().split("\n").sort();

  it("writes units, timer, EnvironmentFile, crontab edit, logrotate, supervisor conf and .env under DIR/<host>/<path>, with the deploy's modes, secrets as placeholders", () => {
    const r = run(["render", "app", "--out", "out"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = path.join(repo, "out");
    expect(files(out)).toEqual([
      "d1/_slipway/crontab-edit-job.sh 644",
      "d1/etc/logrotate.d/slipway-job 644",
      "d1/etc/systemd/system/job.service 644",
      "d1/etc/systemd/system/job.timer 644",
      "d1/srv/job/releases/RELEASE/_slipway/env 600",
      "d1/srv/stack/releases/RELEASE/.env 600",
      "d2/_slipway/crontab-edit-job.sh 644",
      "d2/etc/logrotate.d/slipway-job 644",
      "d2/etc/supervisor/conf.d/workers.conf 600",
      "d2/etc/systemd/system/job.service 644",
      "d2/etc/systemd/system/job.timer 644",
      "d2/srv/job/releases/RELEASE/_slipway/env 600",
    ]);
    expect(r.stdout.trim().split("\n")).toHaveLength(12);
    expect(r.stdout).toContain("out/d2/etc/supervisor/conf.d/workers.conf  supervisor programs of workers (mode 0600)");
    const read = (f: string) => readFileSync(path.join(out, f), "utf8");
    expect(read("d1/srv/job/releases/RELEASE/_slipway/env")).toBe('MODE="a \\"quoted\\" \\$value"\nDB_PASSWORD="<secret JOB_DB_PASSWORD>"\n');
    expect(read("d1/etc/systemd/system/job.service")).toContain("ExecStart=/srv/job/current/venv/bin/python -m job\n");
    expect(read("d1/etc/systemd/system/job.service")).toContain("EnvironmentFile=/srv/job/current/_slipway/env\n");
    expect(read("d2/etc/supervisor/conf.d/workers.conf")).toContain("<secret WORKERS_TOKEN>");
    // the host's sudo setting reaches the crontab edit
    expect(read("d1/_slipway/crontab-edit-job.sh")).toContain("sudo -n crontab -u deployer");
    expect(read("d2/_slipway/crontab-edit-job.sh")).not.toContain("sudo");
    for (const f of files(out)) expect(read(f.split(" ")[0]!)).not.toContain(SECRET);
    expect(r.stdout).not.toContain(SECRET);
  });

  it("--service and --host narrow it; an unknown one is named", () => {
    const r = run(["render", "app", "--service", "job", "--host", "d2", "--out", "one"]);
    expect(r.status).toBe(0);
    expect(files(path.join(repo, "one"))).toEqual(["d2/_slipway/crontab-edit-job.sh 644", "d2/etc/logrotate.d/slipway-job 644", "d2/etc/systemd/system/job.service 644", "d2/etc/systemd/system/job.timer 644", "d2/srv/job/releases/RELEASE/_slipway/env 600"]);
    const bad = run(["render", "app", "--service", "jbo", "--out", "none"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe("error: no service jbo (services: job, workers, stack) in this environment");
  });

  it("an invalid file is refused at file:line:col and nothing is written", () => {
    writeFileSync(path.join(repo, "environments", "bad.yml"), envYml.replace("on-calendar: \"*:0/5\"", "on-calendar: \"Mon..Fry 9:00\""));
    const r = run(["render", "bad", "--out", "bad-out"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^environments\/bad\.yml:12:27: services\.job\.timer\.on-calendar: systemd cannot read this calendar event/);
    expect(spawnSync("test", ["-e", path.join(repo, "bad-out")]).status).toBe(1);
  });
});

describe("slipway lint-migrations (issue #18): every SQL migration through PostgreSQL's parser, from the bundle on both Node versions", () => {
  it.each(runnerNodes())("on $label: findings at file:line:col with the rule, the severities of migrations.lint, exit 1 on an error", ({ bin }) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-lint-"));
    mkdirSync(path.join(dir, "environments"));
    mkdirSync(path.join(dir, "migrations"));
    writeFileSync(path.join(dir, "migrations", "001_trades.sql"), "CREATE TABLE trades (id bigserial PRIMARY KEY, symbol text);\nCREATE INDEX trades_symbol ON trades (symbol);\n");
    writeFileSync(path.join(dir, "migrations", "002_venue.sql"), "SET lock_timeout = '5s';\nALTER TABLE trades ADD COLUMN venue text NOT NULL;\nCREATE INDEX trades_venue ON trades (venue);\n");
    const env = (lint: object) =>
      writeFileSync(path.join(dir, "environments", "prod.yml"), `hosts:\n  db: { address: 192.0.2.10, user: deploy, host-key: "SHA256:${"A".repeat(43)}" }\ndatabases:\n  app:\n    engine: postgres\n    on: { host: db }\n    name: app\n    migrations: { dir: migrations, lint: ${JSON.stringify(lint)} }\n`);
    env({});
    const warned = cli(["lint-migrations", "prod"], bin, dir);
    expect(warned.stderr).toBe("");
    expect(warned.status).toBe(0);
    expect(warned.stdout.trim().split("\n")).toEqual([
      expect.stringMatching(/^migrations\/002_venue\.sql:2:1: warn \[adding-not-nullable-field\] /),
      expect.stringMatching(/^migrations\/002_venue\.sql:3:1: warn \[require-concurrent-index-creation\] /),
      "2 migration file(s) linted: 0 error(s), 2 warning(s) or allowed",
    ]);
    env({ "adding-not-nullable-field": "error", "require-concurrent-index-creation": "off" });
    const refused = cli(["lint-migrations", "prod"], bin, dir);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain("migrations/002_venue.sql:2:1: error [adding-not-nullable-field]");
    expect(refused.stdout).not.toContain("require-concurrent-index-creation");
    env({ "no-such-rule": "off" });
    const bad = cli(["lint-migrations", "prod"], bin, dir);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/environments\/prod\.yml:\d+:\d+: databases\.app\.migrations\.lint/);
  });
});
