// The pieces of the one-exec deploy against a REAL OpenSSH sshd on 127.0.0.1: a payload streamed
// behind the script, the host-side check of the upload, the ledger line the host completes (JSON
// escaping done by bash), and the deploy lock waited for on the host.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sh } from "../../src/commands/quote.js";
import { appendHostLedgerScript } from "../../src/ledger/ledger.js";
import { LOCK_HELD_EXIT, lockStatusScript, prepareAndLockScript, receiveReleaseScript, releasePaths, uploadPath } from "../../src/commands/release.js";
import { packRelease } from "../../src/operations/artifact.js";
import { lockHolder } from "../../src/operations/deploy.js";
import { Remote } from "../../src/remote/connection.js";
import { memoryLog } from "../../src/report/log.js";
import { hostileStrings } from "../harness/hostile.js";
import { startSshd, type Sshd } from "../harness/sshd.js";

let sshd: Sshd;
let remote: Remote;
let work: string;
beforeAll(async () => {
  sshd = await startSshd();
  remote = await Remote.connect(sshd.target(), memoryLog());
  work = mkdtempSync(path.join(os.tmpdir(), "slipway-release-scripts-"));
});
afterAll(async () => {
  await remote?.close();
  sshd?.stop();
  rmSync(work, { recursive: true, force: true });
});

const owner = (run: string) => ({ run, actor: "alice", sha: "abc1234", host: "h", since: "2026-12-01T10:00:00Z", expires: "2999-01-01T00:00:00Z" });

function tree(name: string, files: Record<string, string | Buffer>) {
  const dir = path.join(work, name);
  for (const [f, c] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), c);
  }
  return dir;
}

describe("a payload streamed behind the script", () => {
  it("reaches fd 3 byte for byte while the script's own commands read /dev/null", async () => {
    const file = path.join(work, "payload.bin");
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(file, bytes);
    const r = await remote.run(sh`cat > /dev/null; head -c 5 <&3 | od -An -tx1 | tr -d ' \\n'; echo; cat <&3 | sha256sum | cut -d' ' -f1`, { step: "payload", payload: { path: file } });
    const [first, restSum] = r.stdout.trim().split("\n");
    expect(first).toBe(bytes.subarray(0, 5).toString("hex"));
    expect(restSum).toBe(createHash("sha256").update(bytes.subarray(5)).digest("hex"));
  });

  it("a script that stops without reading it fails with its own exit code, not a stream error", async () => {
    const file = path.join(work, "big.bin");
    writeFileSync(file, randomBytes(8 * 1024 * 1024));
    const r = await remote.run(sh`exit ${LOCK_HELD_EXIT}`, { step: "early exit", payload: { path: file }, check: false });
    expect(r.code).toBe(LOCK_HELD_EXIT);
    // the connection still works
    expect((await remote.run(sh`echo alive`, { step: "after" })).stdout.trim()).toBe("alive");
  });
});

describe("receiveReleaseScript", () => {
  const base = () => path.join(work, `host-${Math.random().toString(36).slice(2)}`);
  const prepare = (p: ReturnType<typeof releasePaths>) => remote.run(sh`mkdir -p ${p.releases} ${p.meta}`, { step: "mkdir" });

  it("unpacks a directory release whose digest matches; the upload file is gone", async () => {
    const a = await packRelease(tree("rel-ok", { "app.py": "print('ok')\n", "lib/x.txt": "x" }));
    const p = releasePaths(base(), "r1");
    await prepare(p);
    await remote.run(receiveReleaseScript(p, a), { step: "receive", payload: a });
    expect(readFileSync(path.join(p.release, "app.py"), "utf8")).toBe("print('ok')\n");
    expect(readFileSync(path.join(p.release, "lib/x.txt"), "utf8")).toBe("x");
    expect((await remote.run(sh`ls -A ${p.meta}`, { step: "ls" })).stdout.trim()).toBe("");
    a.dispose();
  });

  it("unpacks a .tar.gz release as it is", async () => {
    const src = tree("rel-gz-src", { "run.sh": "echo hi\n" });
    const gz = path.join(work, "release.tar.gz");
    execFileSync("tar", ["-czf", gz, "-C", src, "."]);
    const a = await packRelease(gz);
    expect(a.gzip).toBe(true);
    const p = releasePaths(base(), "r2");
    await prepare(p);
    await remote.run(receiveReleaseScript(p, a), { step: "receive", payload: a });
    expect(readFileSync(path.join(p.release, "run.sh"), "utf8")).toBe("echo hi\n");
  });

  it("refuses a stream whose SHA-256 is not the runner's: nothing unpacked, nothing left", async () => {
    const a = await packRelease(tree("rel-bad", { "app.py": "print('bad')\n" }));
    const p = releasePaths(base(), "r3");
    await prepare(p);
    const r = await remote.run(receiveReleaseScript(p, { ...a, sha256: "0".repeat(64) }), { step: "receive", payload: a, check: false });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`upload of release ${p.release} corrupted: its SHA-256 is not the runner's ${"0".repeat(64)}`);
    const left = await remote.run(sh`ls -A ${p.releases} ${p.meta}`, { step: "ls" });
    expect(left.stdout.split("\n").filter((l) => l && !l.endsWith(":"))).toEqual([]);
    a.dispose();
  });

  it("refuses a stream shorter than announced (a cut connection) and removes a dead deploy's leftover upload", async () => {
    const a = await packRelease(tree("rel-short", { "app.py": "print('short')\n" }));
    const p = releasePaths(base(), "r4");
    await prepare(p);
    const stale = uploadPath(releasePaths(p.deployTo, "dead"));
    await remote.run(sh`echo partial > ${stale}`, { step: "stale" });
    const r = await remote.run(receiveReleaseScript(p, { ...a, size: a.size + 1000 }), { step: "receive", payload: a, check: false });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`incomplete: the runner sent ${a.size + 1000} bytes, fewer arrived`);
    expect((await remote.run(sh`ls -A ${p.meta}; ls -A ${p.releases}`, { step: "ls" })).stdout.trim()).toBe("");
    a.dispose();
  });
});

