// npm run demo: boots the lab if needed and runs, as GitHub's runner would (the committed action
// bundles on Node 24), what slipway can do today against the NAS's containerised PostgreSQL:
// validate + plan, a verified backup, the backup-gated migrations (seed 004's 006 and 007), then
// a broken migration that is refused and rolled back, leaving the database as it was. The report
// is printed and written as a markdown job summary to .lab/demo-report.md.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { status, up } from "../src/lab/lab.js";
import { ssh } from "../src/lab/ssh.js";
import { host } from "../src/lab/state.js";
import { runAction, ROOT } from "../test/harness/runner.js";

const say = (m: string) => console.log(`\n▶ ${m}`);
if (process.getuid?.() !== 0) {
  console.error("npm run demo boots systemd-nspawn hosts and needs root (sudo npm run demo)");
  process.exit(1);
}
// the same packages as npm test (installs them when missing, explaining what it does)
execFileSync("node", [path.join(ROOT, "scripts/pretest.mjs")], { stdio: "inherit" });

say("Lab: 2 droplets and a Synology-like NAS (systemd-nspawn, real sshd/systemd/dockerd)");
const st = await status();
const lab = st.up && st.state ? st.state : await up({ droplets: 2, nas: 1, log: (m) => console.log(`  ${m}`) });
console.log(`  ${lab.hosts.map((h) => `${h.name} ${h.address}`).join(", ")}${st.up ? " (already up)" : ""}`);

// a fresh database for every run, so the demo always starts from the same state
const psqlNas = (sql: string, db = "app") => ssh(lab, host(lab, "nas-1"), "deploy", `sudo -n /usr/local/bin/docker exec lab-postgres psql -X -At -U postgres -d ${db} -c "${sql}"`).then((r) => r.stdout.trim());
await psqlNas("DROP DATABASE IF EXISTS demo");
await psqlNas("CREATE DATABASE demo");

const ws = mkdtempSync(path.join(os.tmpdir(), "slipway-demo-"));
mkdirSync(path.join(ws, "schema"));
mkdirSync(path.join(ws, "environments"));
const env = parse(readFileSync(lab.envFile, "utf8"));
env.databases["nas-app"] = { ...env.databases["nas-app"], name: "demo", migrations: { dir: "schema" }, backup: { verify: "restore", keep: 5, tables: ["instrument_metadata", "lifecycle_events"] } };
writeFileSync(path.join(ws, "environments", "lab.yml"), stringify(env));
const write = (name: string, sql: string) => writeFileSync(path.join(ws, "schema", name), sql);
write("006_instrument_metadata_table.sql", "CREATE TABLE IF NOT EXISTS instrument_metadata (name text PRIMARY KEY, currency text NOT NULL, is_active boolean NOT NULL DEFAULT true);\nINSERT INTO instrument_metadata VALUES ('BTC-28NOV26-90000-C', 'BTC', true), ('ETH-28NOV26-3000-P', 'ETH', true) ON CONFLICT DO NOTHING;\n");
write("007_lifecycle_events_table.sql", "CREATE TABLE IF NOT EXISTS lifecycle_events (id bigserial PRIMARY KEY, event_time timestamptz NOT NULL DEFAULT now(), event_type text NOT NULL, currency text, success boolean);\n");

const cli = (args: string[]) => execFileSync("node", [path.join(ROOT, "dist/cli/index.js"), ...args], { cwd: ws, encoding: "utf8" });
const report: string[] = ["# slipway demo report\n", `Lab: ${lab.hosts.map((h) => `\`${h.name}\` ${h.address}`).join(", ")}. Actions run as GitHub's runner runs them (bundles on Node 24).\n`];
const step = (title: string, inputs: Record<string, string>, action: string) => {
  const r = runAction(action, { environment: "lab", hosts: "", "dry-run": "false", database: "nas-app", "runner-dir": "backups", to: "", verify: "", "backup-id": "", ...inputs }, { cwd: ws, env: { GITHUB_RUN_ID: "1", GITHUB_REPOSITORY: "demo/nas-collectors", GITHUB_ACTOR: "demo" } });
  const errors = r.stdout.split("\n").filter((l) => l.startsWith("::error")).map((l) => l.replace(/^::error[^:]*::/, "").replace(/%0A/g, "\n"));
  console.log(r.summary.trim() || errors.join("\n"));
  report.push(`## ${title}\n`, r.summary || "", errors.length ? "```\n" + errors.join("\n") + "\n```\n" : "", `exit code ${r.code}${Object.keys(r.outputs).length ? `; outputs: ${Object.entries(r.outputs).map(([k, v]) => `\`${k}=${v}\``).join(", ")}` : ""}\n`);
  return r;
};

say("validate and plan the environment (npx slipway validate / plan)");
console.log(cli(["validate", "lab"]).trim());
console.log(cli(["plan", "lab"]).trim());

say("apply-migrations without a backup: refused (policy backup-before-migrate)");
step("apply-migrations without a backup (refused)", {}, "apply-migrations");

say("backup-db: pg_dump -Fc in the NAS container through sudo docker exec, verified by a test restore");
const b = step("backup-db", {}, "backup-db");

say("apply-migrations with the verified backup: 006 and 007 under the advisory lock");
step("apply-migrations", { "backup-id": b.outputs["backup-id"] ?? "" }, "apply-migrations");

say("a broken migration (008) fails mid-file: its transaction is rolled back, the error names file, line and statement");
write("008_broken.sql", "ALTER TABLE instrument_metadata ADD COLUMN expiry date;\nUPDATE instrument_metadata\n   SET expiry = 'not a date';\n");
const b2 = step("backup-db before 008", {}, "backup-db");
step("apply-migrations with a broken 008 (failed, rolled back)", { "backup-id": b2.outputs["backup-id"] ?? "" }, "apply-migrations");

say("evidence: the database after the failed 008 (checked on the NAS, not by slipway)");
const q = (sql: string) => psqlNas(sql, "demo");
const evidence = [
  `expiry column exists: ${await q("SELECT count(*) > 0 FROM information_schema.columns WHERE table_name = 'instrument_metadata' AND column_name = 'expiry'")}`,
  `history: ${(await q("SELECT string_agg(version || ' ' || success, ', ' ORDER BY version) FROM slipway_schema_history")) || "empty"}`,
  `instrument_metadata rows: ${await q("SELECT count(*) FROM instrument_metadata")}`,
];
console.log(evidence.map((e) => `  ${e}`).join("\n"));
report.push("## Evidence after the failed migration\n", evidence.map((e) => `- ${e}`).join("\n") + "\n");

const file = path.join(ROOT, ".lab", "demo-report.md");
report.push(
  "\n---\nWhat this demo does not show yet: deploy-systemd / deploy-supervisor / deploy-compose, verify-health and rollback land with issues #5–#7, the five seed systems end to end with #8.\n",
);
writeFileSync(file, report.join("\n"));
say(`report written to ${path.relative(process.cwd(), file)} (the markdown job summary); the lab keeps running: npm run lab -- down`);
