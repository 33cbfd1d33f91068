// deploy-supervisor on a lab droplet (real supervisord under systemd, the deploy user through its
// limited sudo): a group of programs like seed 001's, first deploy, redeploy, a program that
// crashes after start (previous release restored), a config supervisor rejects.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAction } from "../harness/runner.js";
import { lab, on } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("droplet-2");

let ws: string;
const worker = (version: string, extra = "") => `import http.server, os, sys, time
${extra}
port = int(sys.argv[1])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(f"${version} {os.environ.get('ROLE')} key={len(os.environ.get('API_KEY', ''))}".encode())
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
`;

function release(name: string, code: string) {
  const dir = path.join(ws, "build", name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "worker.py"), code);
  return `build/${name}`;
}

function environment(programs: Record<string, unknown>) {
  const env = parse(readFileSync(lab().envFile, "utf8"));
  delete env.databases;
  env.services = {
    trading: {
      kind: "supervisor", hosts: ["droplet-2"], "deploy-to": "/srv/trading", group: "trading", stabilize: "3s",
      "secret-env": { API_KEY: "KALSHI_API_KEY" }, shared: ["logs"], programs,
    },
  };
  writeFileSync(path.join(ws, "environments", "lab.yml"), stringify(env));
}

const programs = {
  main_app: { command: "/usr/bin/python3 worker.py 3000", environment: { ROLE: "ui" }, stopsignal: "INT" },
  trade_manager: { command: "/usr/bin/python3 worker.py 3001", environment: { ROLE: "trader" } },
  btc_price_watchdog: { command: "/usr/bin/python3 worker.py 3002", environment: { ROLE: "watchdog" } },
};

const deploy = (rel: string, sha: string) =>
  runAction("deploy-supervisor", { environment: "lab", hosts: "", "dry-run": "false", service: "", release: rel, sha, "lock-wait": "0" }, { cwd: ws, env: { KALSHI_API_KEY: "k-1234567890", GITHUB_RUN_ID: "88", GITHUB_REPOSITORY: "acme/recio", GITHUB_ACTOR: "carol" } });
const get = async (port: number) => (await on("droplet-2", "deploy", `curl -fsS -m 3 http://127.0.0.1:${port}/ || echo DOWN`)).stdout;
const status = async () => (await on("droplet-2", "deploy", "sudo -n supervisorctl status 'trading:*' || true")).stdout;
const tick = () => new Promise((r) => setTimeout(r, 1100)); // release ids have second resolution

beforeAll(async () => {
  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-lab-supervisor-"));
  mkdirSync(path.join(ws, "environments"));
  environment(programs);
  await cleanup();
});
// leave the host as a fresh droplet: other test files expect an empty /srv
const cleanup = () => on("droplet-2", "root", "supervisorctl stop 'trading:*' 2>/dev/null; rm -f /etc/supervisor/conf.d/trading.conf; supervisorctl update >/dev/null 2>&1; rm -rf /srv/trading; true");
afterAll(cleanup);

describe("deploy-supervisor", () => {
  it("first deploy: the group's programs run from current with their environment and the secret", async () => {
    const r = deploy(release("v1", worker("v1")), "aaaaaaa1");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await get(3000)).toBe("v1 ui key=12");
    expect(await get(3001)).toBe("v1 trader key=12");
    expect((await status()).split("\n").filter((l) => / RUNNING /.test(l))).toHaveLength(3);
    expect((await on("droplet-2", "deploy", "stat -c '%a %U' /etc/supervisor/conf.d/trading.conf")).stdout).toBe("600 root");
    expect(r.summary).toContain("### slipway deploy-supervisor");
  });

  it("redeploy restarts the group onto the new release", async () => {
    await tick();
    const r = deploy(release("v2", worker("v2")), "bbbbbbb2");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await get(3002)).toBe("v2 watchdog key=12");
  });

  it("a program that dies after start fails the deploy with its stderr, and the previous release runs again", async () => {
    await tick();
    const r = deploy(release("crash", worker("v3", 'import threading\nif sys.argv[1] == "3001":\n    threading.Timer(1.5, lambda: (print("trade_manager: lost exchange session", file=sys.stderr, flush=True), os._exit(2))).start()')), "ccccccc3");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("did not stay RUNNING");
    expect(r.stdout).toContain("was restored and is running again");
    expect(await get(3001)).toBe("v2 trader key=12");
    expect((await status()).split("\n").filter((l) => / RUNNING /.test(l))).toHaveLength(3);
  });

  it("a program whose command does not exist never reaches RUNNING; nothing is left stopped", async () => {
    await tick();
    environment({ ...programs, trade_manager: { command: "/usr/bin/no-such-binary 3001" } });
    const r = deploy(release("v4", worker("v4")), "ddddddd4");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("trading:trade_manager: ERROR (no such file)");
    expect(await get(3001)).toBe("v2 trader key=12");
    environment(programs);
  });

  it("rollback returns the group to the previous good release: its programs file (environment included) and files", async () => {
    await tick();
    environment({ ...programs, main_app: { ...programs.main_app, environment: { ROLE: "ui-v5" } } });
    expect(deploy(release("v5", worker("v5")), "eeeeeee5").code).toBe(0);
    expect(await get(3000)).toBe("v5 ui-v5 key=12");
    environment(programs); // the workflow's checkout of the rollback: settings as they are now
    const r = runAction("rollback", { environment: "lab", hosts: "", "dry-run": "false", service: "", to: "", "restore-db": "false", "backup-id": "", "only-if-live": "", auto: "false", reason: "trader misbehaves", "lock-wait": "", "runner-dir": "backups", verify: "true" }, { cwd: ws, env: { KALSHI_API_KEY: "k-1234567890", GITHUB_RUN_ID: "89", GITHUB_REPOSITORY: "acme/recio", GITHUB_ACTOR: "carol" } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await get(3000)).toBe("v2 ui key=12"); // v2's program environment came back with v2
    expect(await get(3001)).toBe("v2 trader key=12");
    expect((await status()).split("\n").filter((l) => / RUNNING /.test(l))).toHaveLength(3);
    expect(r.summary).toContain("↩️ rolled back");
  });
});
