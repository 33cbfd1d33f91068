// bench/rollback: from a failed verification to the previous release healthy again. A good release
// and a bad one are deployed to a lab droplet (loopback); then the rollback action (bundle, Node 24,
// as the runner runs it) is started and the time until the service answers with the good release
// again is measured by a probe polling every 20 ms, against the restart time of the same service
// measured on the host in the same run (systemctl restart + first healthy poll).
// Target: rollback <= restart + 2 s. Uses the running lab (or boots one and takes it down after).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { down, status, up } from "../src/lab/lab.js";
import { ssh } from "../src/lab/ssh.js";
import { host, type LabState } from "../src/lab/state.js";
import { runAction, runActionAsync } from "../test/harness/runner.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PORT = 8097;
const before = await status();
const lab: LabState = before.up && before.state ? before.state : await up({ log: () => {} });
const h = host(lab, "droplet-2");
const onHost = async (cmd: string) => {
  const r = await ssh(lab, h, "root", cmd, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout.trim();
};
const ws = mkdtempSync(path.join(os.tmpdir(), "slipway-bench-rollback-"));
mkdirSync(path.join(ws, "environments"));
const env = parse(readFileSync(lab.envFile, "utf8"));
delete env.databases;
env.services = { rbbench: { kind: "systemd", hosts: ["droplet-2"], "deploy-to": "/srv/rbbench", user: "deploy", exec: "/usr/bin/python3 app.py", stabilize: "1s" } };
env.policy = { "keep-releases": 10 };
writeFileSync(path.join(ws, "environments", "bench.yml"), stringify(env));
const release = (v: string) => {
  const dir = path.join(ws, "build", v);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "app.py"), `import http.server\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(b"${v}")\n    def log_message(self, *a): pass\nhttp.server.HTTPServer(("0.0.0.0", ${PORT}), H).serve_forever()\n`);
  return `build/${v}`;
};
const GH = { GITHUB_RUN_ID: "4242", GITHUB_REPOSITORY: "acme/bench", GITHUB_ACTOR: "bench" };
const deploy = (v: string, sha: string) => {
  const r = runAction("deploy-systemd", { environment: "bench", hosts: "", "dry-run": "false", service: "", release: release(v), sha, "lock-wait": "0", "backup-id": "", "migration-head": "" }, { cwd: ws, env: GH });
  if (r.code !== 0) throw new Error(`deploy ${v}: ${r.stdout}`);
};
const url = `http://${h.address}:${PORT}/`;
const answer = async () => {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(500) });
    return r.ok ? await r.text() : "";
  } catch {
    return "";
  }
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  const restart: number[] = [];
  const healthy: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    deploy(`good${i}`, `${i}111111aaaa`);
    await new Promise((r) => setTimeout(r, 1100));
    deploy(`bad${i}`, `${i}222222bbbb`); // "verification failed" from here on
    const t0 = performance.now();
    const run = runActionAsync("rollback", { environment: "bench", hosts: "", "dry-run": "false", service: "", to: "", "restore-db": "false", "backup-id": "", "only-if-live": "", auto: "false", reason: "bench", "lock-wait": "", "runner-dir": "backups", verify: "false" }, { cwd: ws, env: GH });
    let back = 0;
    while (!back) {
      if ((await answer()) === `good${i}`) back = performance.now() - t0;
      else await new Promise((r) => setTimeout(r, 20));
    }
    const r = await run;
    if (r.code !== 0) throw new Error(`rollback failed: ${r.stdout}`);
    healthy.push(back);
    total.push(performance.now() - t0);
    // the same service restarted by hand on the host: restart + first healthy poll
    restart.push(Number(await onHost(`s=$(date +%s%N); systemctl restart rbbench.service; until curl -fs -o /dev/null http://127.0.0.1:${PORT}/; do sleep 0.02; done; echo $(( ($(date +%s%N) - s) / 1000000 ))`)));
    await new Promise((r) => setTimeout(r, 1100));
  }
  const rs = median(restart);
  const hb = median(healthy);
  console.log(`bench/rollback (lab droplet, loopback, systemd, ${ROUNDS} rounds, medians)`);
  console.log(`  restart on the host (systemctl restart + first healthy poll): ${rs} ms`);
  console.log(`  rollback action start -> previous release answering:        ${hb.toFixed(0)} ms   target <= restart + 2000 = ${rs + 2000} ms: ${hb <= rs + 2000 ? "met" : "MISSED"}`);
  console.log(`  rollback action, whole step (incl. 1 s stability window, ledger): ${median(total).toFixed(0)} ms`);
} finally {
  await onHost("systemctl disable --now rbbench.service 2>/dev/null; rm -f /etc/systemd/system/rbbench.service; systemctl daemon-reload; systemctl reset-failed; rm -rf /srv/rbbench; true").catch(() => undefined);
  if (!before.up) await down();
}
