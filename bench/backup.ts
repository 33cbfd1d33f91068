// bench/backup: the backup-db action (bundle, Node 24) streaming pg_dump -Fc from the host to the
// runner, against raw `ssh host pg_dump -Fc > file` in the same run, on databases of about
// 10 MB, 100 MB and 1 GB. Prints the throughput ratio (target >= 0.9) and the action's peak RSS
// (target <= 150 MB and flat). BENCH_SIZES_MB=10,100 for a quicker run; BENCH_NODE_ARGS passes
// node flags to the action (e.g. "-r sampler.cjs" printing a line that starts with PEAK, shown).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { ensureNode24 } from "../scripts/node24.mjs";
import { ROOT } from "../test/harness/runner.js";
import { startPostgres } from "../test/harness/postgres.js";
import { startSshd } from "../test/harness/sshd.js";

const sizes = (process.env.BENCH_SIZES_MB ?? "10,100,1024").split(",").map(Number);
const [sshd, pg] = await Promise.all([startSshd(), startPostgres()]);
const ws = mkdtempSync(path.join(os.tmpdir(), "slipway-bench-backup-"));
const node24 = ensureNode24();
try {
  mkdirSync(path.join(ws, "environments"));
  const knownHosts = path.join(ws, "known_hosts");
  writeFileSync(knownHosts, sshd.knownHostsLine + "\n");
  console.log(`bench/backup: pg_dump -Fc streamed from the host (ssh) to the runner; PostgreSQL ${pg.major} on 127.0.0.1`);
  console.log(`${"database".padEnd(12)}${"dump".padEnd(12)}${"raw ssh".padEnd(12)}${"action".padEnd(12)}${"throughput".padEnd(14)}${"action peak RSS".padEnd(18)}`);
  for (const mb of sizes) {
    const db = `bench_${mb}`;
    pg.psql(`CREATE DATABASE ${db}`);
    // ~1 KB rows of weakly compressible text
    const rows = Math.round((mb * 1024 * 1024) / 1100);
    pg.psql(`CREATE TABLE quotes (id bigint PRIMARY KEY, payload text); INSERT INTO quotes SELECT g, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 32) i) FROM generate_series(1, ${rows}) g;`, db);
    const dbSize = pg.psql(`SELECT pg_database_size('${db}')`, db);
    writeFileSync(path.join(ws, "environments", "bench.yml"), stringify({
      hosts: { db: { address: "127.0.0.1", port: sshd.port, "host-key": sshd.hostKeyFingerprint } },
      databases: { app: { engine: "postgres", on: { host: "db", port: pg.port }, name: db, user: "postgres", backup: { to: "runner", verify: "list", keep: 1 } } },
    }));

    // baseline: one ssh command, its stdout into a file (host key pinned, like the action)
    const raw = path.join(ws, "raw.dump");
    let t = performance.now();
    const ssh = spawnSync("bash", ["-c", `ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${knownHosts} -i ${sshd.clientKeyPath} -p ${sshd.port} root@127.0.0.1 pg_dump -Fc -h 127.0.0.1 -p ${pg.port} -U postgres -d ${db} > ${raw}`]);
    const rawMs = performance.now() - t;
    if (ssh.status !== 0) throw new Error(`raw ssh pg_dump failed: ${ssh.stderr}`);
    const dumpSize = statSync(raw).size;

    // the action, as the runner runs it; /usr/bin/time reports its peak RSS
    writeFileSync(path.join(ws, "out"), "");
    writeFileSync(path.join(ws, "summary"), "");
    t = performance.now();
    const r = spawnSync("/usr/bin/time", ["-f", "maxrss_kb=%M", node24, ...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(" ") : []), path.join(ROOT, "actions/backup-db/dist/index.js")], {
      cwd: ws,
      encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SLIPWAY_SSH_KEY: sshd.clientKey, INPUT_ENVIRONMENT: "bench", "INPUT_DRY-RUN": "false", INPUT_HOSTS: "", INPUT_DATABASE: "", INPUT_TO: "", INPUT_VERIFY: "", "INPUT_RUNNER-DIR": "backups", GITHUB_OUTPUT: path.join(ws, "out"), GITHUB_STEP_SUMMARY: path.join(ws, "summary") },
    });
    const actionMs = performance.now() - t;
    if (r.status !== 0) throw new Error(`backup-db failed: ${r.stdout}${r.stderr}`);
    if (process.env.BENCH_NODE_ARGS) console.log(r.stderr.split("\n").filter((l) => l.startsWith("PEAK")).join("\n"));
    const rssMb = Number(/maxrss_kb=(\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024;
    const ratio = rawMs / actionMs;
    console.log(
      `${(Number(dbSize) / 1048576).toFixed(0).padStart(6)} MB   ${(dumpSize / 1048576).toFixed(0).padStart(5)} MB   ${(rawMs / 1000).toFixed(2).padStart(6)} s   ${(actionMs / 1000).toFixed(2).padStart(6)} s   ${ratio.toFixed(2).padStart(5)}x ${ratio >= 0.9 ? "met " : "MISS"}   ${rssMb.toFixed(0).padStart(5)} MB ${rssMb <= 150 ? "met" : "MISSED"}`,
    );
    rmSync(path.join(ws, "backups"), { recursive: true, force: true });
    rmSync(raw, { force: true });
    pg.psql(`DROP DATABASE ${db}`);
  }
  console.log("throughput = raw ssh time / action time (the action also takes a snapshot, counts rows, hashes and runs pg_restore --list)");
} finally {
  sshd.stop();
  pg.stop();
  rmSync(ws, { recursive: true, force: true });
}
