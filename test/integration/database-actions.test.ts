// backup-db and apply-migrations run as the runner runs them (bundles, INPUT_*, GITHUB_OUTPUT,
// GITHUB_STEP_SUMMARY, Node 24) against the real sshd + PostgreSQL of the harness.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAction } from "../harness/runner.js";
import { startPostgres, type Postgres } from "../harness/postgres.js";
import { startSshd, type Sshd } from "../harness/sshd.js";

let sshd: Sshd;
let pg: Postgres;
let ws: string;
beforeAll(async () => {
  [sshd, pg] = await Promise.all([startSshd(), startPostgres()]);
  pg.psql("CREATE DATABASE crypto_data");
  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-ws-"));
  mkdirSync(path.join(ws, "schema"));
  writeFileSync(path.join(ws, "schema", "001_quotes.sql"), "CREATE TABLE btc_option_quotes (id bigserial PRIMARY KEY, price numeric);\nINSERT INTO btc_option_quotes (price) SELECT g FROM generate_series(1, 50) g;\n");
  writeFileSync(path.join(ws, "schema", "006_instrument_metadata_table.sql"), "CREATE TABLE instrument_metadata (name text PRIMARY KEY, is_active boolean DEFAULT true);\n");
  mkdirSync(path.join(ws, "environments"));
  writeFileSync(
    path.join(ws, "environments", "lab.yml"),
    stringify({
      hosts: { nas: { address: "127.0.0.1", port: sshd.port, user: "root", "host-key": sshd.hostKeyFingerprint } },
      databases: {
        crypto: {
          engine: "postgres", on: { host: "nas", port: pg.port }, name: "crypto_data", user: "postgres",
          migrations: { dir: "schema" }, backup: { dir: path.join(ws, "host-backups"), verify: "restore", tables: ["btc_option_quotes"] },
        },
      },
    }),
  );
});
afterAll(() => {
  sshd?.stop();
  pg?.stop();
});

const run = (action: string, inputs: Record<string, string>, env: Record<string, string> = {}) =>
  runAction(action, { environment: "lab", hosts: "", "dry-run": "false", database: "", "runner-dir": "backups", ...inputs }, { cwd: ws, env: { SLIPWAY_SSH_KEY: sshd.clientKey, GITHUB_RUN_ID: "4242", GITHUB_REPOSITORY: "acme/nas", GITHUB_ACTOR: "alice", ...env } });

describe("backup-db then apply-migrations, as in a deploy job", () => {
  it("dry-run apply-migrations lists what is pending and changes nothing", () => {
    const r = run("apply-migrations", { "dry-run": "true", "backup-id": "" });
    expect(r.code, r.stdout).toBe(0);
    expect(r.outputs).toMatchObject({ applied: "0", pending: "2" });
    expect(r.stdout).toContain("pending migrations on postgres crypto_data on nas:");
    expect(pg.psql("SELECT to_regclass('slipway_schema_history') IS NULL", "crypto_data")).toBe("t");
  });

  it("refuses to migrate without a verified backup from this run", () => {
    const r = run("apply-migrations", { "backup-id": "" });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("::error::apply-migrations: refusing to migrate crypto: no backup-id given; run backup-db for crypto earlier in this job");
    expect(pg.psql("SELECT to_regclass('btc_option_quotes') IS NULL", "crypto_data")).toBe("t");
  });

  it("backs up, then migrates with the backup's id; outputs and summaries say what happened", () => {
    const b = run("backup-db", { to: "", verify: "" });
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(b.outputs["backup-id"]).toMatch(/^crypto-\d{8}T\d{9}Z-r4242-[0-9a-f]{4}$/);
    expect(b.outputs.verified).toBe("true");
    expect(b.outputs.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Number(b.outputs.size)).toBeGreaterThan(0);
    expect(b.summary).toContain("| crypto | " + b.outputs["backup-id"]);
    const printed = b.stdout.split("\n").filter((l) => !l.startsWith("::add-mask::")).join("\n");
    expect(printed).not.toContain(sshd.clientKey.split("\n")[1]!); // the key is only ever registered as a mask

    const other = run("apply-migrations", { "backup-id": b.outputs["backup-id"]! }, { GITHUB_RUN_ID: "9999" });
    expect(other.code).toBe(1);
    expect(other.stdout).toContain("was made in run 4242, not this run (9999)");

    const m = run("apply-migrations", { "backup-id": b.outputs["backup-id"]! });
    expect(m.code, m.stdout + m.stderr).toBe(0);
    expect(m.outputs).toEqual({
      applied: "2",
      pending: "0",
      head: "006",
      migrations: JSON.stringify([{ database: "crypto", name: "001_quotes.sql", class: "expand" }, { database: "crypto", name: "006_instrument_metadata_table.sql", class: "expand" }]),
    });
    expect(m.summary).toContain("| crypto | 001_quotes.sql (expand), 006_instrument_metadata_table.sql (expand) | none | 006 |");
    expect(pg.psql("SELECT string_agg(version || '=' || class, ',' ORDER BY version) FROM slipway_schema_history", "crypto_data")).toBe("001=expand,006=expand");
    expect(pg.psql("SELECT applied_by FROM slipway_schema_history WHERE version = '001'", "crypto_data")).toBe("https://github.com/acme/nas/actions/runs/4242 (alice)");

    const b2 = run("backup-db", { to: "runner", verify: "list" });
    expect(b2.code).toBe(0);
    expect(b2.outputs.path).toBe(path.join(ws, "backups", `${b2.outputs["backup-id"]}.dump`));
    expect(b2.summary).toContain("| public.btc_option_quotes | 50 |");
  });
});

