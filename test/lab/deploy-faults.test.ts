// Faults during a deploy, on a lab droplet, with a continuous HTTP probe from the machine. The
// workflow's order is run as the runner runs it: deploy-systemd, verify-health, and on failure
// rollback (auto: the environment's policy). Each case ends with the previous release serving, the
// probe showing at most a restart gap, and a clear error.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cutNetwork, reboot, restoreNetwork } from "../../src/lab/faults.js";
import { host } from "../../src/lab/state.js";
import { runAction, runActionAsync, type ActionRun } from "../harness/runner.js";
import { lab, on, probe } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("*");

let ws: string;
const PORT = 8083;
const HOST = "droplet-2";
const app = (version: string, o: { crashAfterS?: number; health?: number } = {}) => `import http.server, os, threading
${o.crashAfterS ? `threading.Timer(${o.crashAfterS}, lambda: (print("${version}: lost the exchange feed", flush=True), os._exit(4))).start()` : ""}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = ${o.health ?? 200} if self.path == "/health" else 200
        self.send_response(code); self.end_headers(); self.wfile.write(b"${version}")
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", ${PORT}), H).serve_forever()
`;
function release(name: string, code: string, payloadMb = 0) {
  const dir = path.join(ws, "build", name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "app.py"), code);
  if (payloadMb) writeFileSync(path.join(dir, "payload.bin"), randomBytes(payloadMb * 1024 * 1024));
  return `build/${name}`;
}
beforeAll(async () => {
  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-lab-faults-"));
  mkdirSync(path.join(ws, "environments"));
  const env = parse(readFileSync(lab().envFile, "utf8"));
  delete env.databases;
  env.ssh = { ...env.ssh, keepalive: "1s", "connect-timeout": "3s" };
  env.services = { svc: { kind: "systemd", hosts: [HOST], "deploy-to": "/srv/faults", user: "deploy", exec: "/usr/bin/python3 app.py", stabilize: "1s", restart: { policy: "always", delay: 1 } } };
  env.checks = [
    { name: "svc stays up", systemd: "svc.service", hosts: [HOST], stable: 4, interval: "1s", retries: 4 },
    { name: "svc health", http: `http://127.0.0.1:${PORT}/health`, from: HOST, retries: 2, interval: "500ms" },
  ];
  env.policy = { "keep-releases": 5, "auto-rollback": true };
  writeFileSync(path.join(ws, "environments", "lab.yml"), stringify(env));
  await cleanup();
});
const cleanup = async () => {
  await on(HOST, "root", "systemctl disable --now svc.service 2>/dev/null; rm -f /etc/systemd/system/svc.service; systemctl daemon-reload; systemctl reset-failed; rm -rf /srv/faults; true");
};
afterAll(async () => {
  await restoreNetwork(host(lab(), HOST)).catch(() => undefined);
  await cleanup();
});

const GH = { GITHUB_RUN_ID: "555", GITHUB_REPOSITORY: "acme/faults", GITHUB_ACTOR: "frank" };
const deployInputs = (rel: string, sha: string) => ({ environment: "lab", hosts: "", "dry-run": "false", service: "", release: rel, sha, "lock-wait": "0", "backup-id": "", "migration-head": "" });
const url = () => `http://${host(lab(), HOST).address}:${PORT}/`;
const body = async () => (await on(HOST, "deploy", `curl -fsS -m 3 http://127.0.0.1:${PORT}/ || echo DOWN`)).stdout;
const live = async () => (await on(HOST, "deploy", "basename $(readlink /srv/faults/current)")).stdout;

/** The deploy job's steps as deploy.yml runs them: deploy, verify, and on failure the auto rollback. */
async function deployJob(rel: string, sha: string) {
  const deploy = await runActionAsync("deploy-systemd", deployInputs(rel, sha), { cwd: ws, env: GH });
  if (deploy.code !== 0) return { deploy };
  const verify = await runActionAsync("verify-health", { environment: "lab", hosts: "", "dry-run": "false", checks: "" }, { cwd: ws, env: GH });
  if (verify.code === 0) return { deploy, verify };
  const rollback = await runActionAsync("rollback", { environment: "lab", hosts: "", "dry-run": "false", service: "", to: "", "restore-db": "false", "backup-id": "", "only-if-live": deploy.outputs["release-id"]!, auto: "true", reason: "verification failed", "lock-wait": "", "runner-dir": "backups", verify: "true" }, { cwd: ws, env: GH });
  return { deploy, verify, rollback };
}
/** Wait until a deploy holds the lock (its upload starts right after). */
async function uploadStarted() {
  for (let i = 0; i < 200; i++) {
    if ((await on(HOST, "deploy", "test -d /srv/faults/_slipway/lock && echo yes || true")).stdout === "yes") return;
  }
  throw new Error("the deploy never took the lock");
}
const gapOk = (p: { maxGapMs: number }) => expect(p.maxGapMs, `longest gap ${p.maxGapMs} ms`).toBeLessThan(4000);

