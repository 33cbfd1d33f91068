// Seed 000's managed database: TLS required, a non-default port, reachable only through a host
// (here: a PostgreSQL that refuses non-TLS connections, reached through an SSH tunnel via the
// harness's sshd). backup-db and apply-migrations run from the runner over the tunnel.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secrets } from "../../src/config/secrets.js";
import { backupPostgres } from "../../src/operations/backup.js";
import { migrate } from "../../src/operations/migrate.js";
import { pgClient, type PgClient } from "../../src/operations/pg.js";
import { RemotePool } from "../../src/remote/pool.js";
import { memoryLog } from "../../src/report/log.js";
import { loopbackEnvironment } from "../harness/env.js";
import { startPostgres, type Postgres } from "../harness/postgres.js";
import { startSshd, type Sshd } from "../harness/sshd.js";

let sshd: Sshd;
let pg: Postgres;
const pools: RemotePool[] = [];
const clients: PgClient[] = [];
beforeAll(async () => {
  [sshd, pg] = await Promise.all([startSshd(), startPostgres({ tls: true })]);
  pg.psql("CREATE DATABASE defaultdb");
  pg.psql("CREATE TABLE darkpool_trades (id bigserial PRIMARY KEY, ts timestamptz DEFAULT now()); INSERT INTO darkpool_trades DEFAULT VALUES;", "defaultdb");
});
afterAll(async () => {
  for (const c of clients) await c.close();
  for (const p of pools) await p.closeAll();
  sshd?.stop();
  pg?.stop();
});

async function client(tls: "require" | "disable") {
  const loaded = loopbackEnvironment(sshd, pg, { databases: { darkpool: { engine: "postgres", "url-secret": "DARKPOOL_DATABASE_URL", via: "loop", tls, name: "defaultdb", migrations: { dir: "test/fixtures/migrations-basic" } } } });
  const secrets = new Secrets({ DARKPOOL_DATABASE_URL: `postgres://postgres:not-used-but-secret@127.0.0.1:${pg.port}/defaultdb` });
  const pool = RemotePool.forEnvironment(loaded.env, secrets, memoryLog());
  pools.push(pool);
  const c = await pgClient(loaded.env, "darkpool", pool, secrets);
  clients.push(c);
  return { c, def: loaded.env.databases.darkpool!, secrets };
}

describe("a managed database (TLS required) through an SSH tunnel", () => {
  it("backs up (verified by a restore) and migrates from the runner through the tunnel, over TLS", async () => {
    const { c, def } = await client("require");
    expect(c.describe).toBe(`postgres defaultdb at 127.0.0.1:${pg.port} via loop`);
    const meta = await backupPostgres(c, { database: "darkpool", def, to: "runner", runnerDir: mkdtempSync(path.join(os.tmpdir(), "slipway-managed-")), verify: "restore", runIdentity: "test", log: memoryLog() });
    expect(meta.counts["public.darkpool_trades"]).toBe(1);
    expect(meta.restoredCounts).toEqual(meta.counts);
    const r = await migrate(c, { dir: "test/fixtures/migrations-basic", table: "slipway_schema_history", outOfOrder: false, lockTimeoutSec: 10, appliedBy: "test", dryRun: false, log: memoryLog() });
    expect(r.applied).toEqual(["001_t.sql"]);
    // the session really was encrypted
    const ssl = await c.psql("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();", "ssl check");
    expect(ssl.stdout.trim()).toBe("t");
  });

  it("without TLS the server refuses, and the error says so", async () => {
    const { c } = await client("disable");
    const err = await migrate(c, { dir: "test/fixtures/migrations-basic", table: "slipway_schema_history", outOfOrder: false, lockTimeoutSec: 10, appliedBy: "test", dryRun: true, log: memoryLog() }).catch((e) => e);
    expect(err.message).toMatch(/no encryption/);
  });

  it("masks the URL's password", async () => {
    const { secrets } = await client("require");
    expect(secrets.redact("postgres://postgres:not-used-but-secret@host")).toBe("postgres://postgres:***@host");
  });
});
