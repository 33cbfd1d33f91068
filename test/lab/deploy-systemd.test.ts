// deploy-systemd on lab droplets (real systemd, the deploy user with its limited sudo), run as the
// runner runs it: first deploy, redeploy, a release that crashes on start, a unit that fails
// verification, lock contention, two hosts with one failing.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { ROOT, runAction, runActionAsync } from "../harness/runner.js";
import { lab, on } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("droplet-1", "droplet-2");

let ws: string;
const PORT = 8081;
const app = (version: string, extra = "") => `import http.server, os, sys
VERSION = ${JSON.stringify(version)}
${extra}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{VERSION} token={len(os.environ.get('TOKEN', ''))}".encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
`;

function release(name: string, code: string, files: Record<string, string> = {}) {
  const dir = path.join(ws, "build", name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "app.py"), code);
  for (const [f, c] of Object.entries(files)) writeFileSync(path.join(dir, f), c);
  return `build/${name}`;
}

function environment(file: string, web: Record<string, unknown>) {
  const env = parse(readFileSync(lab().envFile, "utf8"));
  delete env.databases;
  env.services = {
    web: { kind: "systemd", hosts: ["droplet-1"], "deploy-to": "/srv/web", user: "deploy", exec: "/usr/bin/python3 app.py", env: { PORT: String(PORT) }, "secret-env": { TOKEN: "WEB_TOKEN" }, stabilize: "3s", hardening: "basic", shared: ["logs"], ...web },
  };
  env.policy = { "keep-releases": 3 };
  writeFileSync(path.join(ws, "environments", file), stringify(env));
}

const deploy = (rel: string, o: { env?: string; sha?: string; extraEnv?: Record<string, string> } = {}) =>
  runAction("deploy-systemd", { environment: o.env ?? "lab", hosts: "", "dry-run": "false", service: "", release: rel, sha: o.sha ?? "1111111aaaa", "lock-wait": "0", "backup-id": "webdb-20261123T100000000Z-r77-abcd", "migration-head": "007" }, { cwd: ws, env: { WEB_TOKEN: "s3cret-token-value", GITHUB_RUN_ID: "77", GITHUB_REPOSITORY: "acme/web", GITHUB_ACTOR: "alice", ...o.extraEnv } });
const get = async (hostName: string) => (await on(hostName, "deploy", `curl -fsS -m 3 http://127.0.0.1:${PORT}/ || echo DOWN`)).stdout;
const ledger = async (hostName = "droplet-1") => (await on(hostName, "deploy", "cat /srv/web/_slipway/ledger.jsonl")).stdout.split("\n").map((l) => JSON.parse(l));

beforeAll(async () => {
  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-lab-deploy-"));
  mkdirSync(path.join(ws, "environments"));
  environment("lab.yml", {});
  await cleanup();
});

// leave the hosts as a fresh droplet: other test files expect an empty /srv
const cleanup = async () => {
  for (const h of ["droplet-1", "droplet-2"])
    await on(h, "root", "systemctl disable --now web.service 2>/dev/null; rm -f /etc/systemd/system/web.service /etc/logrotate.d/slipway-web; systemctl daemon-reload; systemctl reset-failed; rm -rf /srv/web; crontab -u deploy -r 2>/dev/null; true");
};
afterAll(cleanup);

