// Seed 004 end to end: the crypto options collectors' compose stack on the lab NAS (TimescaleDB as
// plain PostgreSQL 15, a collector and a lifecycle manager per currency with HTTP control APIs),
// deployed, changed (code + migration 008), broken (a collector that stops writing rows) and rolled
// back by the actions alone, in deploy.yml's order as the runner runs them; then the rollback
// workflow takes it back to the first release with the database restored from its backup. The
// runbook's own success criteria are asserted on the NAS: migrations 006/007 applied, row counts,
// instrument metadata (BTC/ETH totals, active, expired), lifecycle events, data collection
// continuing, the collectors' control APIs reporting running.
import { quote } from "../../src/commands/quote.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Scenario, why, whyRun } from "../harness/scenario.js";
import { lab, on } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("nas-1");

const NAS = "nas-1";
const DEPLOY_TO = "/srv/nas-collectors";
const BACKUPS = "/var/backups/slipway/nas-collectors";
const PROJECT = "nascollectors";
const DB = "nascollectors-timescaledb";
const DOCKER = "/usr/local/bin/docker";
const PASSWORD = "nas pw $x #y`id`";
/** a shell word holding `v` literally */
const APPS = ["btc-options", "eth-options", "btc-lifecycle-manager", "eth-lifecycle-manager"];
const PORTS = { btc: 8400, eth: 8401, btcManager: 8402, ethManager: 8403 };

let s: Scenario;
const releases: Record<string, string> = {};
/** the backup the second deploy took before migration 008: the database as release 1 left it */
let backupBefore008 = "";
/** the v2 BTC collector's container hostname (its quotes carry it in `collector`) */
let v2Instance = "";

const root = (cmd: string, input?: string) => on(NAS, "root", cmd, { input, timeoutMs: 120_000 });
const sql = async (q: string) => {
  const r = await root(`${DOCKER} exec -i ${DB} psql -X -Atq -v ON_ERROR_STOP=1 -U postgres -d crypto_data`, q);
  if (r.code !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout;
};
const num = async (q: string) => Number(await sql(q));
const api = async (port: number, path = "/api/status") => JSON.parse((await root(`curl -fsS -m 5 http://127.0.0.1:${port}${path}`)).stdout);
const post = async (port: number, path: string) => JSON.parse((await root(`curl -fsS -m 5 -X POST http://127.0.0.1:${port}${path}`)).stdout);
const live = async () => (await root(`basename "$(readlink ${DEPLOY_TO}/current)"`)).stdout;
const ledger = async () => (await root(`cat ${DEPLOY_TO}/_slipway/ledger.jsonl`)).stdout.split("\n").map((l) => JSON.parse(l));
const digestsOf = async (release: string) => (await ledger()).find((e) => e.release === release && e.outcome === "success")!.digests as Record<string, string>;
/** service -> image id of the running containers of the project */
async function running(): Promise<Record<string, string>> {
  const r = await root(`${DOCKER} ps -q --filter label=com.docker.compose.project=${PROJECT} | xargs -r ${DOCKER} inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.Image}} {{.State.Status}}/{{if index .State "Health"}}{{.State.Health.Status}}{{else}}none{{end}}'`);
  return Object.fromEntries(
    r.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" "))
      .map(([svc, img, st]) => [svc!, `${img} ${st}`]),
  );
}
/** the runbook's PHASE 5.4 query, per currency: total, active, expired */
const metadata = async () =>
  Object.fromEntries(
    (await sql("SELECT currency, COUNT(*), COUNT(*) FILTER (WHERE is_active = TRUE), COUNT(*) FILTER (WHERE is_active = FALSE) FROM instrument_metadata GROUP BY currency ORDER BY currency"))
      .split("\n")
      .map((l) => l.split("|"))
      .map(([c, t, a, e]) => [c!, { total: Number(t), active: Number(a), expired: Number(e) }]),
  );
/** the runbook's PHASE 5.5 query (without its one-hour window): event_type/currency -> [count, successes] */
const events = async () =>
  Object.fromEntries(
    (await sql("SELECT event_type, currency, COUNT(*), SUM(CASE WHEN success THEN 1 ELSE 0 END) FROM lifecycle_events GROUP BY event_type, currency"))
      .split("\n")
      .map((l) => l.split("|"))
      .map(([t, c, n, ok]) => [`${t}/${c}`, [Number(n), Number(ok)]]),
  );
