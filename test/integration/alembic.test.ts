// engine alembic (seed 003): alembic upgrade head on the host, in the release's directory and
// environment, under the advisory lock; then alembic current must equal alembic heads.
import { cpSync, mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lockKey } from "../../src/commands/postgres.js";
import { Secrets } from "../../src/config/secrets.js";
import { migrateAlembic } from "../../src/operations/migrate.js";
import { pgClient, type PgClient } from "../../src/operations/pg.js";
import { RemotePool } from "../../src/remote/pool.js";
import { memoryLog } from "../../src/report/log.js";
import { ROOT } from "../harness/runner.js";
import { loopbackEnvironment, pgOnLoop } from "../harness/env.js";
import { startPostgres, type Postgres } from "../harness/postgres.js";
import { startSshd, type Sshd } from "../harness/sshd.js";

let sshd: Sshd;
let pg: Postgres;
let pool: RemotePool;
let client: PgClient;
let deployTo: string;
beforeAll(async () => {
  [sshd, pg] = await Promise.all([startSshd(), startPostgres()]);
  pg.psql("CREATE DATABASE goldfinch");
  deployTo = mkdtempSync(path.join(os.tmpdir(), "slipway-etf-"));
  mkdirSync(path.join(deployTo, "releases"));
  cpSync(path.join(ROOT, "test/fixtures/alembic-app"), path.join(deployTo, "releases/r1"), { recursive: true });
  symlinkSync(path.join(deployTo, "releases/r1"), path.join(deployTo, "current"));
  const loaded = loopbackEnvironment(sshd, pg, { databases: { goldfinch: { ...pgOnLoop(pg, "goldfinch"), migrations: { dir: "test/fixtures/alembic-app", engine: "alembic" } } } });
  pool = RemotePool.forEnvironment(loaded.env, new Secrets({}), memoryLog());
  client = await pgClient(loaded.env, "goldfinch", pool, new Secrets({}));
});
afterAll(async () => {
  await client?.close();
  await pool?.closeAll();
  sshd?.stop();
  pg?.stop();
});

const opts = (dryRun: boolean, lockTimeoutSec = 30) => ({
  cwd: `${deployTo}/current`,
  env: { DATABASE_URL: `postgresql://postgres@127.0.0.1:${pg.port}/goldfinch` },
  alembic: ["alembic"],
  table: "slipway_schema_history",
  lockTimeoutSec,
  dryRun,
  log: memoryLog(),
});

describe("alembic migrations", () => {
  it("dry run reports current and heads without changing anything", async () => {
    const r = await migrateAlembic(client, opts(true));
    expect(r).toEqual({ applied: [], pending: ["none -> 0002"], head: null });
    expect(pg.psql("SELECT to_regclass('etf') IS NULL", "goldfinch")).toBe("t");
  });

  it("waits for the migration lock like SQL migrations do, and names its holder", async () => {
    const [k1, k2] = lockKey("slipway_schema_history");
    const holder = spawn("psql", ["-X", "-q", "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "-d", "goldfinch"], { env: { ...process.env, PGAPPNAME: "another deploy" }, stdio: ["pipe", "pipe", "pipe"] });
    holder.stdin.write(`SELECT pg_advisory_lock(${k1}, ${k2});\n\\echo locked\n`);
    await new Promise<void>((r) => holder.stdout.on("data", (d: Buffer) => d.toString().includes("locked") && r()));
    const err = await migrateAlembic(client, opts(false, 1)).catch((e) => e);
    holder.stdin.end("\\q\n");
    expect(err.message).toContain("locked by another run: another deploy");
    expect(pg.psql("SELECT to_regclass('etf') IS NULL", "goldfinch")).toBe("t");
  });

  it("upgrades to head in the release's environment, then current equals heads", async () => {
    const r = await migrateAlembic(client, opts(false));
    expect(r).toEqual({ applied: ["alembic 0002"], pending: [], head: "0002" });
    expect(pg.psql("SELECT version_num FROM alembic_version", "goldfinch")).toBe("0002");
    expect(pg.psql("SELECT to_regclass('exchange_rates') IS NOT NULL", "goldfinch")).toBe("t");
    expect((await migrateAlembic(client, opts(true))).pending).toEqual([]);
  });
});
