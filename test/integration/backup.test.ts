// backup-db against a REAL PostgreSQL (and SQLite), through the real sshd: dumps to the host and
// to the runner, verified by pg_restore --list and by a restore with row counts.
import { spawn, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secrets } from "../../src/config/secrets.js";
import { backupPostgres, backupSqlite, findBackup, type BackupOptions } from "../../src/operations/backup.js";
import { pgClient, type PgClient } from "../../src/operations/pg.js";
import { RemotePool } from "../../src/remote/pool.js";
import { memoryLog } from "../../src/report/log.js";
import { loopbackEnvironment, pgOnLoop } from "../harness/env.js";
import { startPostgres, type Postgres } from "../harness/postgres.js";
import { startSshd, type Sshd } from "../harness/sshd.js";

let sshd: Sshd;
let pg: Postgres;
let work: string;
const pools: RemotePool[] = [];
const clients: PgClient[] = [];
beforeAll(async () => {
  [sshd, pg] = await Promise.all([startSshd(), startPostgres()]);
  work = mkdtempSync(path.join(os.tmpdir(), "slipway-backup-"));
  pg.psql("CREATE DATABASE crypto_data");
  pg.psql("CREATE TABLE btc_option_quotes (id bigserial PRIMARY KEY, ts timestamptz DEFAULT now(), price numeric); INSERT INTO btc_option_quotes (price) SELECT g FROM generate_series(1, 5000) g; CREATE TABLE instrument_metadata (name text PRIMARY KEY); INSERT INTO instrument_metadata VALUES ('BTC-1'), ('ETH-1');", "crypto_data");
});
afterAll(async () => {
  for (const c of clients) await c.close();
  for (const p of pools) await p.closeAll();
  sshd?.stop();
  pg?.stop();
});

async function setup(via: "host" | "url", backup: Record<string, unknown> = {}) {
  const dir = path.join(work, `host-backups-${Math.random().toString(36).slice(2)}`);
  const def = via === "host"
    ? { ...pgOnLoop(pg, "crypto_data"), backup: { dir, keep: 2, tables: ["btc_option_quotes"], ...backup } }
    : { engine: "postgres", "url-secret": "DB_URL", name: "crypto_data", backup: { keep: 2, ...backup } };
  const loaded = loopbackEnvironment(sshd, pg, { databases: { crypto: def } });
  const secrets = new Secrets({ DB_URL: `postgres://postgres@127.0.0.1:${pg.port}/crypto_data` });
  const pool = RemotePool.forEnvironment(loaded.env, secrets, memoryLog());
  pools.push(pool);
  const client = await pgClient(loaded.env, "crypto", pool, secrets);
  clients.push(client);
  const runnerDir = path.join(work, `runner-${Math.random().toString(36).slice(2)}`);
  const log = memoryLog();
  const opts = (o: Partial<BackupOptions> = {}): BackupOptions => ({ database: "crypto", def: loaded.env.databases.crypto!, to: "host", runnerDir, verify: "list", runIdentity: "test run", log, ...o });
  return { client, opts, dir, runnerDir, log, pool };
}

describe("backup-db, postgres", () => {
  it("dumps on the host into the backup directory, verified, with a metadata file and row counts", async () => {
    const s = await setup("host");
    const meta = await backupPostgres(s.client, s.opts());
    expect(meta.verified).toBe(true);
    expect(meta.path).toBe(`${s.dir}/${meta.id}.dump`);
    expect(meta.size).toBe(readFileSync(meta.path).length);
    expect(meta.sha256).toBe(execFileSync("sha256sum", [meta.path]).toString().split(" ")[0]);
    expect(meta.counts).toEqual({ "public.btc_option_quotes": 5000, "public.instrument_metadata": 2 });
    expect(meta.serverVersion).toBe(pg.major);
    expect(execFileSync("pg_restore", ["--list", meta.path]).toString()).toContain("TABLE public btc_option_quotes");
    expect((execFileSync("stat", ["-c", "%a", meta.path]).toString().trim())).toBe("600");
    expect(JSON.parse(readFileSync(`${s.dir}/${meta.id}.json`, "utf8"))).toMatchObject({ id: meta.id, verified: true, sha256: meta.sha256, run: "test run" });
    expect(readdirSync(s.dir).filter((f) => f.includes("partial"))).toEqual([]);
  });

  it("streams the dump to the runner and verifies it by restoring into a scratch database", async () => {
    const s = await setup("host");
    const meta = await backupPostgres(s.client, s.opts({ to: "runner", verify: "restore" }));
    expect(meta.where).toBe("runner");
    expect(meta.path).toBe(path.resolve(s.runnerDir, `${meta.id}.dump`));
    expect(meta.restoredCounts).toEqual(meta.counts);
    expect(pg.psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'slipway_verify_%'")).toBe("0"); // scratch dropped
    expect(await findBackup(undefined, "/nonexistent", s.runnerDir, meta.id)).toMatchObject({ verified: true });
  });

  it("backs up a managed database from the runner (URL secret) with a restore check", async () => {
    const s = await setup("url");
    const meta = await backupPostgres(s.client, s.opts({ to: "runner", verify: "restore" }));
    expect(meta.counts["public.btc_option_quotes"]).toBe(5000);
    expect(meta.restoredCounts).toEqual(meta.counts);
  });

  it("row counts come from the dump's own snapshot while a writer keeps inserting", async () => {
    const s = await setup("host");
    const writer = spawn("psql", ["-X", "-q", "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "-d", "crypto_data", "-c",
      "DO $$ BEGIN FOR i IN 1..400 LOOP INSERT INTO instrument_metadata VALUES ('w' || i); PERFORM pg_sleep(0.005); COMMIT; END LOOP; END $$"], { stdio: "ignore" });
    const meta = await backupPostgres(s.client, s.opts({ verify: "restore" }));
    await new Promise((r) => writer.on("close", r));
    expect(meta.restoredCounts).toEqual(meta.counts); // exact, although the table grew meanwhile
  });

  it("keeps the newest N backups and never deletes the newest verified one", async () => {
    const s = await setup("host");
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await backupPostgres(s.client, s.opts())).id);
    const left = readdirSync(s.dir).filter((f) => f.endsWith(".dump")).sort();
    expect(left).toEqual(ids.slice(-2).map((id) => `${id}.dump`).sort());
    expect(s.log.lines.filter((l) => l.startsWith("removed backup"))).toHaveLength(2);
  });
});