/** the runbook's PHASE 5.3 query: rows in the last 5 minutes, per table */
const recentRows = async (table: string) => num(`SELECT COUNT(*) FROM ${table} WHERE timestamp > NOW() - INTERVAL '5 minutes'`);
async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  let err: unknown;
  while (Date.now() < until) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (e) {
      err = e;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms; last: ${JSON.stringify(last)} ${err ? String(err) : ""}`);
}
/** quotes keep arriving: `n` more rows in the table within the timeout */
async function grows(table: string, n = 20) {
  const start = await num(`SELECT COUNT(*) FROM ${table}`);
  await eventually(`${table} grows by ${n}`, () => num(`SELECT COUNT(*) FROM ${table}`), (c) => c >= start + n, 45_000);
}
const history = async () => (await sql("SELECT version FROM slipway_schema_history WHERE success ORDER BY version")).split("\n");

// everything this file creates on the NAS: the stack's containers, images, network and volume, the
// release tree and the backups (nothing else: the lab's lab-postgres and other projects stay)
async function cleanup() {
  await root(
    `cd /tmp; D=${DOCKER}
ids=$($D ps -aq --filter label=com.docker.compose.project=${PROJECT}); [ -z "$ids" ] || $D rm -f $ids >/dev/null
$D images --format '{{.Repository}}:{{.Tag}}' | grep '^slipway/${PROJECT}-' | xargs -r $D rmi -f >/dev/null
$D network rm ${PROJECT}_crypto_net >/dev/null 2>&1
$D volume rm ${PROJECT}_tsdata >/dev/null 2>&1
rm -rf ${DEPLOY_TO} ${BACKUPS}; rmdir /var/backups/slipway 2>/dev/null; true`,
  );
}

beforeAll(async () => {
  await cleanup();
  s = new Scenario(lab(), "nas-collectors", "nas", { nas: NAS }, { NAS_POSTGRES_PASSWORD: PASSWORD });
}, 180_000);
afterAll(async () => {
  await cleanup();
  await s?.close();
}, 180_000);

describe("seed 004: nas-collectors, a compose stack on the NAS", () => {
  it("first deploy: the database service first, migrations 001/006/007 in it, collectors and lifecycle managers up, instruments tracked, quotes flowing", async () => {
    const job = await s.deploy("a004001aaaaaaa");
    expect(job.ok, whyRun(job)).toBe(true);
    releases.r1 = job.releaseId!;
    // before the stack exists, backup-db and apply-migrations have nothing to work on (deploy.yml's order)
    expect(job.steps["backup-db"]!.stdout).toContain(`container ${DB} does not exist on nas yet`);
    expect(job.steps["backup-db"]!.outputs["backup-id"] ?? "").toBe("");
    expect(job.steps["apply-migrations"]!.outputs).toMatchObject({ applied: "0", head: "" });
    // PHASE 3.2 "Apply migrations BEFORE starting containers": deploy-compose ran them in the new database
    const d = job.steps.deploy!;
    expect(d.stdout).toContain("crypto: applied 001_option_quotes_tables.sql, 006_instrument_metadata_table.sql, 007_lifecycle_events_table.sql, head 007");
    expect(d.stdout).toContain("crypto was created by this deploy: no backup needed before its first migrations");
    expect(await history()).toEqual(["001", "006", "007"]);
    expect(await sql("SELECT to_regclass('instrument_metadata') IS NOT NULL, to_regclass('lifecycle_events') IS NOT NULL")).toBe("t|t");
    // PHASE 5.3 "Verify all containers running": 5 services, each on its pinned image, healthy
    const digests = JSON.parse(d.outputs.digests!).nas;
    expect(Object.keys(digests).sort()).toEqual(["btc-lifecycle-manager", "btc-options", "eth-lifecycle-manager", "eth-options", "timescaledb"]);
    const run = await running();
    for (const [svc, id] of Object.entries(digests)) expect(run[svc], svc).toBe(`${id} running/healthy`);
    // the .env holds the password, 0600, and only there
    const env = await root(`stat -c %a ${DEPLOY_TO}/current/.env; grep -c POSTGRES_PASSWORD ${DEPLOY_TO}/current/.env; grep -rlF -- ${quote(PASSWORD)} ${DEPLOY_TO}/current/ | grep -v '/.env$' || true`);
    expect(env.stdout).toBe("600\n1");
    // PHASE 5.4 "Verify instrument metadata populated": every listed option, active
    expect(await eventually("instrument metadata", metadata, (m) => m.BTC?.total === 12 && m.ETH?.total === 16)).toEqual({ BTC: { total: 12, active: 12, expired: 0 }, ETH: { total: 16, active: 16, expired: 0 } });
    expect(await sql("SELECT expiration_date, strike, option_type FROM instrument_metadata WHERE instrument_name = 'BTC-27MAR27-110000-P'")).toBe("2027-03-27|110000.00|put");
    // PHASE 5.5 "Verify lifecycle events logged": as many listed as subscribed, all successful
    const ev = await eventually("lifecycle events", events, (e) => e["subscription_added/BTC"]?.[0] === 12 && e["subscription_added/ETH"]?.[0] === 16);
    expect(ev).toMatchObject({ "instrument_listed/BTC": [12, 12], "instrument_listed/ETH": [16, 16], "subscription_added/BTC": [12, 12], "subscription_added/ETH": [16, 16], "collector_started/BTC": [1, 1], "collector_started/ETH": [1, 1] });
    // PHASE 5.2 "Verify HTTP control APIs"
    expect(await api(PORTS.btc, "/health")).toMatchObject({ status: "healthy" });
    const btc = await api(PORTS.btc);
    expect(btc).toMatchObject({ currency: "BTC", version: "1.0.0", running: true, websocket_connected: true, subscriptions: 12, write_errors: 0 });
    expect(await api(PORTS.eth)).toMatchObject({ currency: "ETH", running: true, subscriptions: 16 });
    expect(await api(PORTS.btcManager)).toMatchObject({ currency: "BTC", version: "1.0.0", tracked: 12, collector_reachable: true });
    await eventually("the ETH lifecycle manager keeps refreshing", () => api(PORTS.ethManager), (m) => m.refresh_cycles >= 3 && m.collector_reachable);
    // PHASE 5.3 "Verify data collection": recent quotes in both tables, still arriving
    await grows("btc_option_quotes");
    expect(await recentRows("btc_option_quotes")).toBeGreaterThan(0);
    expect(await recentRows("eth_option_quotes")).toBeGreaterThan(0);
    expect(await num(`SELECT COUNT(DISTINCT instrument_name) FROM btc_option_quotes WHERE collector = '${btc.instance}'`)).toBe(12);
    // verify-health ran the environment's checks: the APIs, the freshness SQL, the metadata
    expect(job.steps["verify-health"]!.outputs.healthy).toBe("true");
    expect(job.steps["verify-health"]!.summary).toContain("fresh btc quotes");
    // the control API stops and starts collecting (the lifecycle manager keeps the subscriptions)
    expect(await post(PORTS.btc, "/api/stop")).toEqual({ running: false });
    expect(await api(PORTS.btc)).toMatchObject({ running: false, websocket_connected: false, subscriptions: 12 });
    expect(await post(PORTS.btc, "/api/start")).toEqual({ running: true });
    expect(await sql("SELECT string_agg(event_type || ':' || (details->>'via'), ',' ORDER BY id) FROM lifecycle_events WHERE event_type LIKE 'collector_%' AND currency = 'BTC'")).toBe("collector_started:boot,collector_stopped:control api,collector_started:control api");
    await grows("btc_option_quotes");
  });

  it("a push whose NAS approval is rejected: no step runs; the stack, its containers, its database and the ledger stay as they were", async () => {
    const before = { live: await live(), ledger: (await ledger()).length, running: await running(), history: await history() };
    const job = await s.deploy("r004rejected", { approvals: { nas: "reject" } });
    expect(job.ok).toBe(false);
    expect(job.job?.approval).toBe("reject");
    expect(job.job?.steps.filter((st) => st.outcome !== "skipped")).toEqual([]);
    expect({ live: await live(), ledger: (await ledger()).length, running: await running(), history: await history() }).toEqual(before);
    expect(s.github!.deploymentsFor("nas").map((d) => d.sha)).not.toContain(s.sha("r004rejected"));
  }, 60_000);

  it("second deploy: a verified backup, migration 008 applied before the new images, coverage tracking (1.1.0), a listing change; data kept", async () => {
    // the code change: coverage tracking into the column migration 008 adds; the exchange lists
    // two new options and one BTC option expired
    s.write("schema/008_instrument_coverage.sql", "-- Migration 008: the newest quote of each instrument (coverage tracking, 1.1.0)\nALTER TABLE instrument_metadata ADD COLUMN last_quote_at timestamptz;\nCREATE INDEX instrument_metadata_last_quote_idx ON instrument_metadata (currency, last_quote_at);\n");
    s.write("app/scripts/version.py", 'VERSION = "1.1.0"\n');
    s.write(
      "app/scripts/coverage.py",
      `# Coverage tracking (1.1.0, with migration 008): the newest quote of each active instrument.


def update(db, currency):
    table = f"{currency.lower()}_option_quotes"
    return db.query(
        f"""UPDATE instrument_metadata m SET last_quote_at = q.last, updated_at = now()
            FROM (SELECT instrument_name, max(timestamp) AS last FROM {table}
                  WHERE timestamp > now() - interval '5 minutes' GROUP BY instrument_name) q
            WHERE m.instrument_name = q.instrument_name AND m.is_active AND m.currency = %s
              AND m.last_quote_at IS DISTINCT FROM q.last""",
        (currency,),
    )
`,
    );
    const listing = JSON.parse(s.read("app/config/instruments.json"));
    listing.BTC = listing.BTC.filter((n: string) => n !== "BTC-26DEC26-90000-P").concat("BTC-25JUN27-120000-C");
    listing.ETH = listing.ETH.concat("ETH-25JUN27-5000-C");
    s.write("app/config/instruments.json", JSON.stringify(listing, null, 2));
    const dbContainer = (await root(`${DOCKER} inspect -f '{{.Id}}' ${DB}`)).stdout;
    const quotesBefore = await num("SELECT COUNT(*) FROM btc_option_quotes");

    const job = await s.deploy("b004002bbbbbbb");
    expect(job.ok, whyRun(job)).toBe(true);
    releases.r2 = job.releaseId!;
    // PHASE 1.1 "Backup current database" + 1.3 "Document current state": verified by a test
    // restore, with the row counts of the runbook's tables in the job summary
    const b = job.steps["backup-db"]!;
    backupBefore008 = b.outputs["backup-id"]!;
    expect(backupBefore008).toMatch(/^crypto-\d{8}T\d{9}Z-r\d+-[0-9a-f]{4}$/);
    expect(b.outputs.verified).toBe("true");
    expect(b.summary).toContain("| public.instrument_metadata | 28 |");
    expect(b.summary).toMatch(/\| public\.btc_option_quotes \| \d+ \|/);
    expect(b.summary).toContain("identical after a test restore");
    const meta = JSON.parse((await root(`cat ${BACKUPS}/${backupBefore008}.json`)).stdout);
    expect(meta).toMatchObject({ verified: true, verification: "restore", host: "nas" });
    expect(meta.counts["public.btc_option_quotes"]).toBeGreaterThanOrEqual(quotesBefore);
    // apply-migrations: 008 against the running database, behind that backup
    expect(job.steps["apply-migrations"]!.outputs).toMatchObject({ applied: "1", head: "008" });
    expect(job.steps["apply-migrations"]!.stdout).toContain(`backup ${backupBefore008} of crypto is verified`);
    expect(await history()).toEqual(["001", "006", "007", "008"]);
    // new app images, the database container untouched
    const d1 = await digestsOf(releases.r1!);
    const d2 = JSON.parse(job.steps.deploy!.outputs.digests!).nas;
    for (const svc of APPS) expect(d2[svc], svc).not.toBe(d1[svc]);
    expect(d2.timescaledb).toBe(d1.timescaledb);
    expect((await root(`${DOCKER} inspect -f '{{.Id}}' ${DB}`)).stdout).toBe(dbContainer);
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "success", release: releases.r2, previous: releases.r1, backupId: backupBefore008, migrationHead: "008" });
    // the new release runs: version, the listing change, coverage tracked in the new column
    const btc = await eventually("v2 BTC collector", () => api(PORTS.btc), (st) => st.version === "1.1.0" && st.subscriptions === 12);
    v2Instance = btc.instance;
    expect(await eventually("listing change", metadata, (m) => m.BTC?.total === 13 && m.ETH?.total === 17)).toEqual({ BTC: { total: 13, active: 12, expired: 1 }, ETH: { total: 17, active: 17, expired: 0 } });
    expect(await sql("SELECT is_active, expired_at IS NOT NULL FROM instrument_metadata WHERE instrument_name = 'BTC-26DEC26-90000-P'")).toBe("f|t");
    expect((await events())["instrument_expired/BTC"]).toEqual([1, 1]);
    await eventually("coverage tracked", () => num("SELECT COUNT(*) FROM instrument_metadata WHERE is_active AND last_quote_at > now() - interval '1 minute'"), (n) => n === 29);
    // data kept across the release, and still arriving
    expect(await num("SELECT COUNT(*) FROM btc_option_quotes")).toBeGreaterThanOrEqual(quotesBefore);
    await grows("eth_option_quotes");
  });

  it("a broken release (a collector that stops writing rows) passes deploy-compose, fails the freshness check, and is rolled back automatically to release 2; data intact", async () => {
    const code = s.read("app/scripts/collector.py");
    const broken = code.replace("(timestamp, instrument_name,", "(timestmp, instrument_name,");
    expect(broken).not.toBe(code);
    s.write("app/scripts/collector.py", broken);
    const metaBefore = await metadata();
    const rowsBefore = await num("SELECT COUNT(*) FROM btc_option_quotes");

    const job = await s.deploy("c004003ccccccc");
    expect(job.ok).toBe(false);
    releases.r3 = job.steps.deploy!.outputs["release-id"]!;
    // every container came up healthy: deploy-compose could not tell
    expect(job.steps.deploy!.code, why(job.steps.deploy)).toBe(0);
    expect(job.steps.deploy!.outputs.changed).toBe("true");
    // verify-health did: the API says running, but no row arrived since the collectors started
    const v = job.steps["verify-health"]!;
    expect(v.code).toBe(1);
    expect(v.summary).toContain("❌ 2 of 10 check(s) failed");
    expect(v.summary).toMatch(/\| fresh btc quotes \| sql \| nas \| ❌ \|/);
    expect(v.summary).toMatch(/\| fresh eth quotes \| sql \| nas \| ❌ \|/);
    expect(v.summary).toMatch(/\| btc collector running \| http \| nas \| ✅ \|/);
    // the workflow's rollback step put release 2 back, verified with the same checks
    const rb = job.steps.rollback!;
    expect(rb.code, why(rb)).toBe(0);
    expect(rb.outputs["release-id"]).toBe(releases.r2);
    expect(job.releaseId).toBe(releases.r2);
    expect(rb.stdout).toContain("rolled back and verified");
    expect(await live()).toBe(releases.r2);
    // the previous images run again, healthy
    const d2 = await digestsOf(releases.r2!);
    const run = await running();
    for (const [svc, id] of Object.entries(d2)) expect(run[svc], svc).toBe(`${id} running/healthy`);
    expect(await api(PORTS.btc)).toMatchObject({ version: "1.1.0", running: true, write_errors: 0 });
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "rollback", release: releases.r2, abandoned: releases.r3, bad: true });
    // data intact: the metadata as before, no quote lost, and quotes flowing again
    expect(await metadata()).toEqual(metaBefore);
    expect(await num("SELECT COUNT(*) FROM btc_option_quotes")).toBeGreaterThanOrEqual(rowsBefore);
    await grows("btc_option_quotes");
    s.write("app/scripts/collector.py", code);
  });

  it("rollback workflow: back to release 1 by name, with restore-db from the backup taken before migration 008", async () => {
    const rb = await s.rollback(releases.r1!, { restoreDb: true, backupId: backupBefore008 });
    expect(rb.code, why(rb)).toBe(0);
    expect(rb.outputs).toMatchObject({ "release-id": releases.r1, "restored-db": "true" });
    // code went back, and the warning names the migration the schema kept until the restore
    expect(rb.stdout).toContain("008_instrument_coverage.sql");
    expect(rb.stdout).toMatch(/safety backup of crypto before the restore: crypto-\S+/);
    expect(rb.stdout).toContain(`crypto was restored from ${backupBefore008}`);
    expect(await live()).toBe(releases.r1);
    // release 1's pinned images run again
    const d1 = await digestsOf(releases.r1!);
    const run = await running();
    for (const svc of APPS) expect(run[svc], svc).toBe(`${d1[svc]} running/healthy`);
    expect(await api(PORTS.btc)).toMatchObject({ version: "1.0.0", running: true });
    // ROLLBACK PROCEDURE step 4: the database as the backup left it: schema at 007, no 1.1.0 row
    expect(await history()).toEqual(["001", "006", "007"]);
    expect(await sql("SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'instrument_metadata' AND column_name = 'last_quote_at'")).toBe("0");
    expect(await metadata()).toEqual({ BTC: { total: 12, active: 12, expired: 0 }, ETH: { total: 16, active: 16, expired: 0 } });
    expect(await num(`SELECT COUNT(*) FROM btc_option_quotes WHERE collector = '${v2Instance}'`)).toBe(0);
    const atBackup = JSON.parse((await root(`cat ${BACKUPS}/${backupBefore008}.json`)).stdout).counts;
    expect(await num("SELECT COUNT(*) FROM instrument_metadata")).toBe(atBackup["public.instrument_metadata"]);
    expect(await num("SELECT COUNT(*) FROM btc_option_quotes")).toBeGreaterThanOrEqual(atBackup["public.btc_option_quotes"]);
    // and release 1 collects again into the restored tables
    await grows("btc_option_quotes");
    await grows("eth_option_quotes");
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "rollback", release: releases.r1, reason: `rollback to ${releases.r1} requested by octocat` });
    // the backups directory: the one restored and the safety backup beside it
    expect((await root(`ls ${BACKUPS} | grep -c '\\.dump$'`)).stdout).toBe("3");
  });
});
