// Seed 003 end to end (issue #8): the ETF service of examples/etf-service/ deployed to droplet-1 with
// examples/etf-service/environments/staging.yml, by the actions in deploy.yml's order (test/harness/scenario.ts):
// backup-db (pg_dump of goldfinch) -> apply-migrations (alembic) -> deploy-supervisor (API, celery
// worker and beat) -> verify-health (/metrics, health, celery ping, beat rows in goldfinch) -> on
// failure the automatic rollback. Then rollback.yml by hand: the code back to a named release, and
// the database restored with pg_restore in its own job (its own approval, <env>-db-restore).
// The runbook's success criteria are asserted on the host: tasks really go through RabbitMQ to the
// worker and into goldfinch, results land in redis, beat runs on schedule, metrics are served.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { host } from "../../src/lab/state.js";
import { errors, Scenario, why, whyRun } from "../harness/scenario.js";
import { lab, on } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("droplet-1");

const HOST = "droplet-1";
const BROKER_PASSWORD = "etf-broker-7Qx2"; // the rabbitmq user's password: a secret of the environment
const secrets = { ETF_BROKER_URL: `amqp://etf:${BROKER_PASSWORD}@127.0.0.1:5672/etf` };
const SHA = {
  v1: "1e7f0a3c9b5d2e4f6a8b0c1d2e3f4a5b6c7d8e9f",
  v2: "2b8c1d4e6f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c",
  v3: "3c9d2e5f7a1b3c5d7e9f1a2b4c6d8e0f2a4b6c8d",
};

/** "HH:MM-HH:MM UTC" from now + a minutes to now + b minutes (crossing midnight when it must). */
function windowAround(a: number, b: number): string {
  const hhmm = (m: number) => {
    const t = (((Math.floor(Date.now() / 60_000) + m) % 1440) + 1440) % 1440;
    return `${String(Math.floor(t / 60)).padStart(2, "0")}:${String(t % 60).padStart(2, "0")}`;
  };
  return `${hhmm(a)}-${hhmm(b)} UTC`;
}
const workspaces: Scenario[] = [];
const OPEN = windowAround(-60, 120); // the committed file says 02:00-04:00 UTC: the test runs now
const CLOSED = windowAround(180, 240);
function scenario(window: string): Scenario {
  const sc = new Scenario(lab(), "etf-service", "staging", { "etf-1": HOST }, secrets, (env) => (env.policy["maintenance-window"] = window));
  workspaces.push(sc);
  return sc;
}

// the next commit: alembic revision 0003 adds etf.expense_ratio, and the code (1.1.0) uses it
function commitV2(s: Scenario) {
  s.write(
    "app/alembic/versions/0003_expense_ratio.py",
    `"""etf.expense_ratio"""
revision = "0003"
down_revision = "0002"
from alembic import op
import sqlalchemy as sa


def upgrade():
    op.add_column("etf", sa.Column("expense_ratio", sa.Numeric))


def downgrade():
    op.drop_column("etf", "expense_ratio")
`,
  );
  s.write("app/etf/release.py", s.read("app/etf/release.py").replace('VERSION = "1.0.0"', 'VERSION = "1.1.0"').replace('ETF_COLUMNS = ("name", "nav")', 'ETF_COLUMNS = ("name", "nav", "expense_ratio")'));
  expect(s.read("app/etf/release.py")).toContain('"expense_ratio")');
}

