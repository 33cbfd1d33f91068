// bench/deploy: a 5 MB release deployed by the deploy-systemd action (bundle, Node 24) from behind
// a simulated WAN link (the lab's --wan-delay: 100 ms RTT), measured in the same run against
//   (a) the limit: one ssh connection doing tar upload + systemctl restart + first healthy poll
//       (target: action <= 1.25x), and
//   (b) a seed-style script that opens a new ssh/scp for every command (target: action >= 5x faster),
// plus SSH connections and remote exec calls per host (targets 1 and <= 8) and 10 droplets
// against 1 (target <= 1.3x), next to the same ratio for the limit's commands (the lab's floor:
// its droplets share this machine's cores). Boots its own lab (10 droplets, WAN), takes it down after.
// The service's stabilisation window is 0 here: the limit has none either.
import { execFile, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { down, status, up } from "../src/lab/lab.js";
import { sshArgv } from "../src/lab/ssh.js";
import type { LabState } from "../src/lab/state.js";
import { ensureNode24 } from "../scripts/node24.mjs";
import { ROOT } from "../test/harness/runner.js";
import { quote } from "../src/commands/quote.js";

const DELAY = Number(process.env.BENCH_WAN_DELAY_MS ?? 50);
const N = Number(process.env.BENCH_DROPLETS ?? 10);
const PORT = 8099;
const node24 = ensureNode24();
/** the machine's idle CPU seconds so far (all cores) */
const cpuIdle = () => Number(readFileSync("/proc/stat", "utf8").split("\n")[0]!.split(/\s+/)[4]) / 100;
/** CPU seconds a lab host has used so far (its cpuacct cgroup, made by run-host.sh) */
const hostCpu = (name: string) => Number(readFileSync(`/sys/fs/cgroup/cpuacct/slipway-lab/${name}/cpuacct.usage`, "utf8")) / 1e9;

const before = await status();
if (before.up) await down();
const lab: LabState = await up({ droplets: N, nas: 0, wanDelayMs: DELAY, log: () => {} });
const wan = lab.wan!.exec;
const ws = mkdtempSync(path.join(os.tmpdir(), "slipway-bench-deploy-"));
try {
  const rel = path.join(ws, "release");
  mkdirSync(rel);
  writeFileSync(path.join(rel, "payload.bin"), randomBytes(5 * 1024 * 1024));
  writeFileSync(path.join(rel, "app.py"), `import http.server\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")\n    def log_message(self, *a): pass\nhttp.server.HTTPServer(("0.0.0.0", ${PORT}), H).serve_forever()\n`);
  mkdirSync(path.join(ws, "environments"));
  const writeEnv = (hosts: string[]) => {
    const env = parse(readFileSync(lab.envFile, "utf8"));
    delete env.databases;
    env.services = { bench: { kind: "systemd", hosts, "deploy-to": "/srv/bench", exec: "/usr/bin/python3 app.py", user: "deploy", release: "release", stabilize: 0 } };
    writeFileSync(path.join(ws, "environments", "bench.yml"), stringify(env));
  };
  const droplets = lab.hosts.filter((h) => h.kind === "droplet");
  const first = droplets[0]!;
  const action = (label: string) => {
    const t = performance.now();
    const out = path.join(ws, "out");
    writeFileSync(out, "");
    writeFileSync(path.join(ws, "summary"), "");
    const r = spawnSync(wan[0]!, [...wan.slice(1), node24, path.join(ROOT, "actions/deploy-systemd/dist/index.js")], {
      cwd: ws,
      encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: process.env.HOME, INPUT_ENVIRONMENT: "bench", "INPUT_DRY-RUN": "false", INPUT_HOSTS: "", INPUT_SERVICE: "", INPUT_RELEASE: "", INPUT_SHA: "abcdef0123", "INPUT_LOCK-WAIT": "0", GITHUB_OUTPUT: out, GITHUB_STEP_SUMMARY: path.join(ws, "summary") },
    });
    const ms = performance.now() - t;
    if (r.status !== 0) throw new Error(`${label}: deploy-systemd failed: ${r.stdout}${r.stderr}`);
    const hosts = JSON.parse(/^hosts<<.*\n(.*)\n/m.exec(readFileSync(out, "utf8"))?.[1] ?? "{}");
    // the summary's hosts × steps table: its header and the first host's row
    const sum = readFileSync(path.join(ws, "summary"), "utf8").split("\n");
    const at = sum.findIndex((l) => l.startsWith("| host | lock"));
    const cells = (l: string | undefined) => (l ?? "").split("|").map((c) => c.trim()).filter(Boolean);
    const steps = at >= 0 ? cells(sum[at]).slice(1).map((name, i) => `${name} ${cells(sum[at + 2])[i + 1]}`).join(", ") : undefined;
    return { ms, hosts, steps };
  };
  const sshCmd = (host: typeof first, command: string) => sshArgv(lab, host, "deploy", command, { wan: true });
  const run = (argv: string[], input?: string) => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", input });
    if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };

  writeEnv([first.name]);
  action("warm-up (first deploy installs the unit)");
  await new Promise((r) => setTimeout(r, 1100));
  let cpu0 = hostCpu(first.name);
  const one = action("1 droplet");
  const oneCpu = hostCpu(first.name) - cpu0;

  // (a) the limit: one connection, tar stream in, restart, poll until healthy
  const limitScript = `set -e; d=/srv/bench/raw; rm -rf "$d"; mkdir -p "$d"; tar -xf - -C "$d"; sudo -n systemctl restart bench.service; until curl -fs -o /dev/null http://127.0.0.1:${PORT}/; do sleep 0.05; done`;
  const limitCmd = (h: typeof first) => `set -o pipefail; tar -C ${quote(rel)} -cf - . | ${sshCmd(h, limitScript).map((w) => quote(w)).join(" ")}`;
  let t = performance.now();
  cpu0 = hostCpu(first.name);
  run(["bash", "-c", limitCmd(first)]);
  const limit = performance.now() - t;
  const limitCpu = hostCpu(first.name) - cpu0;

  // (b) seed-style: a new ssh or scp for every step, as a pasted runbook does
  t = performance.now();
  const dest = `/srv/bench/seed-${Date.now()}`;
  run(sshCmd(first, `mkdir -p ${dest}`));
  const scpArgv = sshArgv(lab, first, "deploy", "true", { wan: true });
  const sshOpts = scpArgv.slice(wan.length + 1, scpArgv.indexOf(`deploy@${first.address}`));
  const portAt = sshOpts.indexOf("-p");
  const scpOpts = portAt >= 0 ? [...sshOpts.slice(0, portAt), "-P", sshOpts[portAt + 1]!, ...sshOpts.slice(portAt + 2)] : sshOpts;
  run([...wan, "scp", "-q", "-r", ...scpOpts, `${rel}/.`, `deploy@${first.address}:${dest}/`]);
  for (const c of [`ln -sfn ${dest} /srv/bench/seed-current`, "sudo -n systemctl daemon-reload", "sudo -n systemctl restart bench.service", "systemctl is-active bench.service", `until curl -fs -o /dev/null http://127.0.0.1:${PORT}/; do sleep 0.05; done`, "systemctl show -p NRestarts --value bench.service"])
    run(sshCmd(first, c));
  const seed = performance.now() - t;

  // 10 droplets at once; and the limit's commands on all of them at once, the lab's own floor:
  // its droplets share this machine's cores, so their CPU time (login, restart, the app's start)
  // adds up on the runner's clock as it would not on real droplets
  writeEnv(droplets.map((d) => d.name));
  action(`warm-up ${droplets.length}`);
  t = performance.now();
  await Promise.all(droplets.map((d) => new Promise<void>((ok, fail) => execFile("bash", ["-c", limitCmd(d)], (e) => (e ? fail(e) : ok())))));
  const limitAll = performance.now() - t;
  await new Promise((r) => setTimeout(r, 1100));
  const idle0 = cpuIdle();
  const all = action(`${droplets.length} droplets`);
  const idle = (cpuIdle() - idle0) / (all.ms / 1000) / os.cpus().length;

  const execs = Object.values(one.hosts as Record<string, { execs?: number }>)[0]?.execs;
  console.log(`bench/deploy: 5 MB release, runner behind a ${2 * DELAY} ms RTT link (lab WAN), deploy-systemd on Node 24`);
  console.log(`  limit (1 ssh: tar upload + restart + first healthy poll)   ${(limit / 1000).toFixed(2)} s`);
  console.log(`  deploy-systemd action, 1 droplet                            ${(one.ms / 1000).toFixed(2)} s   ${(one.ms / limit).toFixed(2)}x the limit (target <= 1.25x): ${one.ms / limit <= 1.25 ? "met" : "MISSED"}`);
  console.log(`  seed-style script (new ssh/scp per command)                 ${(seed / 1000).toFixed(2)} s   action is ${(seed / one.ms).toFixed(1)}x faster (target >= 5x): ${seed / one.ms >= 5 ? "met" : "MISSED"}`);
  console.log(`    its steps: ${one.steps}; the rest is Node start-up and the SSH handshake`);
  console.log(`    the droplet's own CPU time: ${oneCpu.toFixed(2)} s for the action's deploy, ${limitCpu.toFixed(2)} s for the limit's commands`);
  console.log(`  per host: 1 SSH connection (pooled), ${execs ?? "?"} remote exec calls (target <= 8): ${execs !== undefined && execs <= 8 ? "met" : "MISSED"}`);
  console.log(`  deploy-systemd action, ${droplets.length} droplets                           ${(all.ms / 1000).toFixed(2)} s   ${(all.ms / one.ms).toFixed(2)}x one droplet (target <= 1.3x): ${all.ms / one.ms <= 1.3 ? "met" : "MISSED"}`);
  console.log(`    the limit on ${droplets.length} droplets at once                   ${(limitAll / 1000).toFixed(2)} s   ${(limitAll / limit).toFixed(2)}x the limit on one: the lab's floor (${droplets.length} droplets on ${os.cpus().length} cores; the machine was ${Math.round(idle * 100)}% idle during the action)`);
  console.log(`    deploy-systemd, ${droplets.length} droplets, against that floor          ${(all.ms / limitAll).toFixed(2)}x (one droplet: ${(one.ms / limit).toFixed(2)}x)`);
} finally {
  rmSync(ws, { recursive: true, force: true });
  await down();
}
