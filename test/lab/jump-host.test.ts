// Issue #15 (private networks): a NAS on a LAN that only a droplet reaches. The NAS's sshd answers
// only droplet-1 (iptables in the NAS's own namespace); the runner cannot reach it, and the
// environment file's `jump: droplet-1` is the whole change a user makes. Through the bastion — both
// hops' host keys pinned — the health checks run on the NAS and a backup of its containerized
// PostgreSQL streams from the NAS to the runner and is verified.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sshOnlyFrom } from "../../src/lab/faults.js";
import { host } from "../../src/lab/state.js";
import { runAction } from "../harness/runner.js";
import { lab } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("nas-1");

let ws: string;
function environment(file: string, jump: boolean) {
  const env = parse(readFileSync(lab().envFile, "utf8"));
  if (jump) env.hosts["nas-1"].jump = "droplet-1";
  env.databases = { "nas-app": { ...env.databases["nas-app"], backup: { keep: 3, to: "runner" } } };
  env.checks = [{ name: "nas answers", command: "test -x /usr/local/bin/docker", hosts: ["nas-1"], retries: 1, timeout: "10s" }];
  writeFileSync(path.join(ws, "environments", file), stringify(env));
}
const verify = (env: string) => runAction("verify-health", { environment: env, hosts: "", "dry-run": "false", checks: "" }, { cwd: ws, env: { GITHUB_RUN_ID: "61" } });

beforeAll(async () => {
  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-lab-jump-"));
  mkdirSync(path.join(ws, "environments"));
  environment("direct.yml", false);
  environment("private.yml", true);
  const s = lab();
  await sshOnlyFrom(host(s, "nas-1"), host(s, "droplet-1").address);
});
afterAll(async () => {
  const s = lab();
  await sshOnlyFrom(host(s, "nas-1"), host(s, "droplet-1").address, false);
});

describe("a NAS only a droplet can reach (jump host)", () => {
  it("from the runner directly it is unreachable: the check fails naming the host", () => {
    const r = verify("direct");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`cannot connect to host nas-1 (deploy@${host(lab(), "nas-1").address}:${host(lab(), "nas-1").port}): Timed out while waiting for handshake`);
  });

  it("through droplet-1 the health checks run on the NAS", () => {
    const r = verify("private");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs.healthy).toBe("true");
  });

  it("through droplet-1 a backup streams from the NAS's container to the runner and is verified", () => {
    const r = runAction("backup-db", { environment: "private", hosts: "", "dry-run": "false", database: "nas-app", "runner-dir": "backups", to: "", verify: "restore" }, { cwd: ws, env: { GITHUB_RUN_ID: "62" } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs.verified).toBe("true");
    const file = path.resolve(ws, r.outputs.path!);
    expect(file.startsWith(path.join(ws, "backups"))).toBe(true);
    expect(createHash("sha256").update(readFileSync(file)).digest("hex")).toBe(r.outputs.sha256);
  });
});
