// bench/compose: deploy-compose (bundle, Node 24, as the runner runs it) on the lab NAS over loopback:
//   (a) redeploy of an unchanged stack: detected as no change (target <= 2 s), and
//   (b) a one-service change (the web image rebuilt and replaced) against the same change done by
//       hand on the host in the same run: `docker-compose build web && docker-compose up -d`
//       on a second copy of the stack (no upload, no checks: the floor a deploy tool adds to).
// Uses the running lab (or boots one and takes it down after).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { down, status, up } from "../src/lab/lab.js";
import { ssh } from "../src/lab/ssh.js";
import { host, type LabState } from "../src/lab/state.js";
import { runAction } from "../test/harness/runner.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const before = await status();
const lab: LabState = before.up && before.state ? before.state : await up({ log: () => {} });
const nas = host(lab, "nas-1");
const onNas = async (cmd: string, input?: string) => {
  const r = await ssh(lab, nas, "deploy", cmd, { input, timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout.trim();
};
const ws = mkdtempSync(path.join(os.tmpdir(), "slipway-bench-compose-"));
const compose = (port: number) => `version: "3.8"
services:
  db:
    image: local/postgres:15
    init: true
  web:
    build: ./web
    init: true
    depends_on: [db]
    ports: ["127.0.0.1:${port}:8080"]
    healthcheck: { test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/"], interval: 1s, timeout: 3s, retries: 20 }
  worker:
    image: local/debian:bookworm
    init: true
    command: ["sleep", "infinity"]
`;
const webFiles = (v: string) => ({
  "web/Dockerfile": `FROM local/debian:bookworm\nCOPY app.py /app/app.py\nCMD ["python3", "/app/app.py"]\n`,
  "web/app.py": `import http.server\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(b"${v}")\n    def log_message(self, *a): pass\nhttp.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()\n`,
});
const release = (v: string) => {
  const dir = path.join(ws, "build", v);
  for (const [f, c] of Object.entries({ "docker-compose.yml": compose(18095), ...webFiles(v) })) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), c);
  }
  return `build/${v}`;
};
mkdirSync(path.join(ws, "environments"));
const env = parse(readFileSync(lab.envFile, "utf8"));
delete env.databases;
env.services = { bench: { kind: "compose", hosts: ["nas-1"], "deploy-to": "/srv/bench-compose", files: ["docker-compose.yml"], project: "benchstack", stabilize: 0 } };
writeFileSync(path.join(ws, "environments", "bench.yml"), stringify(env));
const deploy = (rel: string) => {
  const t = performance.now();
  const r = runAction("deploy-compose", { environment: "bench", hosts: "", "dry-run": "false", service: "", release: rel, sha: "abcdef0123", "lock-wait": "0", "backup-id": "", "migration-head": "", migrate: "false" }, { cwd: ws });
  const ms = performance.now() - t;
  if (r.code !== 0) throw new Error(`deploy-compose failed: ${r.stdout}${r.stderr}`);
  return { ms, changed: r.outputs.changed, summary: r.summary };
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const RAW = "/srv/bench-raw";
const rawCompose = "sudo -n /usr/local/bin/docker-compose -p benchraw";
try {
  deploy(release("v0"));
  const unchanged: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = deploy("build/v0");
    if (r.changed !== "false") throw new Error("an unchanged redeploy was not detected as unchanged");
    unchanged.push(r.ms);
  }
  const changed: number[] = [];
  for (let i = 1; i <= ROUNDS; i++) changed.push(deploy(release(`v${i}`)).ms);
  // the same change by hand, on a second copy of the stack already on the host
  await onNas(`sudo -n mkdir -p ${RAW}/web && sudo -n chown -R deploy ${RAW} && cat > ${RAW}/docker-compose.yml`, compose(18096));
  const raw: number[] = [];
  for (let i = 0; i <= ROUNDS; i++) {
    const files = webFiles(`raw${i}`);
    await onNas(`cat > ${RAW}/web/Dockerfile`, files["web/Dockerfile"]);
    await onNas(`cat > ${RAW}/web/app.py`, files["web/app.py"]);
    const t = performance.now();
    await onNas(`cd ${RAW} && ${rawCompose} build web >/dev/null 2>&1 && ${rawCompose} up -d 2>/dev/null`);
    if (i > 0) raw.push(performance.now() - t); // round 0 creates the stack
  }
  const u = median(unchanged);
  const c = median(changed);
  const w = median(raw);
  console.log(`bench/compose (lab NAS, loopback, docker-compose v1, ${ROUNDS} rounds, medians)`);
  console.log(`  unchanged redeploy (detected as no change): ${u.toFixed(0)} ms   target <= 2000 ms: ${u <= 2000 ? "met" : "MISSED"}`);
  console.log(`  one-service change, deploy-compose:         ${c.toFixed(0)} ms   (upload, build, pin, up, healthy wait, ledger)`);
  console.log(`  one-service change, raw docker-compose:     ${w.toFixed(0)} ms   (build web + up -d on the host, no upload, no wait)`);
  console.log(`  ratio deploy-compose / raw:                 ${(c / w).toFixed(2)}x`);
} finally {
  await ssh(lab, nas, "root", `PATH=/usr/local/bin:$PATH; for p in benchstack benchraw; do ids=$(docker ps -aq --filter label=com.docker.compose.project=$p); [ -z "$ids" ] || docker rm -f $ids >/dev/null; docker network rm \${p}_default >/dev/null 2>&1; done; docker images --format '{{.Repository}}:{{.Tag}}' | grep -e '^slipway/benchstack-' -e '^benchraw_' | xargs -r docker rmi -f >/dev/null; docker image prune -f >/dev/null; rm -rf /srv/bench-compose ${RAW}; true`, { timeoutMs: 120_000 });
  if (!before.up) await down();
}
