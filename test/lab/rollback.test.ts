// rollback on lab hosts, run as the runner runs it: back to the previous good release (its unit and
// env file, the crontab line a later release took over), the abandoned release marked bad and never
// chosen again, a named release by sha, migrations named in a warning, a database restored only on
// request after a safety backup, a compose stack back on its pinned images; a continuous HTTP probe
// shows the service gone for at most the restart gap.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAction, runActionAsync } from "../harness/runner.js";
import { lab, on, probe } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("*");

let ws: string;
const PORT = 8082;
const app = (version: string) => `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"${version} mode={os.environ.get('MODE', '')}".encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
`;
function release(name: string) {
  const dir = path.join(ws, "build", name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "app.py"), app(name));
  return `build/${name}`;
}
function environment(file: string, svc: Record<string, unknown> = {}, policy: Record<string, unknown> = {}) {
  const env = parse(readFileSync(lab().envFile, "utf8"));
  env.databases = { "droplet-app": { ...env.databases["droplet-app"], migrations: { dir: "migrations" }, backup: { dir: "/var/backups/slipway/rbtest" } } };
  env.services = { rb: { kind: "systemd", hosts: ["droplet-1"], "deploy-to": "/srv/rb", user: "deploy", exec: "/usr/bin/python3 app.py", env: { PORT: String(PORT), MODE: "one" }, stabilize: "1s", ...svc } };
  env.checks = [{ name: "rb answers", http: `http://127.0.0.1:${PORT}/`, from: "droplet-1", contains: "mode=", retries: 3, interval: "500ms" }];
  env.policy = { "keep-releases": 5, ...policy };
  writeFileSync(path.join(ws, "environments", file), stringify(env));
}
const GH = { GITHUB_RUN_ID: "91", GITHUB_REPOSITORY: "acme/rb", GITHUB_ACTOR: "erin" };
const deploy = (rel: string, sha: string, o: { env?: string; head?: string; backup?: string } = {}) =>
  runAction("deploy-systemd", { environment: o.env ?? "lab", hosts: "", "dry-run": "false", service: "", release: rel, sha, "lock-wait": "0", "backup-id": o.backup ?? "", "migration-head": o.head ?? "" }, { cwd: ws, env: GH });
const rollbackInputs = (inputs: Record<string, string>, env: string) => ({ environment: env, hosts: "", "dry-run": "false", service: "", to: "", "restore-db": "false", "backup-id": "", "only-if-live": "", auto: "false", reason: "", "lock-wait": "", "runner-dir": "backups", verify: "true", ...inputs });
const rollback = (inputs: Record<string, string> = {}, env = "lab") => runAction("rollback", rollbackInputs(inputs, env), { cwd: ws, env: GH });
const get = async () => (await on("droplet-1", "deploy", `curl -fsS -m 3 http://127.0.0.1:${PORT}/ || echo DOWN`)).stdout;
const ledger = async () => (await on("droplet-1", "deploy", "cat /srv/rb/_slipway/ledger.jsonl")).stdout.split("\n").map((l) => JSON.parse(l));
const wait = () => new Promise((r) => setTimeout(r, 1100));

const cleanup = async () => {
  await on("droplet-1", "root", "systemctl disable --now rb.service 2>/dev/null; rm -f /etc/systemd/system/rb.service; systemctl daemon-reload; systemctl reset-failed; rm -rf /srv/rb /var/backups/slipway/rbtest; crontab -u deploy -r 2>/dev/null; su postgres -c \"psql -q -d app -c 'drop table if exists rb_items'\"; true");
};
beforeAll(async () => {
  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-lab-rollback-"));
  mkdirSync(path.join(ws, "environments"));
  mkdirSync(path.join(ws, "migrations"));
  for (const m of ["001_a.sql", "002_add_prices.sql", "003_add_index.sql"]) writeFileSync(path.join(ws, "migrations", m), "select 1;\n");
  environment("lab.yml");
  environment("lab-cron.yml", { env: { PORT: String(PORT), MODE: "two" }, "replaces-cron": { user: "deploy", match: "rb_collector" } });
  await cleanup();
});
afterAll(cleanup);

