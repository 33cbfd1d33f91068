// Seed 002 end to end: the IBKR trading system as a hardened systemd service (examples/ibkr-trading,
// examples/ibkr-trading/environments/production.yml) on the lab's droplet-2, deployed, changed, broken and
// rolled back by the actions alone, run in deploy.yml's order as the runner runs them. The runbook's
// own criteria are asserted on the host: the unit's hardening, limits and restart backoff as
// systemd loaded them (and as the running process sees them), the health check script shipped in
// the release, and the panic flag: an operator creates it -> the app stops trading, flattens and
// exits without a restart loop, verify-health fails naming the flag; removing it and re-running the
// deploy job brings trading back.
// No database: the "new migration" of the second deploy is a state migration of the book kept in
// shared/state (ibkr/migrations.py), applied by the new release when it starts.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Scenario, errors, why, whyRun } from "../harness/scenario.js";
import { lab, on } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("droplet-2");

const HOST = "droplet-2";
const DIR = "/srv/ibkr";
const UNIT = "ibkr-trading.service";
const FLAG = `${DIR}/shared/state/panic.flag`;
const PANIC_EXIT = "78";

let sc: Scenario;
let since = ""; // the journal of this run only (the host keeps earlier runs' lines)
const releases: Record<string, string> = {};
const root = async (cmd: string) => (await on(HOST, "root", cmd)).stdout;
const live = () => root(`basename "$(readlink ${DIR}/current)"`);
const show = async (...props: string[]): Promise<Record<string, string>> =>
  Object.fromEntries((await root(`systemctl show ${props.map((p) => `-p ${p}`).join(" ")} ${UNIT}`)).split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
/** the app's /health, from the host (it listens on 127.0.0.1 only); a 503 carries the body too */
const health = async () => {
  const out = await root("curl -sS -m 3 http://127.0.0.1:8200/health || true");
  return out.startsWith("{") ? JSON.parse(out) : { down: out };
};
const book = async () => JSON.parse(await root(`cat ${DIR}/shared/state/book.json`));
const ledger = async () => (await root(`cat ${DIR}/_slipway/ledger.jsonl`)).split("\n").map((l) => JSON.parse(l));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(v)} after ${timeoutMs} ms`);
    await sleep(500);
  }
}
/** trading, i.e. decisions being made by the version expected */
const trading = (version: string) => until(`${version} trading`, health, (h) => h.version === version && h.trading === true && h.decisions > 2);

// the commits pushed in this story: code changes of the workspace's copy of examples/ibkr-trading
let v100 = { main: "", migrations: "" };
const commit = (version: string, o: { migration2?: boolean; gateway?: string; brokenMigration3?: boolean } = {}) => {
  let main = v100.main.replace('VERSION = "1.0.0"', `VERSION = "${version}"`);
  if (o.gateway) main = main.replace('os.environ.get("IBKR_GATEWAY", "simulated")', JSON.stringify(o.gateway));
  sc.write("app/ibkr/main.py", main);
  sc.write(
    "app/ibkr/migrations.py",
    o.migration2
      ? v100.migrations.replace(
          "MIGRATIONS = [\n    (1, m001_book),\n]",
          `def m002_currency(book):
    """each instrument's currency (the book was USD only)"""
    book.setdefault("currency", {s: "USD" for s in book["positions"]})


def m003_fx(book):
    """EUR cash (a bug: the book has no fx table yet)"""
    book["fx"]["EURUSD"] = 1.08