describe("backup-db refuses bad dumps and mismatched tools", () => {
  /** a bin dir whose pg_dump is wrapped (fault injection); psql and pg_restore are the real ones */
  function faultyBin(name: string, pgDump: string): string {
    const dir = path.join(work, name);
    mkdirSync(dir, { recursive: true });
    for (const t of ["psql", "pg_restore"]) if (!existsSync(path.join(dir, t))) symlinkSync(path.join(pg.bin, t), path.join(dir, t));
    writeFileSync(path.join(dir, "pg_dump"), `#!/bin/bash\n${pgDump}\n`);
    chmodSync(path.join(dir, "pg_dump"), 0o755);
    return dir;
  }

  it("refuses a pg_dump whose major version differs from the server's, naming the binary to use", async () => {
    const s = await setup("host");
    s.client.location.binDir = faultyBin("pg14", `if [ "$1" = --version ]; then echo "pg_dump (PostgreSQL) 14.11"; exit 0; fi; exec ${pg.bin}/pg_dump "$@"`);
    const err = await backupPostgres(s.client, s.opts()).catch((e) => e);
    expect(err.message).toContain(`pg_dump major version 14 does not match the server's major version ${pg.major}; refusing to dump. call the versioned binary /usr/lib/postgresql/${pg.major}/bin/pg_dump`);
    expect(existsSync(s.dir) ? readdirSync(s.dir) : []).toEqual([]);
  });

  it("fails on a truncated (unreadable) dump and leaves nothing under the final name", async () => {
    const s = await setup("host");
    s.client.location.binDir = faultyBin("truncating", `[ "$1" = --version ] && exec ${pg.bin}/pg_dump --version; ${pg.bin}/pg_dump "$@" | head -c 200`);
    const err = await backupPostgres(s.client, s.opts()).catch((e) => e);
    expect(err.message).toContain("pg_restore --list cannot read the dump");
    expect(readdirSync(s.dir)).toEqual([]);
  });

  it("fails on an empty dump, also when streaming to the runner", async () => {
    const s = await setup("host");
    s.client.location.binDir = faultyBin("empty", `[ "$1" = --version ] && exec ${pg.bin}/pg_dump --version; exit 0`);
    expect((await backupPostgres(s.client, s.opts()).catch((e) => e)).message).toContain("pg_dump wrote an empty file");
    expect((await backupPostgres(s.client, s.opts({ to: "runner" })).catch((e) => e)).message).toContain("pg_dump wrote an empty file");
    expect(existsSync(s.runnerDir) ? readdirSync(s.runnerDir) : []).toEqual([]);
  });
});

describe("backup-db, sqlite", () => {
  it("takes an online backup while a writer is running, checks integrity and counts rows", async () => {
    const s = await setup("host");
    const dbFile = path.join(work, "trades.db");
    execFileSync("sqlite3", [dbFile, "PRAGMA journal_mode=WAL; CREATE TABLE trades (id INTEGER PRIMARY KEY, symbol TEXT, date TEXT); CREATE INDEX idx_trades_symbol ON trades(symbol);"]);
    const writer = spawn("bash", ["-c", `for i in $(seq 1 300); do sqlite3 ${dbFile} "INSERT INTO trades (symbol, date) VALUES ('BTC', datetime('now'))"; done`], { stdio: "ignore" });
    const remote = await s.pool.get("loop");
    const dir = path.join(work, "sqlite-backups");
    const def = { engine: "sqlite" as const, on: { host: "loop" }, path: dbFile, backup: { dir, to: "host" as const, keep: 3, verify: "list" as const, tables: ["trades"] } };
    const meta = await backupSqlite(remote, "sqlite3", { ...s.opts(), def, sudo: false });
    await new Promise((r) => writer.on("close", r));
    expect(meta.verification).toBe("integrity_check");
    expect(execFileSync("sqlite3", [meta.path, "PRAGMA integrity_check"]).toString().trim()).toBe("ok");
    expect(Number(execFileSync("sqlite3", [meta.path, "SELECT count(*) FROM trades"]).toString())).toBe(meta.counts.trades);
    expect(execFileSync("sqlite3", [meta.path, ".indexes trades"]).toString()).toContain("idx_trades_symbol");
  });
});