describe("deploy-systemd", () => {
  it("first deploy: release dir, unit installed and enabled, env file 0600 with the secret, running", async () => {
    const r = deploy(release("v1", app("v1")));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs["release-id"]).toMatch(/^\d{8}T\d{9}Z-1111111$/);
    expect(JSON.parse(r.outputs.hosts!)).toEqual({ "droplet-1": { release: r.outputs["release-id"], outcome: "success", execs: expect.any(Number) } });
    expect(JSON.parse(r.outputs.hosts!)["droplet-1"].execs).toBe(1); // lock, upload, stage, switch+restart, ledger, unlock: one script
    expect(await get("droplet-1")).toBe("v1 token=18");
    const facts = await on("droplet-1", "deploy", "readlink /srv/web/current; systemctl is-enabled web.service; stat -c '%a %U' /srv/web/current/_slipway/env; readlink /srv/web/current/logs");
    expect(facts.stdout.split("\n")).toEqual([`releases/${r.outputs["release-id"]}`, "enabled", "600 deploy", "/srv/web/shared/logs"]);
    expect(r.stdout).toContain("::add-mask::s3cret-token-value"); // masked before use
    expect(r.stdout.split("\n").filter((l) => !l.startsWith("::add-mask::")).join("\n")).not.toContain("s3cret-token-value");
    expect(r.summary).toContain("| droplet-1 | ✅ deployed |");
    expect(r.summary).toMatch(/\| host \| lock \| upload \| stage \| switch\+restart \| ledger \| total \|\n.*\n\| droplet-1 \| \d/); // hosts × steps × duration
    expect(r.summary).toMatch(/```mermaid\ngantt\n[\s\S]*section droplet-1\n {2}lock \(/); // and as a timeline
    const unitSha = (await on("droplet-1", "deploy", "sha256sum /etc/systemd/system/web.service | cut -d' ' -f1")).stdout;
    expect((await ledger()).at(-1)).toMatchObject({
      outcome: "success", release: r.outputs["release-id"], sha: "1111111aaaa", actor: "alice", run: "https://github.com/acme/web/actions/runs/77 (alice)",
      configSha256: unitSha, artifactSha256: expect.stringMatching(/^[0-9a-f]{64}$/), backupId: "webdb-20261123T100000000Z-r77-abcd", migrationHead: "007",
    });
  });

  it("redeploy: a new release goes live, the previous one stays on disk", async () => {
    const before = (await ledger()).at(-1).release;
    await new Promise((r) => setTimeout(r, 1100)); // release ids have second resolution
    const r = deploy(release("v2", app("v2")), { sha: "2222222bbbb" });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await get("droplet-1")).toBe("v2 token=18");
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "success", previous: before, unitChanged: false });
    expect((await on("droplet-1", "deploy", "ls /srv/web/releases")).stdout.split("\n")).toContain(before);
  });

  it("a release that crashes right after start fails the deploy with the journal, and the previous release is restored", async () => {
    const live = (await ledger()).at(-1).release;
    await new Promise((r) => setTimeout(r, 1100));
    const r = deploy(release("crash", app("v3", 'import time, threading\nthreading.Timer(1.0, lambda: (print("boom: cannot reach the broker", flush=True), os._exit(3))).start()')), { sha: "3333333cccc" });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("did not stay up");
    expect(r.stdout).toContain("boom: cannot reach the broker");
    expect(r.stdout).toContain(`release ${live} was restored and is running again`);
    expect(r.summary).toContain("❌ failed, previous restored");
    expect(await get("droplet-1")).toBe("v2 token=18");
    expect((await on("droplet-1", "deploy", "readlink /srv/web/current")).stdout).toBe(`releases/${live}`);
    expect((await ledger()).at(-1)).toMatchObject({ outcome: "failed", restored: true, previous: live });
  });

  it("a unit that fails systemd-analyze verify installs nothing; the live release keeps running", async () => {
    const unitBefore = (await on("droplet-1", "deploy", "cat /etc/systemd/system/web.service")).stdout;
    environment("lab-bad.yml", { exec: undefined, "unit-file": "web.service" });
    await new Promise((r) => setTimeout(r, 1100));
    const rel = release("badunit", app("v4"), { "web.service": "[Unit]\nDescription=bad\n[Service]\nExecStart=relative/path/app\n[Install]\nWantedBy=multi-user.target\n" });
    const r = deploy(rel, { env: "lab-bad" });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("systemd-analyze verify rejected web.service");
    expect(r.stdout).toContain("nothing was switched");
    expect((await on("droplet-1", "deploy", "cat /etc/systemd/system/web.service")).stdout).toBe(unitBefore);
    expect(await get("droplet-1")).toBe("v2 token=18");
  });

  it("a second deploy while the lock is held fails at once, naming the holder; the lock is released on every path", async () => {
    await on("droplet-1", "deploy", `mkdir /srv/web/_slipway/lock && echo '{"run":"https://github.com/acme/web/actions/runs/76 (bob)","actor":"bob","sha":"abc","host":"droplet-1","since":"2026-11-23T10:00:00Z","expires":"2999-01-01T00:00:00Z"}' > /srv/web/_slipway/lock/owner.json`);
    const r = deploy(release("v5", app("v5")));
    await on("droplet-1", "deploy", "rm -rf /srv/web/_slipway/lock");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("another deploy holds the lock on /srv/web: https://github.com/acme/web/actions/runs/76 (bob) (actor bob, sha abc");
    expect(await get("droplet-1")).toBe("v2 token=18");
    expect((await on("droplet-1", "deploy", "test -e /srv/web/_slipway/lock && echo held || echo free")).stdout).toBe("free");
  });

  it("with lock-wait, a deploy waits on the host until the holder lets go, says so, then deploys (still one exec)", async () => {
    await on("droplet-1", "deploy", `mkdir /srv/web/_slipway/lock && echo '{"run":"https://github.com/acme/web/actions/runs/78 (carol)","actor":"carol","sha":"def","expires":"2999-01-01T00:00:00Z"}' > /srv/web/_slipway/lock/owner.json`);
    await new Promise((r) => setTimeout(r, 1100));
    const inputs = { environment: "lab", hosts: "", "dry-run": "false", service: "", release: release("v5w", app("v5w")), sha: "5555555aaaa", "lock-wait": "60s", "backup-id": "", "migration-head": "" };
    const run = runActionAsync("deploy-systemd", inputs, { cwd: ws, env: { WEB_TOKEN: "s3cret-token-value", GITHUB_RUN_ID: "79", GITHUB_REPOSITORY: "acme/web", GITHUB_ACTOR: "alice" } });
    await new Promise((r) => setTimeout(r, 6000)); // the deploy is waiting by now
    expect(await get("droplet-1")).toBe("v2 token=18");
    await on("droplet-1", "deploy", "rm -rf /srv/web/_slipway/lock");
    const r = await run;
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain("[droplet-1] the deploy lock is held: waiting up to 60s for https://github.com/acme/web/actions/runs/78 (carol) (actor carol, sha def");
    expect(JSON.parse(r.outputs.hosts!)["droplet-1"].execs).toBe(1);
    expect(await get("droplet-1")).toBe("v5w token=18");
  }, 120_000);

  it("two hosts at once: one fails, the other is deployed, and the failing host's error is reported", async () => {
    environment("lab-two.yml", { hosts: ["droplet-1", "droplet-2"] });
    await on("droplet-2", "deploy", `sudo -n mkdir -p /srv/web && sudo -n chown deploy /srv/web && mkdir -p /srv/web/_slipway/lock && echo '{"run":"run 99","expires":"2999-01-01T00:00:00Z"}' > /srv/web/_slipway/lock/owner.json`);
    await new Promise((r) => setTimeout(r, 1100));
    const r = deploy(release("v6", app("v6")), { env: "lab-two", sha: "6666666ffff" });
    await on("droplet-2", "deploy", "rm -rf /srv/web/_slipway/lock");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("deploy failed on 1 host(s)");
    expect(r.stdout).toContain("[droplet-2] another deploy holds the lock on /srv/web: run 99");
    expect(JSON.parse(r.outputs.hosts!)).toMatchObject({ "droplet-1": { outcome: "success" }, "droplet-2": { outcome: "failure" } });
    expect(await get("droplet-1")).toBe("v6 token=18");
    expect(await get("droplet-2")).toBe("DOWN");
  });

  it("seed 000: takes over from a crontab entry (removed, recorded in the ledger) and installs a checked logrotate config", async () => {
    await on("droplet-1", "deploy", `printf '%s\\n' '*/5 * * * * /usr/bin/python3 /opt/darkpool_collector.py >> /tmp/c.log 2>&1' '0 3 * * * /usr/bin/true # keep me' | crontab -`);
    environment("lab-cron.yml", { "replaces-cron": { user: "deploy", match: "darkpool_collector" }, logrotate: { paths: ["/srv/web/shared/logs/*.log"], keep: 7, copytruncate: true } });
    await new Promise((r) => setTimeout(r, 1100));
    const r = deploy(release("v7", app("v7")), { env: "lab-cron", sha: "7777777aaaa" });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await on("droplet-1", "deploy", "crontab -l")).stdout).toBe("0 3 * * * /usr/bin/true # keep me");
    expect((await ledger()).at(-1).cronRemoved).toEqual(["*/5 * * * * /usr/bin/python3 /opt/darkpool_collector.py >> /tmp/c.log 2>&1"]);
    expect(r.stdout).toContain("removed crontab line of deploy");
    const conf = await on("droplet-1", "deploy", "cat /etc/logrotate.d/slipway-web && sudo -n logrotate -d /etc/logrotate.d/slipway-web 2>&1 | grep -c 'rotating pattern'");
    expect(conf.stdout).toContain("/srv/web/shared/logs/*.log {");
    expect(conf.stdout).toContain("rotate 7");
    expect(conf.stdout.split("\n").at(-1)).toBe("1");
  });

  it("works logged in as root too (no sudo)", async () => {
    const env = parse(readFileSync(path.join(ws, "environments", "lab.yml"), "utf8"));
    env.hosts["droplet-1"] = { ...env.hosts["droplet-1"], user: "root", sudo: false };
    writeFileSync(path.join(ws, "environments", "lab-root.yml"), stringify(env));
    await new Promise((r) => setTimeout(r, 1100));
    const r = deploy(release("v8", app("v8")), { env: "lab-root", sha: "8888888aaaa" });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await get("droplet-1")).toBe("v8 token=18");
  });

  it("slipway status shows what is live and what came before; slipway lock status|release", async () => {
    const cli = (args: string[]) => spawnSync(process.execPath, [path.join(ROOT, "dist/cli/index.js"), ...args], { cwd: ws, encoding: "utf8", timeout: 60_000 });
    const st = cli(["status", "lab", "-n", "3"]);
    expect(st.status, st.stderr).toBe(0);
    const live = (await ledger()).filter((e) => e.outcome === "success").at(-1).release;
    expect(st.stdout).toContain(`droplet-1  web  live: ${live}`);
    expect(st.stdout).toMatch(/success {2}\S+ {2}sha 8888888aaaa {2}by alice/);
    await on("droplet-1", "deploy", `mkdir /srv/web/_slipway/lock && echo '{"run":"run 123 (dave)"}' > /srv/web/_slipway/lock/owner.json`);
    expect(cli(["lock", "status", "lab"]).stdout).toContain("droplet-1  web  locked by run 123 (dave) (actor ?, sha ?, since ?, expires ?)");
    expect(cli(["lock", "release", "lab", "--host", "droplet-1"]).stdout).toContain("droplet-1  web  released the lock held by run 123 (dave)");
    // a lock whose owner record a crash cut is held, never free
    await on("droplet-1", "deploy", "mkdir /srv/web/_slipway/lock && : > /srv/web/_slipway/lock/owner.json");
    expect(cli(["lock", "status", "lab"]).stdout).toMatch(/droplet-1 {2}web {2}locked by held, owner unreadable \(held since \d{4}-/);
    expect(cli(["lock", "release", "lab", "--host", "droplet-1"]).stdout).toContain("droplet-1  web  released the lock held by held, owner unreadable");
    expect(cli(["lock", "status", "lab"]).stdout).toContain("droplet-1  web  free");
  });

  it("a timer-driven job: the .timer is verified, installed, enabled and started; the job runs on schedule", async () => {
    const env = parse(readFileSync(path.join(ws, "environments", "lab.yml"), "utf8"));
    env.services = {
      job: { kind: "systemd", hosts: ["droplet-2"], "deploy-to": "/srv/job", user: "deploy", exec: "/usr/bin/python3 job.py", shared: ["out"], timer: { "on-calendar": "*:*:0/2" } },
    };
    writeFileSync(path.join(ws, "environments", "lab-job.yml"), stringify(env));
    const dir = path.join(ws, "build", "job");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "job.py"), 'import time\nopen("out/ticks", "a").write(f"{time.time()}\\n")\n');
    const r = deploy("build/job", { env: "lab-job", sha: "9999999aaaa" });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const facts = await on("droplet-2", "deploy", "systemctl is-enabled job.timer; systemctl is-active job.timer; systemctl is-enabled job.service || true");
    expect(facts.stdout.split("\n")).toEqual(["enabled", "active", "static"]);
    await new Promise((res) => setTimeout(res, 5000));
    const ticks = await on("droplet-2", "deploy", "wc -l < /srv/job/shared/out/ticks");
    expect(Number(ticks.stdout)).toBeGreaterThanOrEqual(1);
    const failed = await on("droplet-2", "root", "systemctl disable --now job.timer; while systemctl -q is-active job.service; do sleep 0.1; done; systemctl --failed --no-legend --plain | cut -d' ' -f1; journalctl -u job.service --no-pager -o cat | tail -n 8 >&2; rm -f /etc/systemd/system/job.timer /etc/systemd/system/job.service; systemctl daemon-reload; systemctl reset-failed; rm -rf /srv/job");
    expect(failed.stdout, failed.stderr).toBe(""); // the job's runs all succeeded
  });
});