MIGRATIONS = [
    (1, m001_book),
    (2, m002_currency),${o.brokenMigration3 ? "\n    (3, m003_fx)," : ""}
]`,
        )
      : v100.migrations,
  );
};

const cleanup = () =>
  root(`systemctl disable --now ${UNIT} 2>/dev/null; rm -f /etc/systemd/system/${UNIT} /etc/logrotate.d/slipway-ibkr-trading; systemctl daemon-reload; systemctl reset-failed ${UNIT} 2>/dev/null; rm -rf ${DIR}; if id trader >/dev/null 2>&1; then userdel -r trader 2>/dev/null; fi; true`);

beforeAll(async () => {
  await cleanup();
  since = await root("date +%s");
  // the host as provisioned (the runbook's "Step 1: System Preparation", done once by hand): the
  // trader user, without the runbook's sudo group (NoNewPrivileges= makes it useless anyway)
  await root("useradd --system --create-home --home-dir /home/trader --shell /bin/bash trader");
  sc = new Scenario(lab(), "ibkr-trading", "production", { "trader-1": HOST });
  v100 = { main: sc.read("app/ibkr/main.py"), migrations: sc.read("app/ibkr/migrations.py") };
  expect(v100.main).toContain('VERSION = "1.0.0"');
}, 60_000);
afterAll(async () => {
  await cleanup();
  await sc?.close();
}, 60_000);

describe("seed 002: ibkr-trading, a hardened systemd service with a panic flag", () => {
  it("first deploy: the hardened unit with limits and restart backoff, trading as trader inside its sandbox", async () => {
    const job = await sc.deploy("c0de0020001");
    expect(job.ok, whyRun(job)).toBe(true);
    releases.r1 = job.releaseId!;
    // no database: backup-db and apply-migrations have nothing to do
    expect(job.steps["backup-db"]!.code).toBe(0);
    expect(job.steps["apply-migrations"]!.code).toBe(0);
    expect(await live()).toBe(releases.r1);
    // the runbook's unit as systemd loaded it ("Security", "Resource Limits", "Restart Policy")
    const u = await show("User", "Group", "NoNewPrivileges", "PrivateTmp", "ProtectSystem", "ProtectHome", "ReadWritePaths", "MemoryMax", "CPUQuotaPerSecUSec", "LimitNOFILE", "TasksMax", "Restart", "RestartUSec", "StartLimitBurst", "StartLimitIntervalUSec", "RestartPreventExitStatus", "SuccessExitStatus", "UnitFileState", "ActiveState", "After");
    expect(u).toMatchObject({
      User: "trader", Group: "trader", NoNewPrivileges: "yes", PrivateTmp: "yes", ProtectSystem: "strict", ProtectHome: "yes", ReadWritePaths: `${DIR}/shared`,
      MemoryMax: String(8 * 1024 ** 3), CPUQuotaPerSecUSec: "4s", LimitNOFILE: "65536", TasksMax: "4096",
      Restart: "always", RestartUSec: "10s", StartLimitBurst: "3", StartLimitIntervalUSec: "1min", RestartPreventExitStatus: PANIC_EXIT, SuccessExitStatus: PANIC_EXIT,
      UnitFileState: "enabled", ActiveState: "active",
    });
    expect(u.After).toContain("time-sync.target");
    // ... and as the running process sees it
    const pid = (await show("MainPID")).MainPID;
    expect(await root(`ps -o user= -p ${pid}; grep NoNewPrivs /proc/${pid}/status`)).toBe("trader\nNoNewPrivs:\t1");
    // LimitNOFILE as applied: systemd sets the closest it may, and in the lab's container PID 1
    // itself is capped (at 20000): min(65536, PID 1's hard limit)
    const [nofile, pid1Hard] = (await root(`awk '/Max open files/ {print $5}' /proc/${pid}/limits /proc/1/limits`)).split("\n").map(Number);
    expect(nofile).toBe(Math.min(65536, pid1Hard!));
    const h = await trading("1.0.0");
    expect(h.sandbox).toMatchObject({ run_lock: "Read-only file system", state_dir: "writable", no_new_privs: true }); // ProtectSystem=strict; ReadWritePaths
    expect(h.sandbox.home).not.toMatch(/[1-9]\d* entries/); // ProtectHome: /home/trader is there on the host, not for the service
    expect(await root(`ls /home | grep -x trader; test -e ${h.sandbox.tmp_marker} && echo shared-tmp || echo private-tmp`)).toBe("trader\nprivate-tmp");
    expect(h.decision_latency_p99_ms).toBeLessThan(350); // "Decision Latency: <350ms (p99)"
    // the state directories survive releases: shared, owned by trader; the book is the trader's
    expect(await root(`stat -c '%U %n' ${DIR}/shared/logs ${DIR}/shared/state ${DIR}/shared/config ${DIR}/shared/state/book.json; readlink ${DIR}/current/state`)).toBe(
      `trader ${DIR}/shared/logs\ntrader ${DIR}/shared/state\ntrader ${DIR}/shared/config\ntrader ${DIR}/shared/state/book.json\n${DIR}/shared/state`,
    );
    expect((await book()).migrations).toEqual([1]);
    // the release carries the runbook's health check script; verify-health ran it and the others
    expect(await on(HOST, "deploy", `${DIR}/current/scripts/health_check.sh`).then((r) => r.stdout)).toMatch(/^OK: service is healthy: version 1\.0\.0/);
    const verify = job.steps["verify-health"]!;
    expect(verify.outputs.healthy).toBe("true");
    for (const check of ["trader running", "trader health", "no panic flag", "trader memory"]) expect(verify.summary).toContain(check);
    expect(await root("cat /etc/logrotate.d/slipway-ibkr-trading")).toContain(`${DIR}/shared/logs/*.log {`);
  }, 180_000);

  it("second deploy: a code change and a state migration (the book gets currencies); the book survives the release", async () => {
    const before = await book();
    commit("1.1.0", { migration2: true });
    const job = await sc.deploy("c0de0020002");
    expect(job.ok, whyRun(job)).toBe(true);
    releases.r2 = job.releaseId!;
    expect(await live()).toBe(releases.r2);
    await trading("1.1.0");
    const b = await book();
    expect(b.migrations).toEqual([1, 2]);
    expect(b.currency).toEqual({ IWM: "USD", QQQ: "USD", SPY: "USD" });
    expect(Object.keys(b.positions).sort()).toEqual(Object.keys(before.positions).sort());
    expect(await root(`journalctl -u ${UNIT} --since @${since} -o cat --no-pager | grep -c 'ibkr 1.1.0 starting .* state migrations applied now=\\[2\\]'`)).toBe("1");
    // the previous release stays on disk for a rollback; the log kept both versions' lines
    expect(await root(`ls ${DIR}/releases`)).toContain(releases.r1);
    expect(await root(`grep -c 'ibkr 1.0.0 starting' ${DIR}/shared/logs/trading.log; grep -c 'ibkr 1.1.0 starting' ${DIR}/shared/logs/trading.log`)).toBe("1\n1");
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "success", release: releases.r2, previous: releases.r1, sha: sc.sha("c0de0020002") });
  }, 180_000);

  it("a broken release (cannot reach its gateway: the unit stays up, the health script fails) is rolled back automatically", async () => {
    commit("1.2.0", { migration2: true, gateway: "127.0.0.1:4001" }); // the live gateway's port, hard-coded by mistake
    const job = await sc.deploy("c0de0020003");
    expect(job.ok).toBe(false);
    releases.r3 = job.steps.deploy!.outputs["release-id"]!;
    expect(job.steps.deploy!.code, why(job.steps.deploy)).toBe(0); // systemd alone cannot tell: it stays up
    const verify = job.steps["verify-health"]!;
    expect(verify.code).toBe(1);
    expect(errors(verify)).toContain("trader health");
    expect(verify.stdout + verify.summary).toMatch(/FAIL: version 1\.2\.0: broker disconnected: .*refused/);
    expect(job.steps.rollback?.code, why(job.steps.rollback)).toBe(0);
    expect(job.releaseId).toBe(releases.r2);
    expect(await live()).toBe(releases.r2);
    await trading("1.1.0");
    expect((await show("ActiveState")).ActiveState).toBe("active");
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "rollback", release: releases.r2, abandoned: releases.r3, bad: true });
  }, 180_000);

  it("a release that crashes at start (a broken state migration) fails the stability window; the previous release is restored, the book untouched", async () => {
    commit("1.3.0", { migration2: true, brokenMigration3: true });
    const job = await sc.deploy("c0de0020004");
    expect(job.ok).toBe(false);
    const d = job.steps.deploy!;
    expect(d.code).toBe(1);
    expect(d.stdout).toContain("did not stay up");
    expect(d.stdout).toContain("KeyError: 'fx'"); // the journal of the crash, in the step's output
    expect(d.stdout).toContain(`release ${releases.r2} was restored and is running again`);
    expect(job.steps["verify-health"]).toBeUndefined();
    expect(job.steps.rollback).toBeUndefined(); // the deploy put the previous release back itself
    expect(await live()).toBe(releases.r2);
    await trading("1.1.0");
    expect((await book()).migrations).toEqual([1, 2]);
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "failed", restored: true, previous: releases.r2 });
  }, 180_000);

  it("a dispatch rollback to a named release: 1.0.0 trades again on the migrated book", async () => {
    const r = await sc.rollback(releases.r1!);
    expect(r.code, why(r)).toBe(0);
    expect(r.outputs["release-id"]).toBe(releases.r1);
    expect(await live()).toBe(releases.r1);
    await trading("1.0.0");
    expect((await book()).migrations).toEqual([1, 2]); // state migrations are additive: the older release reads the book
    expect(await root(`systemctl show -p RestartPreventExitStatus --value ${UNIT}`)).toBe(PANIC_EXIT); // its own unit, the same settings
  }, 180_000);

  it("the panic flag: the app stops trading, flattens and exits without a restart; verification fails naming the flag; clearing it and re-running the deploy job brings trading back", async () => {
    await trading("1.0.0");
    const restarts = (await show("NRestarts")).NRestarts;
    // the runbook's "Panic Procedures": the operator creates the flag
    await on(HOST, "root", `runuser -u trader -- touch ${FLAG}`);
    await until("the unit stopped", () => show("ActiveState", "SubState", "Result", "ExecMainStatus"), (s) => s.ActiveState === "inactive", 20_000);
    const stoppedAt = Date.now();
    const verify = await sc.step("verify-health");
    expect(verify.code).toBe(1);
    expect(verify.outputs.healthy).toBe("false");
    expect(errors(verify)).toContain("no panic flag");
    expect(verify.stdout + verify.summary).toContain(FLAG);
    // no restart loop: still down well past RestartSec=10s, ended by the app's panic exit, not failed
    await sleep(Math.max(0, 13_000 - (Date.now() - stoppedAt)));
    expect(await show("ActiveState", "SubState", "Result", "ExecMainStatus", "NRestarts")).toEqual({ ActiveState: "inactive", SubState: "dead", Result: "success", ExecMainStatus: PANIC_EXIT, NRestarts: restarts });
    expect(await root(`journalctl -u ${UNIT} --since @${since} -o cat --no-pager | grep -c 'PANIC: .*panic.flag found while trading: trading stopped, positions flattened'`)).toBe("1");
    const b = await book();
    expect(Object.values(b.positions).every((q) => q === 0), JSON.stringify(b.positions)).toBe(true); // "Flatten all positions"
    expect(b.halted).toMatchObject({ version: "1.0.0", where: "while trading" });
    expect((await health()).down).toBeDefined();
    // a start while the flag is there (a reboot: the unit is still enabled) stops again at once
    expect(await root(`systemctl is-enabled ${UNIT}; systemctl start ${UNIT}`)).toBe("enabled");
    await until("the unit stopped again", () => show("ActiveState", "ExecMainStatus", "MainPID"), (s) => s.ActiveState === "inactive" && s.MainPID === "0", 20_000);
    expect(await show("ActiveState", "Result", "ExecMainStatus", "NRestarts")).toEqual({ ActiveState: "inactive", Result: "success", ExecMainStatus: PANIC_EXIT, NRestarts: restarts });
    expect((await book()).halted.where).toBe("at start");

    // recovery: the operator removes the flag; the deploy job is re-run for the last good commit
    await on(HOST, "root", `rm ${FLAG}`);
    commit("1.1.0", { migration2: true });
    const job = await sc.deploy("c0de0020002");
    expect(job.ok, whyRun(job)).toBe(true);
    releases.r4 = job.releaseId!;
    expect(await live()).toBe(releases.r4);
    await trading("1.1.0");
    expect((await show("ActiveState")).ActiveState).toBe("active");
    expect((await book()).resumed.after).toMatchObject({ where: "at start" });
    expect(job.steps["verify-health"]!.outputs.healthy).toBe("true");
  }, 180_000);
});
