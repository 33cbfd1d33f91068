// Issue #16's faults that used to need a human, on a lab droplet with a continuous HTTP probe:
// - the disk is full when a deploy takes its lock: a clear "disk full" error, no lock left behind,
//   the live release serving; after space is freed the re-run needs nothing else;
// - a ledger with a line a crash cut (no newline at its end): the next deploy's line is whole,
//   `slipway status` and `slipway drift` read the ledger (reporting the damaged line by number) and
//   a rollback goes back exactly one release;
// - the runner is killed (kill -9) right after the switch: a NEW run (another run id) takes the
//   lock over at once, naming the run that is gone — no 30-minute wait, no `slipway lock release`.
// The deploy actions run as the runner runs them; the CLI from its bundle.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fillDisk, unfillDisk } from "../../src/lab/faults.js";
import { host } from "../../src/lab/state.js";
import { ensureNode24 } from "../../scripts/node24.mjs";
import { ROOT, runActionAsync } from "../harness/runner.js";
import { lab, on, probe } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("droplet-1");

const HOST = "droplet-1";
const PORT = 8091;
const DIR = "/srv/crash";
let ws: string;
const app = (version: string) => `import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"${version}")
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", ${PORT}), H).serve_forever()
`;
function release(version: string) {
  const dir = path.join(ws, "build", version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "app.py"), app(version));
  return `build/${version}`;
}
const gh = (run: number) => ({ GITHUB_RUN_ID: String(run), GITHUB_REPOSITORY: "acme/crash", GITHUB_ACTOR: "carol", GITHUB_SERVER_URL: "https://github.com" });
const inputs = (rel: string, sha: string) => ({ environment: "lab", hosts: "", "dry-run": "false", service: "", release: rel, sha, "lock-wait": "0", "backup-id": "", "migration-head": "", "github-token": "", production: "false" });
const deploy = (version: string, sha: string, run: number) => runActionAsync("deploy-systemd", inputs(release(version), sha), { cwd: ws, env: gh(run) });
const url = () => `http://${host(lab(), HOST).address}:${PORT}/`;
const body = async () => (await on(HOST, "deploy", `curl -fsS -m 3 http://127.0.0.1:${PORT}/ || echo DOWN`)).stdout;
const sh = async (cmd: string) => (await on(HOST, "root", cmd)).stdout;
const cli = (...args: string[]) => {
  const r = spawnSync("node", [path.join(ROOT, "dist/cli/index.js"), ...args], { cwd: ws, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
};
const cleanup = () => sh(`systemctl disable --now svc.service 2>/dev/null; rm -f /etc/systemd/system/svc.service; systemctl daemon-reload; systemctl reset-failed svc.service 2>/dev/null; rm -rf ${DIR}; true`);

beforeAll(async () => {
  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-crash-"));
  mkdirSync(path.join(ws, "environments"));
  const env = parse(readFileSync(lab().envFile, "utf8"));
  delete env.databases;
  env.ssh = { ...env.ssh, keepalive: "1s", "connect-timeout": "3s" };
  env.services = { svc: { kind: "systemd", hosts: [HOST], "deploy-to": DIR, user: "deploy", exec: "/usr/bin/python3 app.py", stabilize: "3s", restart: { policy: "always", delay: 1 } } };
  env.checks = [{ name: "svc answers", http: `http://127.0.0.1:${PORT}/`, from: HOST, retries: 3, interval: "500ms" }];
  env.policy = { "keep-releases": 10, "auto-rollback": true };
  writeFileSync(path.join(ws, "environments", "lab.yml"), stringify(env));
  await cleanup();
  const first = await deploy("v1", "1111111aaaa", 100);
  expect(first.code, first.stdout).toBe(0);
});
afterAll(async () => {
  unfillDisk(host(lab(), HOST));
  await cleanup();
  rmSync(ws, { recursive: true, force: true });
});

describe("faults that used to need a human", () => {
  it("disk full when the lock is taken: 'disk full' named, no lock left, v1 keeps serving; after freeing space the re-run succeeds", async () => {
    const h = host(lab(), HOST);
    const ledger = await sh(`cat ${DIR}/_slipway/ledger.jsonl`);
    fillDisk(h);
    const p = await probe(url(), () => deploy("v2", "2222222bbbb", 101));
    unfillDisk(h);
    expect(p.value.code).toBe(1);
    const error = p.value.stdout.split("\n").find((l) => l.startsWith("::error::"))!;
    console.log(`disk full at the lock: ${error.replace(/%0A/g, " | ")}; probe: ${p.polls} polls, ${p.failures} failed, longest gap ${p.maxGapMs} ms`);
    expect(error).toContain("disk full on /srv");
    expect(p.value.stdout).toContain(`${DIR}`);
    expect(await sh(`test -e ${DIR}/_slipway/lock && echo held || echo free`)).toBe("free");
    expect(await sh(`cat ${DIR}/_slipway/ledger.jsonl`)).toBe(ledger); // nothing half-written
    expect(p.failures).toBe(0);
    expect(await body()).toBe("v1");
    expect(cli("lock", "status", "lab").out).toContain(`${HOST}  svc  free`);
    const again = await deploy("v2", "2222222bbbb", 102);
    expect(again.code, again.stdout).toBe(0);
    expect(await body()).toBe("v2");
  }, 120_000);

  it("a ledger line a crash cut: the next line is whole; status, drift and rollback read past it (one release back)", async () => {
    await sh(`printf '%s' '{"time":"2026-12-03T10:00:00Z","host"' >> ${DIR}/_slipway/ledger.jsonl`);
    const v3 = await deploy("v3", "3333333cccc", 103);
    expect(v3.code, v3.stdout).toBe(0);
    const lines = (await sh(`cat ${DIR}/_slipway/ledger.jsonl`)).split("\n");
    const cut = lines.findIndex((l) => l === '{"time":"2026-12-03T10:00:00Z","host"') + 1;
    expect(cut).toBeGreaterThan(0);
    expect(JSON.parse(lines[cut]!)).toMatchObject({ outcome: "success", release: v3.outputs["release-id"] });

    const status = cli("status", "lab", "-n", "20");
    expect(status.code, status.out).toBe(0);
    expect(status.out).toContain(`live: ${v3.outputs["release-id"]}`);
    expect(status.out).toContain(`${DIR}/_slipway/ledger.jsonl line ${cut} is damaged and was skipped`);
    const drift = cli("drift", "lab", "--sha", "3333333cccc");
    expect(drift.out).toContain("drift: none in lab");
    expect(drift.out).toContain(`line ${cut} is damaged and was skipped`);

    const p = await probe(url(), () => runActionAsync("rollback", { environment: "lab", hosts: "", "dry-run": "false", service: "", to: "", "restore-db": "false", "backup-id": "", "only-if-live": "", auto: "false", reason: "test", "lock-wait": "", "runner-dir": "backups", verify: "true", "github-token": "", production: "false" }, { cwd: ws, env: gh(104) }));
    expect(p.value.code, p.value.stdout).toBe(0);
    expect(p.value.stdout).toContain(`line ${cut} is damaged and was skipped`);
    expect(await body()).toBe("v2"); // exactly one release back
    expect(p.maxGapMs).toBeLessThan(4000);
  }, 120_000);

  it("the runner killed right after the switch: a new run takes the lock over at once, naming the run that is gone", async () => {
    // the deploy action as a process of its own, killed (-9) as a lost runner machine would be
    const env: Record<string, string | undefined> = { ...process.env, ...gh(105), GITHUB_ACTIONS: "true", GITHUB_OUTPUT: path.join(ws, "out105"), GITHUB_STEP_SUMMARY: path.join(ws, "sum105") };
    writeFileSync(env.GITHUB_OUTPUT!, "");
    writeFileSync(env.GITHUB_STEP_SUMMARY!, "");
    for (const [k, v] of Object.entries(inputs(release("v4"), "4444444dddd"))) env[`INPUT_${k.toUpperCase()}`] = v;
    const child = spawn(ensureNode24(), [path.join(ROOT, "actions/deploy-systemd/dist/index.js")], { cwd: ws, env, stdio: "ignore" });
    const exited = new Promise((r) => child.once("exit", r));
    let switched = false;
    for (let i = 0; i < 300 && !switched; i++) switched = (await sh(`readlink ${DIR}/current`)).endsWith("-4444444");
    child.kill("SIGKILL");
    await exited;
    expect(switched).toBe(true);
    expect(await sh(`test -d ${DIR}/_slipway/lock && echo held || echo free`)).toBe("held"); // the dead run's
    // the killed run's script goes on until its next output (then SIGPIPE): the new run waits for that, never for the expiry
    const p = await probe(url(), () => runActionAsync("deploy-systemd", { ...inputs(release("v5"), "5555555eeee"), "lock-wait": "30s" }, { cwd: ws, env: gh(106) }));
    expect(p.value.code, p.value.stdout).toBe(0);
    expect(p.value.stdout).toMatch(/took over the deploy lock of a run that is gone \(its ssh session \(pid \d+\) and script are gone\): https:\/\/github\.com\/acme\/crash\/actions\/runs\/105/);
    expect(await body()).toBe("v5");
    expect(await sh(`test -e ${DIR}/_slipway/lock && echo held || echo free`)).toBe("free");
  }, 120_000);
});
