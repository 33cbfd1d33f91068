// Seed 001 end to end (issue #8): the REC.IO trading system, twelve supervisor programs on one lab
// droplet (examples/recio-trading/environments/staging.yml, sample app examples/recio-trading/app), deployed
// by deploy.yml's job steps as the runner runs them (test/harness/scenario.ts): backup-db ->
// apply-migrations (a no-op: trades.db is migrated by the release itself, see the environment
// file) -> deploy-supervisor -> verify-health -> rollback on failure. Then a change with a new
// migration, a release whose web UI breaks (rolled back automatically) and a dispatch rollback to
// the first release. Each step ends with the runbook's own success criteria checked on the host:
// twelve programs RUNNING, REC.IO on :3000, JSON feeds fresh, trades.db with its indexes and its
// history intact, the hardening options in the rendered supervisor file, logrotate working.
import { renameSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Scenario, why, type JobResult, whyRun } from "../harness/scenario.js";
import { lab, on } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("droplet-2");

const HOST = "droplet-2";
const DIR = "/srv/recio";
const DATA = `${DIR}/shared/backend/data`;
const DB = `${DATA}/trade_history/trades.db`;
const BACKUPS = "/var/backups/slipway/recio-trades";
const CONF = "/etc/supervisor/conf.d/recio.conf";
const LOGROTATE = "/etc/logrotate.d/slipway-recio-trading";
const API_KEY = "kalshi-lab-key-7f3a9c21e8";
const LEGACY_ROWS = 250;
const PROGRAMS = [
  "main_app", "unified_production_coordinator", "kalshi_account_sync", "trade_manager", "trade_executor", "active_trade_supervisor",
  "auto_entry_supervisor", "btc_price_watchdog", "symbol_price_watchdog", "kalshi_market_watchdog", "cascading_failure_detector", "system_monitor",
].map((p) => `recio_${p}`);
const SHA = { v1: "a1c0ffee5e7a11d8b3f0c2d4e6a8b0c2d4e6f801", v2: "b2c0ffee5e7a11d8b3f0c2d4e6a8b0c2d4e6f802", v3: "c3c0ffee5e7a11d8b3f0c2d4e6a8b0c2d4e6f803" };

