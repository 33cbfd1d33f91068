// Rollbacks that know the schema (issue: schema-aware safety), on a lab droplet with its real
// PostgreSQL and systemd, every action run as the runner runs it: a contract migration (DROP COLUMN)
// is applied with a release whose verification then fails; the automatic rollback is refused with
// the migration named and the service stays on the new release (a probe sees no gap); rollback with
// restore-db brings the code and the dropped column's data back together; a code-only rollback with
// allow-contract goes through and the ledger records why.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actionSpecs, inputsOf, type ActionName } from "../../src/actions/specs.js";
import { runAction, runActionAsync } from "../harness/runner.js";
import { lab, on, probe } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("droplet-1");

const PORT = 8084;
const BACKUPS = "/var/backups/slipway/cttest";
let ws: string;
const GH = { GITHUB_RUN_ID: "6100", GITHUB_REPOSITORY: "acme/ct", GITHUB_ACTOR: "erin" };
const defaults = (name: ActionName) => Object.fromEntries(Object.entries(inputsOf(actionSpecs[name])).map(([k, v]) => [k, v.default ?? ""]));
const act = (name: ActionName, inputs: Record<string, string> = {}, run = GH.GITHUB_RUN_ID) =>
  runAction(name, { ...defaults(name), "github-token": "", environment: "lab", ...inputs }, { cwd: ws, env: { ...GH, GITHUB_RUN_ID: run } });
/** the same, in a child process while this one keeps probing */
const actAsync = (name: ActionName, inputs: Record<string, string>, run: string) =>
  runActionAsync(name, { ...defaults(name), "github-token": "", environment: "lab", ...inputs }, { cwd: ws, env: { ...GH, GITHUB_RUN_ID: run } });
const psql = async (sql: string) => (await on("droplet-1", "deploy", `psql -X -qAt -d app -c ${JSON.stringify(sql)}`)).stdout;
const get = async () => (await on("droplet-1", "deploy", `curl -fsS -m 3 http://127.0.0.1:${PORT}/ || echo DOWN`)).stdout;
const ledger = async () => (await on("droplet-1", "deploy", "cat /srv/ct/_slipway/ledger.jsonl")).stdout.split("\n").map((l) => JSON.parse(l));
const url = () => `http://${lab().hosts.find((h) => h.name === "droplet-1")!.address}:${PORT}/`;

function release(name: string, body: string) {
  const dir = path.join(ws, "build", name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, "app.py"),
    `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(${JSON.stringify(body)}.encode())
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
`,
  );
  return `build/${name}`;
}

/** One deploy job as deploy-environment.yml runs it: backup-db, apply-migrations, deploy-systemd (its outputs handed on), verify-health. */
function deployJob(rel: string, sha: string, run: string) {
  const backup = act("backup-db", {}, run);
  expect(backup.code, backup.stdout).toBe(0);
  const migrate = act("apply-migrations", { "backup-id": backup.outputs["backup-id"]! }, run);
  expect(migrate.code, migrate.stdout).toBe(0);
  const deploy = act("deploy-systemd", { release: rel, sha, "backup-id": backup.outputs["backup-id"]!, "migration-head": migrate.outputs.head!, migrations: migrate.outputs.migrations! }, run);
  expect(deploy.code, deploy.stdout).toBe(0);
  return { backup, migrate, deploy, verify: act("verify-health", {}, run) };
}

const cleanup = () =>
  on("droplet-1", "root", `systemctl disable --now ct.service 2>/dev/null; rm -f /etc/systemd/system/ct.service; systemctl daemon-reload; systemctl reset-failed; rm -rf /srv/ct ${BACKUPS}; su postgres -c "psql -q -d app -c 'drop table if exists ct_items; drop table if exists ct_history'"; true`);

beforeAll(async () => {
  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-lab-contract-"));
  mkdirSync(path.join(ws, "environments"));
  mkdirSync(path.join(ws, "migrations"));
  writeFileSync(path.join(ws, "migrations", "001_items.sql"), "CREATE TABLE ct_items (id int PRIMARY KEY, note text);\nINSERT INTO ct_items VALUES (1, 'first'), (2, 'second');\n");
  const env = parse(readFileSync(lab().envFile, "utf8"));
  env.databases = { "droplet-app": { ...env.databases["droplet-app"], migrations: { dir: "migrations", table: "ct_history" }, backup: { dir: BACKUPS } } };
  env.services = { ct: { kind: "systemd", hosts: ["droplet-1"], "deploy-to": "/srv/ct", user: "deploy", exec: "/usr/bin/python3 app.py", env: { PORT: String(PORT) }, stabilize: "1s" } };
  env.checks = [{ name: "ct is healthy", http: `http://127.0.0.1:${PORT}/`, from: "droplet-1", contains: "healthy", retries: 2, interval: "500ms" }];
  env.policy = { "auto-rollback": true, "keep-releases": 5 };
  writeFileSync(path.join(ws, "environments", "lab.yml"), stringify(env));
  await cleanup();
});
afterAll(cleanup);