describe("deploy faults (with a continuous HTTP probe)", () => {
  let good = "";
  it("baseline: a good release is deployed and verified", async () => {
    const { deploy, verify } = await deployJob(release("good", app("good")), "1111111aaaa");
    expect(deploy.code, deploy.stdout).toBe(0);
    expect(verify?.code, verify?.stdout).toBe(0);
    good = deploy.outputs["release-id"]!;
  });

  it("a service that crashes after the switch (after its stabilisation window): verification fails, the automatic rollback restores the good release", async () => {
    const p = await probe(url(), () => deployJob(release("crashy", app("crashy", { crashAfterS: 2 })), "2222222bbbb"));
    const { deploy, verify, rollback } = p.value;
    expect(deploy.code, deploy.stdout).toBe(0); // it was up during its window
    expect(verify!.code).toBe(1);
    expect(verify!.stdout).toMatch(/svc stays up|svc health/);
    expect(rollback!.code, rollback!.stdout).toBe(0);
    expect(rollback!.stdout).toContain("rolled back and verified");
    expect(await live()).toBe(good);
    expect(await body()).toBe("good");
    gapOk(p);
    console.log(`crash after switch: probe ${p.polls} polls, ${p.failures} failed, longest gap ${p.maxGapMs} ms`);
  }, 120_000);

  it("a release whose health endpoint fails: verification fails, the automatic rollback restores the good release", async () => {
    const p = await probe(url(), () => deployJob(release("sick", app("sick", { health: 503 })), "3333333cccc"));
    const { verify, rollback } = p.value;
    expect(verify!.code).toBe(1);
    expect(verify!.stdout).toContain("svc health");
    expect(rollback!.code, rollback!.stdout).toBe(0);
    expect(await body()).toBe("good");
    gapOk(p);
  }, 120_000);

  it("the lock is held by another run: the second deploy is refused at once, naming the holder; the live release keeps serving", async () => {
    await on(HOST, "deploy", `mkdir /srv/faults/_slipway/lock && echo '{"run":"https://github.com/acme/faults/actions/runs/554 (gina)","actor":"gina","sha":"abc1234","since":"2026-11-23T10:00:00Z","expires":"2999-01-01T00:00:00Z"}' > /srv/faults/_slipway/lock/owner.json`);
    const p = await probe(url(), () => runActionAsync("deploy-systemd", deployInputs(release("blocked", app("blocked")), "6666666ffff"), { cwd: ws, env: GH }));
    await on(HOST, "deploy", "rm -rf /srv/faults/_slipway/lock");
    expect(p.value.code).toBe(1);
    expect(p.value.stdout).toContain("another deploy holds the lock on /srv/faults: https://github.com/acme/faults/actions/runs/554 (gina) (actor gina, sha abc1234");
    expect(p.failures).toBe(0);
    expect(await body()).toBe("good");
  });

  it("the connection is cut during the upload: the live release is untouched, the error is clear, a re-run succeeds", async () => {
    const h = host(lab(), HOST);
    const rel = release("big", app("big"), 60);
    const p = await probe(url(), async () => {
      const run = runActionAsync("deploy-systemd", deployInputs(rel, "4444444dddd"), { cwd: ws, env: GH });
      await uploadStarted();
      await cutNetwork(h);
      const r = await run;
      await restoreNetwork(h);
      return r;
    });
    const r: ActionRun = p.value;
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/step "upload release \S+" lost its connection/);
    expect(await live()).toBe(good);
    expect(await body()).toBe("good");
    // the re-run (same workflow run) takes over the lock its dead attempt left behind
    const again = runAction("deploy-systemd", deployInputs(rel, "4444444dddd"), { cwd: ws, env: GH });
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain("an earlier attempt of this run");
    expect(await body()).toBe("big");
  }, 180_000);

  it("the host reboots in the middle of a deploy: the re-run completes", async () => {
    const lb = lab();
    const h = host(lb, HOST);
    const rel = release("after-reboot", app("after-reboot"), 60);
    const run = runActionAsync("deploy-systemd", deployInputs(rel, "5555555eeee"), { cwd: ws, env: GH });
    await uploadStarted();
    await reboot(lb, h);
    const r = await run;
    expect(r.code).toBe(1);
    // the service came back by itself at boot (enabled unit, /srv survives a reboot)
    expect(await body()).toBe("big");
    const again = runAction("deploy-systemd", deployInputs(rel, "5555555eeee"), { cwd: ws, env: GH });
    expect(again.code, again.stdout).toBe(0);
    expect(await body()).toBe("after-reboot");
  }, 240_000);
});
