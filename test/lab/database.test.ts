// backup-db and apply-migrations on the lab: the PostgreSQL on a droplet (psql/pg_dump as the
// deploy user, peer auth, backup dir made through the limited sudo) and the one in a container
// on the NAS (sudo /usr/local/bin/docker exec, as on a Synology), run as the runner runs them.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { stopDatabase } from "../../src/lab/faults.js";
import { host } from "../../src/lab/state.js";
import { runAction } from "../harness/runner.js";
import { lab, on } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("droplet-1", "nas-1");

let ws: string;
beforeAll(() => {
  const s = lab();
  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-lab-db-"));
  mkdirSync(path.join(ws, "schema"));
  mkdirSync(path.join(ws, "environments"));
  writeFileSync(path.join(ws, "schema", "006_instrument_metadata_table.sql"), "CREATE TABLE instrument_metadata (name text PRIMARY KEY, currency text, is_active boolean NOT NULL DEFAULT true);\nINSERT INTO instrument_metadata VALUES ('BTC-1', 'BTC', true), ('ETH-1', 'ETH', true);\n");
  writeFileSync(path.join(ws, "schema", "007_lifecycle_events_table.sql"), "CREATE TABLE lifecycle_events (id serial PRIMARY KEY, event_type text, currency text, success boolean);\n");
  const env = parse(readFileSync(s.envFile, "utf8"));
  for (const db of ["droplet-app", "nas-app"]) env.databases[db] = { ...env.databases[db], migrations: { dir: "schema" }, backup: { verify: "restore", keep: 3, tables: ["instrument_metadata"] } };
  writeFileSync(path.join(ws, "environments", "lab.yml"), stringify(env));
});

const run = (action: string, inputs: Record<string, string>) =>
  runAction(action, { environment: "lab", hosts: "", "dry-run": "false", database: "", "runner-dir": "backups", to: "", verify: "", "backup-id": "", ...inputs }, { cwd: ws, env: { GITHUB_RUN_ID: "7" } });

describe.each([
  { db: "droplet-app", hostName: "droplet-1", sql: (q: string) => on("droplet-1", "deploy", `psql -X -At -d app -c ${JSON.stringify(q)}`) },
  { db: "nas-app", hostName: "nas-1", sql: (q: string) => on("nas-1", "deploy", `sudo -n /usr/local/bin/docker exec lab-postgres psql -X -At -U postgres -d app -c ${JSON.stringify(q)}`) },
])("database $db on $hostName", ({ db, hostName, sql }) => {
  it("backs up (verified by a restore), then applies the migrations under the backup gate", async () => {
    // from the state the lab boots with, also on a lab an earlier run left up
    await sql("DROP TABLE IF EXISTS instrument_metadata, lifecycle_events, slipway_schema_history");
    const b = run("backup-db", { database: db });
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(b.outputs.verified).toBe("true");
    expect(b.outputs.path).toBe(`/var/backups/slipway/${db}/${b.outputs["backup-id"]}.dump`);
    const listed = await on(hostName, "deploy", `stat -c '%U %a %s' ${b.outputs.path} && sha256sum ${b.outputs.path}`);
    expect(listed.stdout).toContain(`deploy 600 ${b.outputs.size}`);
    expect(listed.stdout).toContain(b.outputs.sha256);

    const m = run("apply-migrations", { database: db, "backup-id": b.outputs["backup-id"]! });
    expect(m.code, m.stdout + m.stderr).toBe(0);
    expect(m.outputs).toMatchObject({ applied: "2", pending: "0", head: "007" });
    expect(JSON.parse(m.outputs.migrations!).map((x: { name: string; class: string }) => `${x.name}=${x.class}`)).toEqual(["006_instrument_metadata_table.sql=expand", "007_lifecycle_events_table.sql=expand"]);
    expect((await sql("SELECT currency, count(*) FROM instrument_metadata GROUP BY currency ORDER BY 1")).stdout).toBe("BTC|1\nETH|1");
    expect((await sql("SELECT count(*) FROM slipway_schema_history WHERE success")).stdout).toBe("2");

    const again = run("backup-db", { database: db, to: "runner" });
    expect(again.code, again.stdout).toBe(0);
    expect(again.summary).toContain("| public.instrument_metadata | 2 |");
  });

  it("fails clearly, naming the database and host, when the database is down, and changes nothing", async () => {
    const s = lab();
    await stopDatabase(s, host(s, hostName), true);
    try {
      const b = run("backup-db", { database: db });
      expect(b.code).toBe(1);
      expect(b.stdout).toMatch(new RegExp(`::error::backup-db: backup of ${db} \\(postgres app (on|in container lab-postgres on) ${hostName}\\) failed at "pg_dump"`));
      const leftovers = await on(hostName, "deploy", `ls -A /var/backups/slipway/${db} | grep -c partial || true`);
      expect(leftovers.stdout).toBe("0");
    } finally {
      await stopDatabase(s, host(s, hostName), false);
    }
  });
});