describe("rollback past a contract migration", () => {
  const ids: Record<string, string> = {};
  it("an automatic rollback after a failed verify is refused, naming the migration: the new release keeps serving, the ledger and lock are consistent", async () => {
    const v1 = deployJob(release("v1", "v1 healthy"), "1111111aaaaaaa", "6101");
    expect(v1.verify.code, v1.verify.stdout).toBe(0);
    ids.v1 = v1.deploy.outputs["release-id"]!;

    writeFileSync(path.join(ws, "migrations", "002_drop_note.sql"), "SET lock_timeout = '5s';\n-- slipway:allow ban-drop-column v2 keeps notes in the app's log\nALTER TABLE ct_items DROP COLUMN note;\n");
    const v2 = deployJob(release("v2", "v2 degraded"), "2222222bbbbbbb", "6102");
    ids.v2 = v2.deploy.outputs["release-id"]!;
    expect(JSON.parse(v2.migrate.outputs.migrations!)).toEqual([{ database: "droplet-app", name: "002_drop_note.sql", class: "contract" }]);
    expect(v2.verify.code).toBe(1); // "degraded" is not "healthy"
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "success", release: ids.v2, migrationHead: "002", migrations: [{ database: "droplet-app", name: "002_drop_note.sql", class: "contract" }] });

    // deploy-environment.yml's auto-rollback step, under a probe
    const { value: auto, maxGapMs, served } = await probe(url(), () => actAsync("rollback", { auto: "true", "only-if-live": ids.v2!, reason: "verification failed in run 6102" }, "6102"));
    expect(auto.code).toBe(1);
    expect(auto.outputs.refused).toContain(`[droplet-1] refusing to roll ct back to ${ids.v1}: the database has 1 contract migration(s) applied after that release: 002_drop_note.sql (droplet-app)`);
    expect(auto.stdout).toContain("Roll back with restore-db (code and database go back together), or roll back the code alone with allow-contract");
    expect(served).toEqual(["v2 degraded"]); // nothing changed: the new release served throughout
    expect(maxGapMs).toBeLessThan(1500);
    expect(await get()).toBe("v2 degraded");
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "success", release: ids.v2 }); // no line for a refused rollback
    expect((await on("droplet-1", "deploy", "test -e /srv/ct/_slipway/lock && echo held || echo free")).stdout).toBe("free");

    // a dispatched rollback without restore-db is refused the same way
    const byHand = act("rollback", {}, "6103");
    expect(byHand.code).toBe(1);
    expect(byHand.outputs.refused).toContain("002_drop_note.sql (droplet-app)");
    expect(await get()).toBe("v2 degraded");
  });

  it("rollback with restore-db brings code and data back together; allow-contract rolls the code alone and records why", async () => {
    expect(await psql("select count(*) from information_schema.columns where table_name = 'ct_items' and column_name = 'note'")).toBe("0");
    const { value: r, served } = await probe(url(), () => actAsync("rollback", { "restore-db": "true", reason: "v2 is degraded" }, "6104"));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs).toMatchObject({ "release-id": ids.v1, "restored-db": "true" });
    expect(r.outputs.refused ?? "").toBe("");
    expect(served).toEqual(["v2 degraded", "v1 healthy"]);
    // the backup taken before 002 ran: the column and its values are back, with the code that reads them
    expect(await psql("select string_agg(id || '=' || note, ',' order by id) from ct_items")).toBe("1=first,2=second");
    expect(await psql("select string_agg(version, ',' order by version) from ct_history")).toBe("001");
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "rollback", release: ids.v1, abandoned: ids.v2, contractCrossed: [{ name: "002_drop_note.sql" }], contractAllowed: "restore-db: the database goes back with the code" });

    // v3 applies 002 again and is healthy; rolling back to v1 without the database needs a reason
    const v3 = deployJob(release("v3", "v3 healthy"), "3333333ccccccc", "6105");
    expect(v3.verify.code, v3.verify.stdout).toBe(0);
    const code = act("rollback", { to: ids.v1!, "allow-contract": "v1 never reads note" }, "6106");
    expect(code.code, code.stdout).toBe(0);
    expect(await get()).toBe("v1 healthy");
    expect(await psql("select count(*) from information_schema.columns where table_name = 'ct_items' and column_name = 'note'")).toBe("0"); // the schema stayed
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "rollback", release: ids.v1, contractCrossed: [{ name: "002_drop_note.sql", class: "contract" }], contractAllowed: "allow-contract: v1 never reads note" });
  });
});