let s: Scenario;
const root = async (cmd: string) => (await on(HOST, "root", cmd)).stdout;
const sql = (q: string, db = DB) => root(`sqlite3 -readonly -batch -noheader ${db} "${q}"`);
const page = () => on(HOST, "deploy", "curl -sS -m 5 -w '\\nHTTP %{http_code}' http://127.0.0.1:3000/ || echo DOWN").then((r) => r.stdout);
const live = () => root(`basename "$(readlink ${DIR}/current)"`);
const ledger = async () => (await root(`cat ${DIR}/_slipway/ledger.jsonl`)).split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
/** supervisorctl status of the group: program -> [state, pid] */
async function status(): Promise<Record<string, { state: string; pid?: string }>> {
  const out = await root("supervisorctl status 'recio:*' || true");
  return Object.fromEntries(out.split("\n").filter(Boolean).map((l) => {
    const [name, state] = l.split(/\s+/);
    return [name!.replace(/^recio:/, ""), { state: state!, pid: /pid (\d+)/.exec(l)?.[1] }];
  }));
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const okJob = (r: JobResult) => expect(r.ok, whyRun(r)).toBe(true);

/** The runbook's "after each change": all twelve RUNNING as recio, REC.IO served, JSON feeds being written. */
async function runbookChecks(version: string) {
  const st = await status();
  expect(Object.keys(st).sort()).toEqual([...PROGRAMS].sort());
  for (const [p, v] of Object.entries(st)) expect(v.state, p).toBe("RUNNING");
  const users = await root(`ps -o user= -p ${Object.values(st).map((v) => v.pid).join(",")} | sort -u`);
  expect(users).toBe("recio");
  const body = await page();
  expect(body).toContain("<h1>REC.IO</h1>");
  expect(body).toContain(`version ${version}`);
  expect(body).toContain("HTTP 200");
  // ls backend/data/*.json: eleven feeds, each valid JSON and rewritten while we watch
  const feeds = async () => (await root(`cd ${DATA} && for f in *.json; do python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" && echo "$f $(date -r "$f" +%s.%N)"; done`)).split("\n");
  const before = await feeds();
  expect(before).toHaveLength(11);
  await sleep(3000);
  const after = await feeds();
  expect(after.map((l) => l.split(" ")[0])).toEqual(before.map((l) => l.split(" ")[0]));
  for (const [i, l] of after.entries()) expect(l, `${l.split(" ")[0]} was not rewritten`).not.toBe(before[i]);
}

// the host as provisioned (done once by hand, not per deploy): the service user (the seed's
// `trader`), /srv/recio for the deploy user, and the running system's data moved to the shared
// path: trades.db with its 250 trades, created by the old code (no indexes, no migration history)
async function provision() {
  await root(`id recio >/dev/null 2>&1 || useradd --system --user-group --no-create-home --shell /usr/sbin/nologin recio
install -d -o deploy -g deploy -m 0755 ${DIR} ${DIR}/shared ${DIR}/shared/backend
install -d -o recio -g recio -m 0755 ${DIR}/shared/logs ${DATA} ${DATA}/trade_history
runuser -u recio -- sqlite3 ${DB} "CREATE TABLE trades (id INTEGER PRIMARY KEY, date TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, qty REAL NOT NULL, price REAL NOT NULL, status TEXT NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${LEGACY_ROWS})
INSERT INTO trades (date, symbol, side, qty, price, status) SELECT '2026-10-' || printf('%02d', 1 + i % 28), 'LEGACY-' || (CASE i % 2 WHEN 0 THEN 'BTC' ELSE 'ETH' END), 'buy', i, 0.5, 'settled' FROM n;"`);
}
const legacy = () => sql("SELECT count(*) || ' ' || sum(qty) FROM trades WHERE symbol LIKE 'LEGACY-%'");
const LEGACY = `${LEGACY_ROWS} ${(LEGACY_ROWS * (LEGACY_ROWS + 1)) / 2}.0`;

// leave the droplet as found: group and its file, logrotate config, releases, data, backups, user
const cleanup = () =>
  root(`supervisorctl stop 'recio:*' >/dev/null 2>&1; rm -f ${CONF}; supervisorctl reread >/dev/null 2>&1; supervisorctl remove recio >/dev/null 2>&1
rm -f ${LOGROTATE} /var/log/supervisor/recio_*; sed -i '\\#/srv/recio/#d' /var/lib/logrotate/status 2>/dev/null
rm -rf ${DIR} ${BACKUPS}; userdel recio >/dev/null 2>&1; groupdel recio >/dev/null 2>&1; true`);

beforeAll(async () => {
  s = new Scenario(lab(), "recio-trading", "staging", { "recio-1": HOST }, { RECIO_KALSHI_API_KEY: API_KEY });
  await cleanup();
  await provision();
});
afterAll(async () => {
  await cleanup();
  await s?.close();
});

describe("seed 001: REC.IO trading system under supervisor", () => {
  let v1 = "";
  let v2 = "";

  it("first deploy: twelve hardened programs as recio, REC.IO on :3000, JSON feeds, trades.db backed up and indexed", async () => {
    const r = await s.deploy(SHA.v1);
    okJob(r);
    v1 = r.releaseId!;
    expect(v1).toContain(s.sha(SHA.v1).slice(0, 7));
    expect(await live()).toBe(v1);
    expect(r.steps["apply-migrations"]!.stdout).toContain("nothing to do");
    await runbookChecks("1.0");

    // supervisor hardening (seed phase 2), in the file supervisor actually reads
    const conf = await root(`stat -c '%a %U' ${CONF} && cat ${CONF}`);
    expect(conf.split("\n")[0]).toBe("600 root");
    expect(conf).toContain(`[group:recio]\nprograms=${PROGRAMS.join(",")}`);
    for (const p of PROGRAMS) {
      const section = conf.split(`[program:${p}]\n`)[1]!.split("\n\n")[0]!;
      for (const line of ["autorestart=true", "startretries=3", "stopasgroup=true", "killasgroup=true", "user=recio", `directory=${DIR}/current`, `stopsignal=${p === "recio_main_app" ? "INT" : "TERM"}`])
        expect(section.split("\n"), `${p}: ${line}`).toContain(line);
      expect(section).toContain(`KALSHI_API_KEY="${API_KEY}"`);
    }
    // the key reaches the runner only in ::add-mask:: (which the runner consumes), never in a log line
    for (const step of Object.values(r.steps)) expect((step!.stdout + step!.stderr).split("\n").filter((l) => !l.startsWith("::add-mask::")).join("\n")).not.toContain(API_KEY);
    expect(await root(`cat ${DATA}/account_balance.json`)).toContain('"api_key_configured": true');

    // trades.db: the old system's trades kept, the release's migrations applied at start, the seed's indexes
    expect(await legacy()).toBe(LEGACY);
    expect(await sql("SELECT group_concat(name, ' ') FROM (SELECT name FROM schema_migrations ORDER BY version)")).toBe("001_trades.sql 002_trades_indexes.sql");
    expect((await sql("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_trades_%' ORDER BY name")).split("\n")).toEqual(["idx_trades_date", "idx_trades_status", "idx_trades_symbol"]);
    expect(await sql("EXPLAIN QUERY PLAN SELECT * FROM trades WHERE symbol = 'BTC'")).toContain("USING INDEX idx_trades_symbol");
    expect(Number(await sql("SELECT count(*) FROM trades WHERE symbol NOT LIKE 'LEGACY-%'"))).toBeGreaterThan(0); // trade_manager records trades

    // backup-db: an online backup of trades.db before the deploy, integrity-checked, with the old trades
    const backupId = r.steps["backup-db"]!.outputs["backup-id"]!;
    expect(backupId).toBeTruthy();
    expect(await root(`sqlite3 ${BACKUPS}/${backupId}.sqlite3 'PRAGMA integrity_check'`)).toBe("ok");
    expect(await sql("SELECT count(*) FROM trades", `${BACKUPS}/${backupId}.sqlite3`)).toBe(String(LEGACY_ROWS));
    expect(JSON.parse(await root(`cat ${BACKUPS}/${backupId}.json`))).toMatchObject({ engine: "sqlite", verified: true, counts: { trades: LEGACY_ROWS } });

    // verify-health ran the runbook's checks on the host
    const report = JSON.parse(r.steps["verify-health"]!.outputs.report!) as { name: string; ok: boolean }[];
    expect(report.map((c) => `${c.name} ${c.ok}`).sort()).toEqual(["JSON production true", "all twelve programs RUNNING true", "trades.db indexes true", "web UI shows REC.IO true"]);
  });

  it("logrotate: the seed's config is installed after logrotate -d, and a forced rotation keeps the programs logging", async () => {
    const cfg = await root(`cat ${LOGROTATE}`);
    expect(cfg).toContain("/srv/recio/shared/logs/*.log {");
    for (const d of ["daily", "rotate 7", "compress", "delaycompress", "missingok", "notifempty", "create 0644 recio recio"]) expect(cfg.split("\n").map((l) => l.trim())).toContain(d);
    expect(await root(`logrotate -d ${LOGROTATE} 2>&1 | grep -ci '^error' || true`)).toBe("0");
    const logs = `${DIR}/shared/logs`;
    expect((await root(`ls ${logs}`)).split("\n")).toContain("trade_manager.log");
    await root(`logrotate -f ${LOGROTATE}`);
    expect(await root(`test -s ${logs}/trade_manager.log.1 && stat -c '%a %U' ${logs}/trade_manager.log`)).toBe("644 recio");
    await sleep(3000); // WatchedFileHandler: the running program reopens the new file on its next line
    expect(Number(await root(`wc -l < ${logs}/trade_manager.log`))).toBeGreaterThan(0);
    expect((await status()).recio_trade_manager!.state).toBe("RUNNING");
  });

  it("second deploy: a code change and a new migration (003) applied by the release; the backup before it has the old schema", async () => {
    s.write("app/VERSION", "2.0\n");
    const code = s.read("app/backend/recio.py");
    const changed = code
      .replace("price, status) VALUES (?, ?, ?, ?, ?, ?)", "price, status, strategy) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .replace('"filled"),', '"filled", "momentum"),');
    expect(changed).not.toBe(code);
    s.write("app/backend/recio.py", changed);
    s.write("app/backend/migrations/trades/003_trades_strategy.sql", "-- which strategy opened a trade\nALTER TABLE trades ADD COLUMN strategy TEXT;\nCREATE INDEX IF NOT EXISTS idx_trades_strategy ON trades(strategy);\n");
    const r = await s.deploy(SHA.v2);
    okJob(r);
    v2 = r.releaseId!;
    expect(v2).not.toBe(v1);
    expect(await live()).toBe(v2);
    await runbookChecks("2.0");
    expect(await sql("SELECT max(version) FROM schema_migrations")).toBe("003");
    expect(await sql("SELECT count(*) FROM sqlite_master WHERE name = 'idx_trades_strategy'")).toBe("1");
    expect(Number(await sql("SELECT count(*) FROM trades WHERE strategy = 'momentum'"))).toBeGreaterThan(0);
    expect(await legacy()).toBe(LEGACY);
    const backupId = r.steps["backup-db"]!.outputs["backup-id"]!;
    expect(await sql("SELECT max(version) FROM schema_migrations", `${BACKUPS}/${backupId}.sqlite3`)).toBe("002");
    expect(await root(`ls ${DIR}/releases`)).toContain(v1); // the previous release stays on disk
  });

  it("a release whose web UI breaks (HTTP 500, no REC.IO) is rolled back automatically to the previous release", async () => {
    // a template reorganisation that main_app.py did not follow
    renameSync(s.file("app/backend/templates/index.html"), s.file("app/backend/templates/dashboard.html"));
    s.write("app/VERSION", "3.0\n");
    const r = await s.deploy(SHA.v3);
    expect(r.ok).toBe(false);
    expect(r.steps.deploy!.code, why(r.steps.deploy)).toBe(0); // every program ran: only the checks could tell
    expect(r.steps["verify-health"]!.code).not.toBe(0);
    expect(why(r.steps["verify-health"])).toContain("web UI shows REC.IO");
    expect(r.steps["verify-health"]!.summary).toContain("internal error");
    expect(r.steps.rollback!.code, why(r.steps.rollback)).toBe(0);
    expect(r.releaseId).toBe(v2);
    expect(await live()).toBe(v2);
    await runbookChecks("2.0");
    const last = (await ledger()).at(-1)!;
    expect(last).toMatchObject({ outcome: "rollback", release: v2, bad: true });
    expect(String(last.abandoned)).toContain(s.sha(SHA.v3).slice(0, 7));
    // the data never moved: code went back, the schema (003) and every trade stayed
    expect(await legacy()).toBe(LEGACY);
    expect(await sql("SELECT max(version) FROM schema_migrations")).toBe("003");
    expect(await root(`sqlite3 ${DB} 'PRAGMA integrity_check'`)).toBe("ok");
  });

  it("dispatch rollback to the first release by sha: v1 runs again on the newer schema, trades.db untouched", async () => {
    const trades = Number(await sql("SELECT count(*) FROM trades"));
    const r = await s.rollback(s.sha(SHA.v1).slice(0, 7));
    expect(r.code, why(r)).toBe(0);
    expect(r.outputs["release-id"]).toBe(v1);
    expect(await live()).toBe(v1);
    await runbookChecks("1.0");
    expect(await root(`grep -c 'KALSHI_API_KEY' ${CONF}`)).toBe(String(PROGRAMS.length));
    expect(await legacy()).toBe(LEGACY);
    expect(await sql("SELECT max(version) FROM schema_migrations")).toBe("003");
    await sleep(2000);
    expect(Number(await sql("SELECT count(*) FROM trades"))).toBeGreaterThan(trades); // v1 keeps recording trades
    expect(await root(`grep -h 'database has migrations this release does not know: 003' ${DIR}/shared/logs/trade_manager.log* | head -1`)).toContain("003");
    expect(r.summary).toContain("↩️ rolled back");
  });
});
