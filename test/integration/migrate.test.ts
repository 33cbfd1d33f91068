// SQL migrations against a REAL PostgreSQL, reached the ways slipway reaches one: psql on a host
// over SSH (the harness's sshd) and psql on the runner with a URL.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockKey } from "../../src/commands/postgres.js";
import { Secrets } from "../../src/config/secrets.js";
import { migrate, type MigrateOptions } from "../../src/operations/migrate.js";
import { pgClient, type PgClient } from "../../src/operations/pg.js";
import { RemotePool } from "../../src/remote/pool.js";
import { memoryLog } from "../../src/report/log.js";
import { loopbackEnvironment, pgOnLoop } from "../harness/env.js";
import { startPostgres, type Postgres } from "../harness/postgres.js";
import { startSshd, type Sshd } from "../harness/sshd.js";

let sshd: Sshd;
let pg: Postgres;
const pools: RemotePool[] = [];
const clients: PgClient[] = [];
beforeAll(async () => {
  [sshd, pg] = await Promise.all([startSshd(), startPostgres()]);
});
afterAll(async () => {
  for (const c of clients) await c.close();
  for (const p of pools) await p.closeAll();
  sshd?.stop();
  pg?.stop();
});

let dbCounter = 0;
/** a fresh database and a migrations dir; the client reaches it through ssh + psql on the host */
async function fixture(files: Record<string, string>, via: "host" | "url" = "host") {
  const db = `mig_${++dbCounter}`;
  pg.psql(`CREATE DATABASE ${db}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-mig-"));
  write(dir, files);
  const databases =
    via === "host"
      ? { app: pgOnLoop(pg, db) }
      : { app: { engine: "postgres", "url-secret": "APP_DATABASE_URL", name: db, tls: "disable" } };
  const loaded = loopbackEnvironment(sshd, pg, { databases });
  const secrets = new Secrets({ APP_DATABASE_URL: `postgres://postgres@127.0.0.1:${pg.port}/${db}` });
  const connect = async () => {
    const pool = RemotePool.forEnvironment(loaded.env, secrets, memoryLog());
    pools.push(pool);
    const client = await pgClient(loaded.env, "app", pool, secrets);
    clients.push(client);
    return client;
  };
  const client = await connect();
  const log = memoryLog();
  const opts = (o: Partial<MigrateOptions> = {}): MigrateOptions => ({ dir, table: "slipway_schema_history", outOfOrder: false, lockTimeoutSec: 30, appliedBy: "test run", dryRun: false, log, ...o });
  return { db, dir, client, connect, opts, log, q: (sql: string) => pg.psql(sql, db) };
}
function write(dir: string, files: Record<string, string>) {
  mkdirSync(dir, { recursive: true });
  for (const [n, c] of Object.entries(files)) writeFileSync(path.join(dir, n), c);
}

const base = {
  "001_create_quotes.sql": "CREATE TABLE btc_option_quotes (id bigserial PRIMARY KEY, ts timestamptz NOT NULL DEFAULT now(), price numeric);\n",
  "002_seed.sql": "INSERT INTO btc_option_quotes (price) SELECT g FROM generate_series(1, 100) g;\n",
  "006_instrument_metadata_table.sql": "CREATE TABLE instrument_metadata (name text PRIMARY KEY, is_active boolean NOT NULL DEFAULT true);\n-- a comment at the end, no newline",
};

describe.each(["host", "url"] as const)("sql migrations, psql %s", (via) => {
  it("applies pending migrations in order and records version, name, checksum, who, duration, success", async () => {
    const f = await fixture(base, via);
    const r = await migrate(f.client, f.opts());
    expect(r).toEqual({ applied: Object.keys(base), pending: [], head: "006" });
    expect(f.q("SELECT count(*) FROM btc_option_quotes")).toBe("100");
    const rows = f.q("SELECT version, name, length(checksum), applied_by, duration_ms >= 0, success FROM slipway_schema_history ORDER BY version").split("\n");
    expect(rows).toEqual([
      "001|001_create_quotes.sql|64|test run|t|t",
      "002|002_seed.sql|64|test run|t|t",
      "006|006_instrument_metadata_table.sql|64|test run|t|t",
    ]);
    const again = await migrate(f.client, f.opts());
    expect(again).toEqual({ applied: [], pending: [], head: "006" });
  });
});

describe("sql migrations: safety", () => {
  it("dry-run lists pending migrations and changes nothing", async () => {
    const f = await fixture(base);
    const r = await migrate(f.client, f.opts({ dryRun: true }));
    expect(r.pending).toEqual(Object.keys(base));
    expect(f.q("SELECT to_regclass('slipway_schema_history') IS NULL")).toBe("t");
    expect(f.log.lines.join("\n")).toContain("pending migrations on postgres");
  });

  it("refuses when an applied migration's file changed, naming the file and both checksums", async () => {
    const f = await fixture(base);
    await migrate(f.client, f.opts());
    const before = f.q("SELECT checksum FROM slipway_schema_history WHERE version = '002'");
    write(f.dir, { "002_seed.sql": "INSERT INTO btc_option_quotes (price) VALUES (1);\n", "007_more.sql": "CREATE TABLE more (x int);\n" });
    const err = await migrate(f.client, f.opts()).catch((e) => e);
    expect(err.message).toMatch(new RegExp(`migration 002_seed.sql was changed after it was applied: checksum in the database ${before}, file now [0-9a-f]{64}`));
    expect(f.q("SELECT to_regclass('more') IS NULL")).toBe("t"); // nothing applied
  });

  it("refuses a new migration numbered below the last applied, unless out-of-order is allowed", async () => {
    const f = await fixture(base);
    await migrate(f.client, f.opts());
    write(f.dir, { "003_late.sql": "CREATE TABLE late (x int);\n" });
    const err = await migrate(f.client, f.opts()).catch((e) => e);
    expect(err.message).toContain("new migration 003_late.sql is numbered below the last applied version 6; renumber it or set migrations.out-of-order: true");
    const r = await migrate(f.client, f.opts({ outOfOrder: true }));
    expect(r.applied).toEqual(["003_late.sql"]);
  });

  it("a migration failing mid-file is rolled back entirely; the error names file, line and statement", async () => {
    const f = await fixture({
      ...base,
      "007_lifecycle_events_table.sql": "CREATE TABLE lifecycle_events (id serial, event_type text);\nINSERT INTO lifecycle_events (event_type) VALUES ('listed');\n\nSELECT *\n  FROM no_such_table;\nCREATE TABLE never_created (x int);\n",
    });
    const err = await migrate(f.client, f.opts()).catch((e) => e);
    expect(err.message).toContain("migration 007_lifecycle_events_table.sql failed at 007_lifecycle_events_table.sql:5 (statement starting at line 4) on postgres");
    expect(err.message).toContain("(after 3 migration(s) of this run were applied and kept)");
    expect(err.message).toMatch(/ERROR:\s+relation "no_such_table" does not exist\n\s+LINE 2:\s+FROM no_such_table;/);
    expect(err.message).toContain("  statement:\n    SELECT *\n      FROM no_such_table;"); // the statement, echoed by psql
    expect(err.message).toContain("Its transaction was rolled back: the database is exactly as before it.");
    expect(f.q("SELECT to_regclass('lifecycle_events') IS NULL AND to_regclass('never_created') IS NULL")).toBe("t");
    expect(f.q("SELECT string_agg(version, ',' ORDER BY version) FROM slipway_schema_history")).toBe("001,002,006");
  });

  it("applies a no-transaction migration alone (CREATE INDEX CONCURRENTLY), and records a failed one", async () => {
    const f = await fixture({
      ...base,
      "007_index.sql": "-- slipway:no-transaction\nCREATE INDEX CONCURRENTLY idx_quotes_ts ON btc_option_quotes (ts);\n",
    });
    expect((await migrate(f.client, f.opts())).applied).toContain("007_index.sql");
    expect(f.q("SELECT indexname FROM pg_indexes WHERE indexname = 'idx_quotes_ts'")).toBe("idx_quotes_ts");
    write(f.dir, { "008_bad_index.sql": "-- slipway:no-transaction\nCREATE INDEX CONCURRENTLY idx_bad ON btc_option_quotes (no_such_column);\n" });
    const err = await migrate(f.client, f.opts()).catch((e) => e);
    expect(err.message).toContain("outside a transaction");
    expect(f.q("SELECT success FROM slipway_schema_history WHERE version = '008'")).toBe("f");
    const again = await migrate(f.client, f.opts()).catch((e) => e);
    expect(again.message).toContain("migration 008_bad_index.sql failed earlier and was not transactional");
  });
});

describe("sql migrations: concurrency", () => {
  it("two runs at once never interleave: the second waits for the lock, then finds nothing to do", async () => {
    const f = await fixture({ ...base, "007_slow.sql": "SELECT pg_sleep(2);\nCREATE TABLE slow_done (x int);\n" });
    const second = await f.connect(); // its own ssh connection and psql session
    const [a, b] = await Promise.all([migrate(f.client, f.opts({ appliedBy: "run A" })), migrate(second, f.opts({ appliedBy: "run B" }))]);
    const applied = [...a.applied, ...b.applied].sort();
    expect(applied).toEqual([...Object.keys(base), "007_slow.sql"].sort()); // each exactly once
    expect(f.q("SELECT count(DISTINCT applied_by) FROM slipway_schema_history")).toBe("1"); // one run did all
  });

  it("gives up after the lock timeout, saying who holds the lock", async () => {
    const f = await fixture(base);
    const [k1, k2] = lockKey("slipway_schema_history");
    // another "run" holds the lock in its own session
    const holder = spawn("psql", ["-X", "-q", "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "-d", f.db], {
      env: { ...process.env, PGAPPNAME: "slipway https://github.com/acme/app/actions/runs/42 (alice)" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    holder.stdin.write(`SELECT pg_advisory_lock(${k1}, ${k2});\n\\echo locked\n`);
    await new Promise<void>((r) => holder.stdout.on("data", (d: Buffer) => d.toString().includes("locked") && r()));
    const started = Date.now();
    const err = await migrate(f.client, f.opts({ lockTimeoutSec: 2 })).catch((e) => e);
    holder.stdin.end("\\q\n");
    expect(Date.now() - started).toBeGreaterThan(1900);
    expect(err.message).toMatch(/migrations of slipway_schema_history are locked by another run: slipway https:\/\/github.com\/acme\/app\/actions\/runs\/42 \(alice\) \(pid \d+, postgres@127\.0\.0\.1/);
    expect(f.q("SELECT to_regclass('btc_option_quotes') IS NULL")).toBe("t");
  });
});
