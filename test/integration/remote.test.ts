// The remote layer against a REAL OpenSSH sshd on 127.0.0.1.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quote, sh } from "../../src/commands/quote.js";
import { Remote, RemoteCommandError } from "../../src/remote/connection.js";
import { HostKeyError } from "../../src/remote/hostkey.js";
import { RemotePool } from "../../src/remote/pool.js";
import { memoryLog } from "../../src/report/log.js";
import { hostileStrings } from "../harness/hostile.js";
import { startPostgres, type Postgres } from "../harness/postgres.js";
import { startSshd, TEST_USER, type Sshd } from "../harness/sshd.js";

let sshd: Sshd;
let pg: Postgres;
let work: string;
beforeAll(async () => {
  [sshd, pg] = await Promise.all([startSshd(), startPostgres()]);
  work = mkdtempSync(path.join(os.tmpdir(), "slipway-remote-"));
});
afterAll(() => {
  sshd?.stop();
  pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("host key pinning", () => {
  it("connects when the presented key matches the pinned SHA256 fingerprint", async () => {
    const r = await Remote.connect(sshd.target(), memoryLog());
    const res = await r.run(sh`id -un`, { step: "whoami" });
    expect(res.stdout.trim()).toBe("root");
    await r.close();
  });

  it("connects with a pinned known_hosts line, as a non-root user", async () => {
    const r = await Remote.connect(sshd.target(TEST_USER, { pins: { fingerprints: [], knownHosts: [sshd.knownHostsLine] } }), memoryLog());
    expect((await r.run(sh`id -un`, { step: "whoami" })).stdout.trim()).toBe(TEST_USER);
    await r.close();
  });

  it("refuses a mismatched key and shows the presented fingerprint and how to pin it", async () => {
    const wrong = "SHA256:" + createHash("sha256").update("another host").digest("base64").replace(/=+$/, "");
    const err = await Remote.connect(sshd.target("root", { pins: { fingerprints: [wrong], knownHosts: [] } }), memoryLog()).catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.message).toContain("HOST KEY MISMATCH");
    expect(err.message).toContain(sshd.hostKeyFingerprint);
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(`host-key: "${sshd.hostKeyFingerprint}"`);
  });

  it("refuses a host with no pinned key", async () => {
    const err = await Remote.connect(sshd.target("root", { pins: { fingerprints: [], knownHosts: [] } }), memoryLog()).catch((e) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    expect(err.message).toMatch(/has no pinned host key; it presented ssh-ed25519 SHA256:/);
    expect(err.message).toContain(sshd.hostKeyFingerprint);
  });

  it("reaches a host through a jump host, pinned at both hops", async () => {
    const jump = sshd.target("root", { name: "bastion" });
    const pool = new RemotePool((h) => (h === "bastion" ? jump : { ...sshd.target(TEST_USER, { name: "inner" }), jump }), memoryLog());
    const inner = await pool.get("inner");
    expect((await inner.run(sh`id -un`, { step: "whoami" })).stdout.trim()).toBe(TEST_USER);
    expect(inner.describe()).toContain("via bastion");
    expect(await pool.get("inner")).toBe(inner); // pooled: one connection per host per run
    await pool.closeAll();
  });

  it("names the host and address when nothing listens", async () => {
    const err = await Remote.connect(sshd.target("root", { port: 1, connectTimeoutMs: 2000 }), memoryLog()).catch((e) => e);
    expect(err.message).toMatch(/cannot connect to host loopback \(root@127\.0\.0\.1:1\)/);
  });

  it("through the pool (TCP opened before ssh2 loads): a refused port fails at once with its reason, not at the timeout", async () => {
    const pool = new RemotePool(() => sshd.target("root", { port: 1, connectTimeoutMs: 20_000 }), memoryLog());
    const t = Date.now();
    const err = await pool.get("loopback").catch((e) => e);
    expect(err.message).toMatch(/cannot connect to host loopback \(root@127\.0\.0\.1:1\): connect ECONNREFUSED 127\.0\.0\.1:1/);
    expect(Date.now() - t).toBeLessThan(10_000);
    await pool.closeAll();
  });
});

describe("running scripts", () => {
  let r: Remote;
  const log = memoryLog();
  beforeAll(async () => {
    r = await Remote.connect(sshd.target(), log);
  });
  afterAll(() => r.close());

  it("streams output lines into the log, prefixed with the host", async () => {
    await r.run(sh`echo one; echo two >&2; printf three`, { step: "echo" });
    expect(log.lines).toEqual(expect.arrayContaining(["[loopback] one", "[loopback] two", "[loopback] three"]));
  });

  it("runs under set -euo pipefail: a failing command stops the script", async () => {
    const err = await r.run(sh`echo before; false | cat; echo after`, { step: "pipefail" }).catch((e) => e);
    expect(err).toBeInstanceOf(RemoteCommandError);
    expect(err.tail).toEqual(["before"]);
    const unset = await r.run(sh`echo "$NOT_SET_ANYWHERE"`, { step: "nounset", check: false });
    expect(unset.code).not.toBe(0);
  });

  it("a failing script fails with its exit code, host, step and the tail of its output", async () => {
    const err = await r.run(sh`for i in $(seq 1 50); do echo "line $i"; done; echo oops >&2; exit 3`, { step: "install unit" }).catch((e) => e);
    expect(err).toBeInstanceOf(RemoteCommandError);
    expect(err.code).toBe(3);
    expect(err.host).toBe("loopback");
    expect(err.message).toContain('[loopback] step "install unit" failed with exit code 3');
    expect(err.tail.at(-1)).toBe("oops");
    expect(err.tail).toContain("line 50");
    expect(err.tail).not.toContain("line 1"); // only the last lines
  });

  it("a hung command hits its timeout and is stopped on the host", async () => {
    const marker = `slipway-hang-${randomBytes(4).toString("hex")}`;
    const started = Date.now();
    const err = await r.run(sh`exec -a ${marker} sleep 300`, { step: "hang", timeoutMs: 2000 }).catch((e) => e);
    expect(err).toBeInstanceOf(RemoteCommandError);
    expect(err.message).toMatch(/timed out after 2s/);
    expect(Date.now() - started).toBeLessThan(15_000);
    const ps = execFileSync("ps", ["-eo", "args"]).toString();
    expect(ps).not.toContain(marker);
  });

  it("commands in a script cannot swallow the rest of the script from stdin", async () => {
    const res = await r.run(sh`cat; echo still-here`, { step: "stdin" });
    expect(res.stdout).toBe("still-here\n");
  });

  it("keeps a secret out of argv: the script travels on stdin", async () => {
    const secret = `s3cr3t-${randomBytes(8).toString("hex")}`;
    const res = await r.run(sh`TOKEN=${secret}; ps -eo args; test -n "$TOKEN"`, { step: "secret", quiet: true });
    expect(res.stdout).toContain("pipefail -s"); // the script's own process is listed
    expect(res.stdout).not.toContain(secret);
  });

  it("talks to a real PostgreSQL from the host", async () => {
    const res = await r.run(sh`psql -X -At -h 127.0.0.1 -p ${pg.port} -U postgres -c ${"select 40 + 2"}`, { step: "psql" });
    expect(res.stdout.trim()).toBe("42");
  });
});

describe("quoting through a real bash", () => {
  it("1,000 hostile strings come back byte for byte", async () => {
    const r = await Remote.connect(sshd.target(), memoryLog());
    const values = hostileStrings(1000, 20251123);
    expect(new Set(values).size).toBeGreaterThan(800);
    // one printf per value, NUL-separated output: proves each quoted word expands to itself
    const body = sh`${values.map((v) => sh`printf '%s\\0' ${v}`).reduce((a, b) => sh`${a}\n${b}`)}`;
    const res = await r.run(body, { step: "quote", quiet: true });
    const back = res.stdout.split("\0").slice(0, -1);
    expect(back.length).toBe(values.length);
    values.forEach((v, i) => expect(back[i], `value #${i} ${JSON.stringify(v)}`).toBe(v));
    await r.close();
  });

  it("refuses NUL with a clear error", () => {
    expect(() => quote("a\0b")).toThrow(/NUL byte/);
  });
});

describe("streaming transfers", () => {
  it("uploads and downloads a 50 MB directory with matching checksums", async () => {
    const r = await Remote.connect(sshd.target(), memoryLog());
    const src = path.join(work, "src");
    mkdirSync(path.join(src, "nested/deeper"), { recursive: true });
    const files: Record<string, number> = { "a.bin": 20 << 20, "nested/b.bin": 15 << 20, "nested/deeper/c.bin": 15 << 20, "space name.txt": 10 };
    for (const [name, size] of Object.entries(files)) writeFileSync(path.join(src, name), randomBytes(size));
    const remoteDir = path.join(work, "remote dir");
    await r.uploadDir(src, remoteDir);
    const back = path.join(work, "back");
    await r.downloadDir(remoteDir, back);
    for (const name of Object.keys(files)) {
      expect(sha(path.join(back, name)), name).toBe(sha(path.join(src, name)));
      expect(statSync(path.join(back, name)).size).toBe(files[name]);
    }
    const remoteSums = (await r.run(sh`cd ${remoteDir} && find . -type f | sort | xargs -d '\n' sha256sum`, { step: "sums", quiet: true })).stdout;
    expect(remoteSums).toContain(sha(path.join(src, "a.bin")));
    await r.close();
  });

  it("uploads and downloads a single file as a stream, with size check and mode", async () => {
    const r = await Remote.connect(sshd.target(), memoryLog());
    const f = path.join(work, "one.bin");
    writeFileSync(f, randomBytes(3 << 20));
    const dest = path.join(work, "up", "one.bin");
    const up = await r.uploadFile(f, dest, { mode: "0600" });
    expect(up.sha256).toBe(sha(f));
    expect((statSync(dest).mode & 0o777).toString(8)).toBe("600");
    expect(readdirSync(path.dirname(dest))).toEqual(["one.bin"]); // no temp file left
    const down = await r.downloadFile(dest, path.join(work, "down", "one.bin"));
    expect(down.sha256).toBe(sha(f));
    const missing = await r.downloadFile("/nonexistent/file", path.join(work, "down", "x")).catch((e) => e);
    expect(missing).toBeInstanceOf(RemoteCommandError);
    expect(readdirSync(path.join(work, "down"))).toEqual(["one.bin"]); // no partial file
    await r.close();
  });
});

function sha(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}