const root = (cmd: string) => on(HOST, "root", cmd, { timeoutMs: 120_000 });
const sql = async (q: string) => (await root(`cd /tmp && runuser -u postgres -- psql -XAtq -d goldfinch -c ${JSON.stringify(q)}`)).stdout;
/** alembic current, as the runbook runs it, in the live release with the service's DATABASE_URL */
const alembicCurrent = async () => (await on(HOST, "deploy", "cd /srv/etf/current && DATABASE_URL=postgresql:///goldfinch python3 -m alembic current 2>/dev/null")).stdout;
const alembicHeads = async () => (await on(HOST, "deploy", "cd /srv/etf/current && DATABASE_URL=postgresql:///goldfinch python3 -m alembic heads 2>/dev/null")).stdout;
const live = async () => (await root("readlink /srv/etf/current")).stdout.replace(/^releases\//, "");
const ledger = async () => (await root("cat /srv/etf/_slipway/ledger.jsonl")).stdout.split("\n").map((l) => JSON.parse(l) as Record<string, any>);
const programs = async () => (await root("supervisorctl status 'etf:*' || true")).stdout;
/** program -> pid: the same pids mean nothing was restarted */
const pids = async () => Object.fromEntries([...(await programs()).matchAll(/^(\S+)\s+RUNNING\s+pid (\d+)/gm)].map((m) => [m[1], m[2]]));
const hasColumn = async () => (await sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'etf' AND column_name = 'expense_ratio'")) === "1";
const api = (p: string, init?: RequestInit) => fetch(`http://${host(lab(), HOST).address}:8000${p}`, { ...init, signal: AbortSignal.timeout(10_000) });

/** POST a refresh to the API; the worker takes it from RabbitMQ; wait for its result in redis. */
async function refresh(symbol: string, fields: Record<string, unknown>): Promise<{ taskId: string; updateId: number }> {
  const res = await api(`/api/v1/etf/${symbol}/refresh`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(fields) });
  expect(res.status, await res.clone().text()).toBe(202);
  const { task_id: taskId } = (await res.json()) as { task_id: string };
  for (let i = 0; i < 60; i++) {
    const t = (await (await api(`/api/v1/tasks/${taskId}`)).json()) as { state: string; result: number | null };
    if (t.state === "SUCCESS") return { taskId, updateId: t.result! };
    expect(t.state).not.toBe("FAILURE");
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`task ${taskId} did not succeed within 30 s`);
}

// the host as provisioned (done once by hand, not per deploy): the database, redis and rabbitmq
// running, the broker's vhost and user
async function provision() {
  await root(`cd /tmp && runuser -u postgres -- createdb -O deploy goldfinch
systemctl start redis-server rabbitmq-server
rabbitmqctl -q await_startup
rabbitmqctl -q add_vhost etf && rabbitmqctl -q add_user etf ${BROKER_PASSWORD} && rabbitmqctl -q set_permissions -p etf etf '.*' '.*' '.*'`);
}
async function cleanup() {
  await root(`supervisorctl stop 'etf:*' >/dev/null 2>&1; rm -f /etc/supervisor/conf.d/etf.conf; supervisorctl update >/dev/null 2>&1
rm -rf /srv/etf /var/backups/slipway/goldfinch /tmp/slipway-alembic.* /tmp/slipway-restore-goldfinch-*
cd /tmp && for db in $(runuser -u postgres -- psql -XAtq -c "SELECT datname FROM pg_database WHERE datname LIKE 'goldfinch%'"); do runuser -u postgres -- dropdb --force "$db"; done
if systemctl is-active -q rabbitmq-server; then rabbitmqctl -q delete_vhost etf 2>/dev/null; rabbitmqctl -q delete_user etf 2>/dev/null; fi
if systemctl is-active -q redis-server; then redis-cli -n 3 flushdb >/dev/null; fi
true`);
}

let s: Scenario;
const ids: Record<string, string> = {};
const backups: Record<string, string> = {};
const updates: Record<string, number> = {};

beforeAll(async () => {
  await cleanup();
  await provision();
  s = scenario(OPEN);
});
afterAll(async () => {
  await cleanup();
  await root("systemctl stop redis-server rabbitmq-server; true");
  for (const sc of workspaces) await sc.close();
});

describe("etf-service (seed 003)", () => {
  it("first deploy: a verified pg_dump, alembic to head, API + celery worker + beat under supervisor; a task goes API -> RabbitMQ -> worker -> goldfinch, its result to redis", async () => {
    const r = await s.deploy(SHA.v1);
    expect(r.ok, whyRun(r)).toBe(true);
    ids.v1 = r.releaseId!;
    backups.v1 = r.steps["backup-db"]!.outputs["backup-id"]!;

    // backup first: the dump and its record exist on the host, and the release's ledger entry names it
    expect(backups.v1).toMatch(/^goldfinch-/);
    expect((await root(`test -s /var/backups/slipway/goldfinch/${backups.v1}.dump && pg_restore --list /var/backups/slipway/goldfinch/${backups.v1}.dump >/dev/null && echo dump-ok`)).stdout).toBe("dump-ok");
    expect(JSON.parse((await root(`cat /var/backups/slipway/goldfinch/${backups.v1}.json`)).stdout)).toMatchObject({ id: backups.v1, verified: true, verification: "restore" });
    expect((await ledger()).at(-1)).toMatchObject({ release: ids.v1, outcome: "success", backupId: backups.v1, migrationHead: "0002" });

    // alembic: the runbook's "alembic current" equals "alembic heads"
    expect(await alembicCurrent()).toBe("0002 (head)");
    expect(await alembicHeads()).toBe("0002 (head)");

    // supervisor: the three programs of group etf, from /srv/etf/current, as deploy, the broker secret in a 0600 file
    expect((await programs()).split("\n").filter((l) => /^etf:etf_(api|worker|beat)\s+RUNNING/.test(l))).toHaveLength(3);
    expect((await root("stat -c '%a %U' /etc/supervisor/conf.d/etf.conf; grep -c '^user=deploy' /etc/supervisor/conf.d/etf.conf")).stdout).toBe("600 root\n3");
    expect(await live()).toBe(ids.v1);

    // a task through the broker to the worker, into goldfinch; its result in redis
    const t = await refresh("GLDF", { name: "Goldfinch Gold Miners", nav: "101.25" });
    updates.v1 = t.updateId;
    expect(await sql(`SELECT symbol, nav, source, release FROM etf_updates WHERE id = ${t.updateId}`)).toBe("GLDF|101.25|api|1.0.0");
    expect(await sql("SELECT name, nav FROM etf WHERE symbol = 'GLDF'")).toBe("Goldfinch Gold Miners|101.25");
    expect((await root(`redis-cli -n 3 exists celery-task-meta-${t.taskId}`)).stdout).toBe("1");
    expect((await root("rabbitmqctl -q list_queues -p etf name consumers")).stdout).toMatch(/^etf\s+1$/m);
    const fund = (await (await api("/api/v1/etf/GLDF")).json()) as Record<string, unknown>;
    expect(fund).toMatchObject({ symbol: "GLDF", nav: "101.25", cached: false });
    expect(await (await api("/api/v1/etf/GLDF")).json()).toMatchObject({ cached: true }); // the redis cache

    // success criteria: celery tasks running as scheduled (beat), metrics being collected
    expect(Number(await sql("SELECT count(*) FROM etf_updates WHERE source = 'beat'"))).toBeGreaterThan(0);
    const metrics = await (await api("/metrics")).text();
    expect(metrics).toContain('etf_build_info{version="1.0.0"} 1');
    expect(metrics).toMatch(/^etf_updates_total [1-9]\d*$/m);
    expect(metrics).toContain("# TYPE etf_update_duration_seconds histogram");
    expect(r.steps["verify-health"]!.summary).toContain("metrics being collected");
    expect(r.steps["verify-health"]!.summary).toContain("celery tasks running as scheduled");
  });

  it(`outside the maintenance window (${CLOSED}) the next commit is refused, naming the window; nothing changes on the host`, async () => {
    const closed = scenario(CLOSED);
    commitV2(closed);
    const before = { live: await live(), ledger: (await ledger()).length, pids: await pids(), head: await sql("SELECT version_num FROM alembic_version") };

    const r = await closed.deploy(SHA.v2);
    expect(r.ok).toBe(false);
    expect(r.steps["backup-db"]!.code).toBe(0); // backups are never limited by the window
    expect(r.steps["apply-migrations"]!.code).toBe(1);
    expect(errors(r.steps["apply-migrations"]!)).toContain(`refusing to apply 1 pending migration(s) to goldfinch: it is`);
    expect(errors(r.steps["apply-migrations"]!)).toContain(`outside the maintenance window ${CLOSED} of ${closed.envPath} (policy.maintenance-window)`);
    expect(r.steps.deploy).toBeUndefined();
    expect(r.steps.rollback).toBeUndefined();

    // the deploy step on its own (a code-only change) is refused the same way
    const d = await closed.step("deploy-supervisor", { sha: SHA.v2 });
    expect(d.code).toBe(1);
    expect(errors(d), d.stdout + d.stderr).toContain(`refusing to deploy etf: it is`);
    expect(errors(d)).toContain(`outside the maintenance window ${CLOSED}`);

    expect({ live: await live(), ledger: (await ledger()).length, pids: await pids(), head: await sql("SELECT version_num FROM alembic_version") }).toEqual(before);
    expect(await hasColumn()).toBe(false);
    expect((await root("ls /srv/etf/releases")).stdout).toBe(ids.v1);
  });

  it("second deploy inside the window: a code change and alembic revision 0003 (a column), after a backup of the database as it was", async () => {
    commitV2(s);
    const r = await s.deploy(SHA.v2);
    expect(r.ok, whyRun(r)).toBe(true);
    ids.v2 = r.releaseId!;
    backups.v2 = r.steps["backup-db"]!.outputs["backup-id"]!;
    expect(r.steps["apply-migrations"]!.outputs.head).toBe("0003");
    // the revision's SQL (alembic upgrade 0002:head --sql on the runner) went through the lint: expand
    expect(JSON.parse(r.steps["apply-migrations"]!.outputs.migrations!)).toEqual([{ database: "goldfinch", name: "0003_expense_ratio.py", class: "expand" }]);

    expect(await alembicCurrent()).toBe("0003 (head)");
    expect(await alembicHeads()).toBe("0003 (head)");
    expect(await hasColumn()).toBe(true);
    expect((await ledger()).at(-1)).toMatchObject({ release: ids.v2, outcome: "success", backupId: backups.v2, migrationHead: "0003", previous: ids.v1, migrations: [{ database: "goldfinch", name: "0003_expense_ratio.py", class: "expand" }] });
    expect((await root(`test -s /var/backups/slipway/goldfinch/${backups.v2}.dump && echo ok`)).stdout).toBe("ok");

    // the new code uses the new column
    expect(await (await api("/api/v1/etf/health")).json()).toEqual({ status: "ok", version: "1.1.0" });
    const t = await refresh("GLDF", { nav: "104.75", expense_ratio: "0.0035" });
    updates.v2 = t.updateId;
    expect(await sql("SELECT nav, expense_ratio FROM etf WHERE symbol = 'GLDF'")).toBe("104.75|0.0035");
    expect(await sql(`SELECT release FROM etf_updates WHERE id = ${t.updateId}`)).toBe("1.1.0");
  });

  it("a broken release (/metrics fails) deploys, fails verify-health and is rolled back automatically; 1.1.0 serves again", async () => {
    const good = s.read("app/etf/metrics.py");
    s.write("app/etf/release.py", s.read("app/etf/release.py").replace('VERSION = "1.1.0"', 'VERSION = "1.2.0"'));
    s.write("app/etf/metrics.py", good.replace('+ " FROM etf_updates"', '+ " FROM etf_update"')); // a typo in the query
    const r = await s.deploy(SHA.v3);
    expect(r.ok).toBe(false);
    expect(r.steps.deploy!.code, why(r.steps.deploy)).toBe(0); // the programs stay up: only the checks see it
    ids.v3 = r.steps.deploy!.outputs["release-id"]!;
    expect(r.steps["verify-health"]!.code).toBe(1);
    expect(errors(r.steps["verify-health"]!)).toContain("metrics being collected");
    expect(r.steps.rollback!.code, why(r.steps.rollback)).toBe(0);
    expect(r.releaseId).toBe(ids.v2);

    expect(await live()).toBe(ids.v2);
    const metrics = await api("/metrics");
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('etf_build_info{version="1.1.0"} 1');
    expect((await programs()).split("\n").filter((l) => / RUNNING /.test(l))).toHaveLength(3);
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "rollback", release: ids.v2, abandoned: ids.v3, bad: true });
    expect(await alembicCurrent()).toBe("0003 (head)"); // nothing to migrate in 1.2.0: the schema is untouched
    s.write("app/etf/metrics.py", good);
  });

  it("rollback.yml by hand: the code back to the first release by its sha, then the restore-db job (its own approval) pg_restores the backup taken before 0003", async () => {
    const rb = await s.rollback(s.sha(SHA.v1).slice(0, 7));
    expect(rb.code, why(rb)).toBe(0);
    expect(rb.outputs["release-id"]).toBe(ids.v1);
    expect(rb.outputs["restored-db"]).toBe("false");
    expect(await live()).toBe(ids.v1);
    expect(await (await api("/api/v1/etf/health")).json()).toEqual({ status: "ok", version: "1.0.0" });
    // the code went back; the schema and data did not, until the second approval
    expect(await hasColumn()).toBe(true);
    expect(await sql("SELECT version_num FROM alembic_version")).toBe("0003");

    // rollback.yml's restore-db job: to = the rollback job's release-id, backup-id left empty: the
    // database as release 1 left it, i.e. the dump taken before 0003 (not release 1's own, taken before 0001)
    const restore = await s.rollback(rb.outputs["release-id"]!, { restoreDb: true });
    expect(restore.code, why(restore)).toBe(0);
    expect(restore.outputs["restored-db"]).toBe("true");
    expect(restore.stdout).toContain(`goldfinch was restored from ${backups.v2}`);
    expect(restore.stdout).toContain("safety backup of goldfinch before the restore");
    expect(restore.stdout).toContain("rolled back and verified");

    // alembic version and data as they were before 0003: the column is gone, 1.1.0's update too
    expect(await alembicCurrent()).toBe("0002 (head)");
    expect(await sql("SELECT version_num FROM alembic_version")).toBe("0002");
    expect(await hasColumn()).toBe(false);
    expect(await sql("SELECT name, nav FROM etf WHERE symbol = 'GLDF'")).toBe("Goldfinch Gold Miners|101.25");
    expect(await sql(`SELECT count(*) FROM etf_updates WHERE id = ${updates.v1}`)).toBe("1");
    expect(await sql(`SELECT count(*) FROM etf_updates WHERE id = ${updates.v2} OR release <> '1.0.0'`)).toBe("0");

    // and the restored database works with the release that is live: a new task lands
    const t = await refresh("GLDF", { nav: "99.50" });
    expect(await sql(`SELECT nav, release FROM etf_updates WHERE id = ${t.updateId}`)).toBe("99.50|1.0.0");
    expect(Number(await sql("SELECT count(*) FROM etf_updates WHERE source = 'beat' AND at > now() - interval '30 seconds'"))).toBeGreaterThan(0);
  });
});