describe("hosts.<h>.commands.pg_dump / psql / pg_restore", () => {
  it("the host's own client commands run the backup (each call recorded by a wrapper), not the ones on PATH", () => {
    const bin = path.join(ws, "host-bin");
    mkdirSync(bin, { recursive: true });
    const calls = path.join(ws, "client-calls");
    for (const tool of ["psql", "pg_dump", "pg_restore"]) {
      writeFileSync(path.join(bin, `my-${tool}`), `#!/bin/sh\necho ${tool} >> ${calls}\nexec /usr/bin/${tool} "$@"\n`, { mode: 0o755 });
    }
    const env = parse(readFileSync(path.join(ws, "environments", "lab.yml"), "utf8"));
    env.hosts.nas.commands = { psql: path.join(bin, "my-psql"), pg_dump: path.join(bin, "my-pg_dump"), pg_restore: path.join(bin, "my-pg_restore") };
    writeFileSync(path.join(ws, "environments", "own-clients.yml"), stringify(env));
    const b = run("backup-db", { environment: "own-clients", to: "", verify: "restore" });
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(b.outputs.verified).toBe("true");
    // pg_dump (and its --version), psql (the snapshot, the counts, the scratch database), pg_restore (--list and the restore check)
    expect([...new Set(readFileSync(calls, "utf8").trim().split("\n"))].sort()).toEqual(["pg_dump", "pg_restore", "psql"]);
  });
});

describe("the migration lint in apply-migrations (PostgreSQL's parser)", () => {
  it("refuses a pending migration that drops a table before applying anything, annotated at its line; allowed with a reason, it applies", () => {
    writeFileSync(path.join(ws, "schema", "007_drop_quotes.sql"), "-- the quotes moved to the archive\n\nDROP TABLE btc_option_quotes;\n");
    const b = run("backup-db", { to: "", verify: "" });
    expect(b.code, b.stdout).toBe(0);
    const refused = run("apply-migrations", { "backup-id": b.outputs["backup-id"]! });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^::error file=schema\/007_drop_quotes\.sql,line=3,col=1::schema\/007_drop_quotes\.sql:3:1: error \[ban-drop-table\] DROP TABLE btc_option_quotes/m);
    expect(refused.stdout).toMatch(/^::warning file=schema\/007_drop_quotes\.sql,line=3,col=1::.*\[require-lock-timeout\]/m);
    expect(refused.stdout).toContain("::error::apply-migrations: refusing to migrate crypto: 1 error-level finding(s) of the migration lint in pending migrations, nothing was applied:");
    expect(refused.stdout).toContain("add `-- slipway:allow <rule> <reason>` above the statement");
    expect(pg.psql("SELECT to_regclass('btc_option_quotes') IS NOT NULL", "crypto_data")).toBe("t");
    expect(pg.psql("SELECT max(version) FROM slipway_schema_history", "crypto_data")).toBe("006");

    writeFileSync(path.join(ws, "schema", "007_drop_quotes.sql"), "-- the quotes moved to the archive\n-- slipway:allow ban-drop-table archived in crypto_archive.quotes (ticket 42)\nDROP TABLE btc_option_quotes;\n");
    const b2 = run("backup-db", { to: "", verify: "" });
    const applied = run("apply-migrations", { "backup-id": b2.outputs["backup-id"]! });
    expect(applied.code, applied.stdout).toBe(0);
    expect(applied.stdout).toContain("allowed [ban-drop-table] DROP TABLE btc_option_quotes");
    expect(applied.stdout).toContain("(archived in crypto_archive.quotes (ticket 42))");
    expect(applied.outputs).toMatchObject({ applied: "1", head: "007", migrations: JSON.stringify([{ database: "crypto", name: "007_drop_quotes.sql", class: "contract" }]) });
    expect(applied.stdout).toContain("007_drop_quotes.sql is a contract migration (line 3: DROP TABLE btc_option_quotes: deletes the table and every row in it): once it is applied, rolling the code back past this release needs restore-db");
    expect(pg.psql("SELECT to_regclass('btc_option_quotes') IS NULL", "crypto_data")).toBe("t");
    // the history knows expand from contract, and why the lint let it through
    expect(pg.psql("SELECT class || ' | ' || lint_allowed FROM slipway_schema_history WHERE version = '007'", "crypto_data")).toBe("contract | ban-drop-table: archived in crypto_archive.quotes (ticket 42)");
  });
});