describe("rollback (systemd)", () => {
  const ids: Record<string, string> = {};
  it("returns to the previous good release: its unit and env, the crontab line it ran from; the abandoned release is marked bad", async () => {
    expect(deploy(release("v1"), "1111111aaaa", { head: "001" }).code).toBe(0);
    ids.v1 = (await ledger()).at(-1).release;
    await on("droplet-1", "deploy", `printf '%s\\n' '*/5 * * * * /usr/bin/python3 /opt/rb_collector.py' | crontab -`);
    await wait();
    const d2 = deploy(release("v2"), "2222222bbbb", { env: "lab-cron", head: "003" });
    expect(d2.code, d2.stdout).toBe(0);
    ids.v2 = d2.outputs["release-id"]!;
    expect(await get()).toBe("v2 mode=two");
    expect((await on("droplet-1", "deploy", "crontab -l || true")).stdout).toBe("");

    const { value: r, maxGapMs, failures, polls } = await probe(`http://${lab().hosts.find((h) => h.name === "droplet-1")!.address}:${PORT}/`, () => runActionAsync("rollback", rollbackInputs({}, "lab-cron"), { cwd: ws, env: GH }));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs["release-id"]).toBe(ids.v1);
    expect(await get()).toBe("v1 mode=one"); // v1's env file came back with v1
    expect((await on("droplet-1", "deploy", "readlink /srv/rb/current; crontab -l")).stdout).toBe(`releases/${ids.v1}\n*/5 * * * * /usr/bin/python3 /opt/rb_collector.py`);
    expect(r.stdout).toContain("keeps the migrations applied since: 002_add_prices.sql, 003_add_index.sql");
    expect(r.summary).toContain("↩️ rolled back");
    expect(r.stdout).toContain("rolled back and verified: 1 check(s) passed");
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "rollback", release: ids.v1, abandoned: ids.v2, bad: true, actor: "erin" });
    console.log(`rollback under probe: ${polls} polls, ${failures} failed, longest gap ${maxGapMs} ms`);
    expect(polls).toBeGreaterThan(5);
    expect(maxGapMs).toBeLessThan(3000); // one restart, not an outage
  });

  it("the bad release is never chosen as previous again; a named release (by sha) works", async () => {
    await wait();
    expect(deploy(release("v3"), "3333333cccc").code).toBe(0);
    const r = rollback();
    expect(r.code, r.stdout).toBe(0);
    expect(r.outputs["release-id"]).toBe(ids.v1); // not v2: it is marked bad
    const named = rollback({ to: "2222222" }); // by hand, an operator may still pick it
    expect(named.code, named.stdout).toBe(0);
    expect(await get()).toBe("v2 mode=two");
    const unknown = rollback({ to: "9999999" });
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain("no successful deploy of 9999999 in the ledger");
  });

  it("only-if-live skips hosts where the run's release is not live; auto obeys the policy", async () => {
    const live = (await ledger()).at(-1).release;
    const skip = rollback({ "only-if-live": "20990101T000000000Z-0000000" });
    expect(skip.code).toBe(0);
    expect(skip.summary).toContain("is not live here");
    const auto = rollback({ auto: "true" });
    expect(auto.code).toBe(0);
    expect(auto.stdout).toContain("policy auto-rollback is off");
    expect((await ledger()).at(-1).release).toBe(live);
  });

  it("restore-db restores the named backup into the live database, after a safety backup", async () => {
    const psql = (sql: string) => on("droplet-1", "deploy", `psql -X -qAt -d app -c ${JSON.stringify(sql)}`);
    await psql("create table rb_items (id int); insert into rb_items values (1)");
    const b = runAction("backup-db", { environment: "lab", hosts: "", "dry-run": "false", database: "droplet-app", to: "", "runner-dir": "backups", verify: "" }, { cwd: ws, env: GH });
    expect(b.code, b.stdout).toBe(0);
    await psql("insert into rb_items values (2), (3)");
    const r = rollback({ to: "1111111", "restore-db": "true", "backup-id": b.outputs["backup-id"]! });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs["restored-db"]).toBe("true");
    expect((await psql("select count(*) from rb_items")).stdout).toBe("1");
    expect(r.stdout).toMatch(/safety backup of droplet-app before the restore: droplet-app-\S+/);
    expect((await on("droplet-1", "deploy", "ls /var/backups/slipway/rbtest | grep -c '\\.dump$'")).stdout).toBe("2");
    // rollback.yml's restore job: the code is already back (to = the live release), only the database is restored
    await psql("insert into rb_items values (4)");
    const job = rollback({ to: `${r.outputs["release-id"]} 20990101T000000000Z-0000000`, "restore-db": "true", "backup-id": b.outputs["backup-id"]! });
    expect(job.code, job.stdout + job.stderr).toBe(0);
    expect(job.summary).toContain("is already live");
    expect((await psql("select count(*) from rb_items")).stdout).toBe("1");
  });
});