describe("appendHostLedgerScript", () => {
  it("completes the runner's JSON with the host's variables, escaped by bash: hostile strings round-trip", async () => {
    const p = releasePaths(path.join(work, "ledger"), "x");
    await remote.run(sh`mkdir -p ${p.meta}`, { step: "mkdir" });
    const cron = [...hostileStrings(40, 7).map((s) => s.replace(/[\n\0]/g, "")), "*/5 * * * * python3 c.py \"$HOME\" \\ \t ü\x01\x7f"];
    const entry = { time: "2026-12-01T10:00:00.000Z", actor: "o'brien \"the\" $admin", outcome: "success" };
    const script = appendHostLedgerScript(p.ledger, entry, { previous: { string: "prev" }, unitChanged: { bool: "chg" }, cronRemoved: { strings: "cr" }, absent: { string: "never_set" }, none: { strings: "empty" } });
    const setup = sh`prev=${'20261201T1-abc"\\'}; chg=1; empty=(); cr=(${cron})`;
    await remote.run(sh`${setup}\n${script}\nchg=0; cr=()\n${script}`, { step: "ledger" });
    const lines = readFileSync(p.ledger, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ v: 1, ...entry, previous: '20261201T1-abc"\\', unitChanged: true, cronRemoved: cron });
    expect(lines[1]).toEqual({ v: 1, ...entry, previous: '20261201T1-abc"\\', unitChanged: false });
  });

  it("refuses a field that is not a script variable name", () => {
    expect(() => appendHostLedgerScript("/x/ledger.jsonl", {}, { bad: { string: "a; rm -rf /" } })).toThrow(/not a script variable name/);
  });
});

