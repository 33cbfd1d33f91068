// bench/migrate: 200 small migrations applied by the apply-migrations action (the bundle, on
// Node 24, through ssh to the host's psql) against `psql -1 -f` of the same SQL in one file, both
// measured in this run on a real PostgreSQL. Target: <= 2x.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { runAction } from "../test/harness/runner.js";
import { startPostgres } from "../test/harness/postgres.js";
import { startSshd } from "../test/harness/sshd.js";

const N = Number(process.env.BENCH_MIGRATIONS ?? 200);
const [sshd, pg] = await Promise.all([startSshd(), startPostgres()]);
try {
  const ws = mkdtempSync(path.join(os.tmpdir(), "slipway-bench-migrate-"));
  mkdirSync(path.join(ws, "schema"));
  mkdirSync(path.join(ws, "environments"));
  const all: string[] = [];
  for (let i = 1; i <= N; i++) {
    const sql = `CREATE TABLE t_${i} (id serial PRIMARY KEY, v text);\nINSERT INTO t_${i} (v) VALUES ('a'), ('b');\nCREATE INDEX ON t_${i} (v);\n`;
    writeFileSync(path.join(ws, "schema", `${String(i).padStart(4, "0")}_table_${i}.sql`), sql);
    all.push(sql);
  }
  writeFileSync(path.join(ws, "all.sql"), all.join(""));
  writeFileSync(path.join(ws, "environments", "bench.yml"), stringify({
    hosts: { db: { address: "127.0.0.1", port: sshd.port, "host-key": sshd.hostKeyFingerprint } },
    databases: { app: { engine: "postgres", on: { host: "db", port: pg.port }, name: "slipway_run", user: "postgres", migrations: { dir: "schema" } } },
    policy: { "backup-before-migrate": false },
  }));
  pg.psql("CREATE DATABASE psql_run");
  pg.psql("CREATE DATABASE slipway_run");

  let t = performance.now();
  execFileSync("psql", ["-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "-d", "psql_run", "-f", path.join(ws, "all.sql")]);
  const baseline = performance.now() - t;

  t = performance.now();
  const r = runAction("apply-migrations", { environment: "bench", hosts: "", "dry-run": "false", database: "", "backup-id": "", "runner-dir": "backups" }, { cwd: ws, env: { SLIPWAY_SSH_KEY: sshd.clientKey } });
  const action = performance.now() - t;
  if (r.code !== 0 || r.outputs.applied !== String(N)) throw new Error(`apply-migrations failed: ${r.stdout}${r.stderr}`);
  const rows = pg.psql("SELECT count(*) FROM slipway_schema_history", "slipway_run");

  console.log(`bench/migrate: ${N} migrations (${rows} recorded in the history table)`);
  console.log(`  psql -1 -f all.sql (one transaction, local)           ${baseline.toFixed(0)} ms`);
  console.log(`  apply-migrations action (Node 24, ssh, lock, history)  ${action.toFixed(0)} ms`);
  console.log(`  ratio ${(action / baseline).toFixed(2)}x (target <= 2x): ${action / baseline <= 2 ? "met" : "MISSED"}`);
} finally {
  sshd.stop();
  pg.stop();
}
