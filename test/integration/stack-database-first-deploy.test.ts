// deploy.yml runs backup-db -> apply-migrations -> deploy-compose. A database that lives in the
// container of a compose stack's database service does not exist before the stack's first deploy:
// backup-db and apply-migrations have nothing to work on then (deploy-compose creates the container
// and applies the migrations once it is healthy). Against the harness sshd, with a stand-in docker
// on the host that knows one container or none.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAction } from "../harness/runner.js";
import { startSshd, type Sshd } from "../harness/sshd.js";

let sshd: Sshd;
let ws: string;
let exists: string;

beforeAll(async () => {
  sshd = await startSshd();
  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-stackdb-"));
  exists = path.join(ws, "container-exists");
  // docker inspect as the real one answers: an id, or "No such object" and exit 1;
  // docker exec (psql) fails loudly, so that a run that does not skip is seen
  const docker = path.join(ws, "docker");
  writeFileSync(
    docker,
    `#!/bin/sh
case "$1" in
  inspect) if [ -e ${exists} ]; then echo sha256:0123; else echo "Error: No such object: $4" >&2; exit 1; fi ;;
  *) echo "fake docker: $* is not expected here" >&2; exit 1 ;;
esac
`,
  );
  chmodSync(docker, 0o755);
  mkdirSync(path.join(ws, "schema"));
  writeFileSync(path.join(ws, "schema", "006_instrument_metadata_table.sql"), "CREATE TABLE instrument_metadata (name text PRIMARY KEY);\n");
  mkdirSync(path.join(ws, "stack"));
  mkdirSync(path.join(ws, "environments"));
  writeFileSync(
    path.join(ws, "environments", "nas.yml"),
    stringify({
      hosts: { nas: { address: "127.0.0.1", port: sshd.port, user: "root", "host-key": sshd.hostKeyFingerprint, commands: { docker } } },
      services: { stack: { kind: "compose", hosts: ["nas"], "deploy-to": "/srv/stack", release: "stack", files: ["docker-compose.yml"], "database-service": "db" } },
      databases: { crypto: { engine: "postgres", on: { host: "nas", container: "crypto-timescaledb" }, name: "crypto_data", user: "postgres", migrations: { dir: "schema" } } },
    }),
  );
});
afterAll(() => {
  sshd?.stop();
  if (ws) rmSync(ws, { recursive: true, force: true });
});

const run = (action: string, inputs: Record<string, string> = {}) =>
  runAction(action, { environment: "nas", hosts: "", "dry-run": "false", database: "", "runner-dir": "backups", "backup-id": "", to: "", verify: "", ...inputs }, { cwd: ws, env: { SLIPWAY_SSH_KEY: sshd.clientKey, GITHUB_RUN_ID: "77" } });

describe("a compose stack's database before the stack's first deploy", () => {
  it("backup-db: nothing to back up, no backup-id, the step passes", () => {
    rmSync(exists, { force: true });
    const r = run("backup-db");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("crypto: container crypto-timescaledb does not exist on nas yet: the first deploy of compose service stack creates it (database-service db)");
    expect(r.outputs["backup-id"] ?? "").toBe("");
    expect(r.summary).toContain("No backup: crypto does not exist yet");
  });

  it("apply-migrations: left to deploy-compose, the step passes with no head", () => {
    const r = run("apply-migrations");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("deploy-compose applies the migrations once it is healthy; nothing to migrate here");
    expect(r.outputs).toMatchObject({ applied: "0", pending: "0", head: "" });
  });

  it("once the container exists, both run as usual (and fail here: the stand-in docker has no psql)", () => {
    writeFileSync(exists, "");
    for (const action of ["backup-db", "apply-migrations"]) {
      const r = run(action);
      expect(r.code, action).toBe(1);
      expect(r.stdout).not.toContain("does not exist on nas yet");
      expect(r.stdout + r.stderr).toContain("fake docker: exec");
    }
  });
});