describe("the deploy lock, waited for on the host", () => {
  const p = () => releasePaths(path.join(work, "locked"), "r1");
  const take = (run: string, waitSec: number) => remote.run(sh`${prepareAndLockScript(p(), { sudo: false, owner: owner(run), waitSec })}\necho taken`, { step: "lock", check: false });

  it("a held lock is waited for in one exec and taken when its holder lets go", async () => {
    const first = await take("run A", 0);
    expect(first.code).toBe(0);
    // the holder lets go after ~1.5 s; the second waits up to 10 s on the host
    const execsBefore = remote.execCount;
    const release = remote.run(sh`sleep 1.5; rm -rf ${p().lock}`, { step: "holder" });
    const second = await take("run B", 10);
    await release;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain("taken");
    expect(remote.execCount - execsBefore).toBe(2); // the holder's and ONE for the waiting lock
    expect(readFileSync(path.join(p().lock, "owner.json"), "utf8")).toContain('"run":"run B"');
  });

  it("a lock still held after the wait exits 75 naming its owner", async () => {
    const t = Date.now();
    const r = await take("run C", 2);
    expect(r.code).toBe(LOCK_HELD_EXIT);
    expect(Date.now() - t).toBeGreaterThanOrEqual(1500);
    expect(r.stdout).toMatch(/slipway:lock-held \{"run":"run B"/);
  });

  it("an expired lock is taken over and said so", async () => {
    writeFileSync(path.join(p().lock, "owner.json"), JSON.stringify({ ...owner("run old"), expires: "2020-01-01T00:00:00Z" }) + "\n");
    const r = await take("run D", 0);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/slipway:lock-expired \{"run":"run old"/);
    expect(readFileSync(path.join(p().lock, "owner.json"), "utf8")).toContain('"run":"run D"');
    expect((await remote.run(sh`ls -A ${path.dirname(p().lock)}`, { step: "ls" })).stdout.trim().split("\n")).toEqual(["lock"]);
  });

  it("records its holder: the ssh connection's session process and the boot id", async () => {
    const rec = JSON.parse(readFileSync(path.join(p().lock, "owner.json"), "utf8")) as { pid: number; start: number; boot: string };
    expect(rec.boot).toBe(readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
    expect(readFileSync(`/proc/${rec.pid}/comm`, "utf8").trim()).toMatch(/^sshd(-session)?$/);
    expect(readFileSync(`/proc/${rec.pid}/stat`, "utf8").replace(/.*\) /, "").split(" ")[19]).toBe(String(rec.start));
  });

  it("a lock whose holder is gone (its connection closed: the runner was killed) is taken over at once, naming it", async () => {
    const lost = await Remote.connect(sshd.target(), memoryLog());
    const held = await lost.run(sh`${prepareAndLockScript(releasePaths(path.join(work, "gone"), "r1"), { sudo: false, owner: owner("run lost"), waitSec: 0 })}`, { step: "lock" });
    expect(held.code).toBe(0);
    const q = releasePaths(path.join(work, "gone"), "r2");
    const refused = await remote.run(sh`${prepareAndLockScript(q, { sudo: false, owner: owner("run next"), waitSec: 0 })}`, { step: "lock", check: false });
    expect(refused.code).toBe(LOCK_HELD_EXIT); // alive: held
    await lost.close();
    // the session process ends with the connection (sshd notices the close at once)
    const rec = JSON.parse(readFileSync(path.join(q.lock, "owner.json"), "utf8")) as { pid: number };
    for (let i = 0; i < 50 && existsSync(`/proc/${rec.pid}`); i++) await new Promise((r) => setTimeout(r, 100));
    const taken = await remote.run(sh`${prepareAndLockScript(q, { sudo: false, owner: owner("run next"), waitSec: 0 })}`, { step: "lock", check: false });
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.stdout).toMatch(new RegExp(`^slipway:lock-dead its ssh session \\(pid ${rec.pid}\\) and script are gone: \\{"run":"run lost"`, "m"));
    expect(readFileSync(path.join(q.lock, "owner.json"), "utf8")).toContain('"run":"run next"');
  });

  it("a lock recorded before the host rebooted (another boot id) is taken over", async () => {
    const q = releasePaths(path.join(work, "rebooted"), "r1");
    mkdirSync(q.lock, { recursive: true });
    writeFileSync(path.join(q.lock, "owner.json"), JSON.stringify({ ...owner("run before reboot"), pid: 1, start: 1, boot: "00000000-0000-0000-0000-000000000000" }) + "\n");
    const r = await remote.run(sh`${prepareAndLockScript(q, { sudo: false, owner: owner("run after"), waitSec: 0 })}`, { step: "lock", check: false });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('slipway:lock-dead the host rebooted since: {"run":"run before reboot"');
  });

  it("an unreadable owner record (a crash cut it) counts as held, never free, until the lock is older than the expiry", async () => {
    const q = releasePaths(path.join(work, "cut"), "r1");
    mkdirSync(q.lock, { recursive: true });
    writeFileSync(path.join(q.lock, "owner.json"), "");
    const status = await remote.run(lockStatusScript(q), { step: "status" });
    expect(lockHolder(status.stdout)).toMatch(/^held, owner unreadable \(held since \d{4}-\d\d-\d\dT/);
    const refused = await remote.run(sh`${prepareAndLockScript(q, { sudo: false, owner: { ...owner("run next"), since: "2026-12-01T10:00:00Z", expires: "2026-12-01T10:30:00Z" }, waitSec: 0 })}`, { step: "lock", check: false });
    expect(refused.code).toBe(LOCK_HELD_EXIT);
    expect(refused.stdout).toMatch(/^slipway:lock-held $/m);
    // 31 minutes old: past a 30-minute expiry
    execFileSync("touch", ["-d", "31 minutes ago", q.lock]);
    const taken = await remote.run(sh`${prepareAndLockScript(q, { sudo: false, owner: { ...owner("run next"), since: "2026-12-01T10:00:00Z", expires: "2026-12-01T10:30:00Z" }, waitSec: 0 })}`, { step: "lock", check: false });
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.stdout).toMatch(/^slipway:lock-expired \(owner unreadable, locked since /m);
    expect(lockHolder((await remote.run(lockStatusScript(q), { step: "status" })).stdout)).toContain('"run":"run next"');
    expect(lockHolder("")).toBeUndefined(); // no lock directory: free
  });

  it("an owner record that cannot be written (a full disk) leaves no lock behind, and says so", async () => {
    const q = releasePaths(path.join(work, "full"), "r1");
    // the file size limit stands in for the full disk: the record's write fails part way
    const r = await remote.run(sh`ulimit -f 0\n${prepareAndLockScript(q, { sudo: false, owner: owner("run full"), waitSec: 0 })}`, { step: "lock", check: false });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot record the deploy lock's owner in ${q.lock}: `);
    expect(r.stderr).toContain("the lock was removed again");
    expect(existsSync(q.lock)).toBe(false);
    expect((await remote.run(sh`${prepareAndLockScript(q, { sudo: false, owner: owner("run again"), waitSec: 0 })}`, { step: "lock", check: false })).code).toBe(0);
  });
});
