// Bundle size and median cold start of each action on Node 24, as the runner starts it
// (INPUT_*, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY; a real environment file is loaded and validated).
// Bare `node` start-up is measured in the same run as the baseline.
// Targets: bundle (JS) <= 2 MB, median cold start <= 150 ms. The migration lint's .wasm is shown apart.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureNode24 } from "../scripts/node24.mjs";

const root = path.resolve(import.meta.dirname, "..");
const node = ensureNode24();
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
// every action that has a bundle (actions/<name>/dist)
const actions = readdirSync(path.join(root, "actions")).filter((a) => existsSync(path.join(root, "actions", a, "dist", "index.js"))).sort();
const tmp = mkdtempSync(path.join(os.tmpdir(), "slipway-bench-"));
const env = {
  PATH: process.env.PATH,
  GITHUB_OUTPUT: path.join(tmp, "out"),
  GITHUB_STEP_SUMMARY: path.join(tmp, "summary"),
  INPUT_ENVIRONMENT: "test/fixtures/environments/production.yml", // a multi-service test fixture
  "INPUT_DRY-RUN": "true",
  DEPLOY_SSH_KEY: "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n-----END OPENSSH PRIVATE KEY-----",
  SLIPWAY_SSH_KEY: "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n-----END OPENSSH PRIVATE KEY-----",
};
writeFileSync(env.GITHUB_OUTPUT, "");
writeFileSync(env.GITHUB_STEP_SUMMARY, "");

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(args) {
  const samples = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(node, args, { cwd: root, env, encoding: "utf8" });
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    // every action gets as far as loading and validating the environment (dry run: nothing is contacted)
    if (args[0] !== "-e" && !r.stdout.includes("environment production (test/fixtures/environments/production.yml)"))
      throw new Error(`unexpected result from ${args[0]}: ${r.stdout}${r.stderr}`);
  }
  return median(samples);
}

const bare = time(["-e", ""]);
const rows = actions.map((a) => {
  const dist = path.join(root, "actions", a, "dist");
  const file = path.join(dist, "index.js");
  // the whole dist/: index.js plus the chunks it loads lazily (the SSH stack); the migration lint's
  // PostgreSQL parser (a .wasm read only when there are SQL migrations to lint) counted apart
  const files = readdirSync(dist);
  const size = files.filter((f) => !f.endsWith(".wasm")).reduce((n, f) => n + statSync(path.join(dist, f)).size, 0);
  const wasm = files.filter((f) => f.endsWith(".wasm")).reduce((n, f) => n + statSync(path.join(dist, f)).size, 0);
  const ms = time([file]);
  return { action: a, size, wasm, ms };
});
const pad = (s, n) => String(s).padEnd(n);
console.log(`cold start on Node ${spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim()}, median of ${RUNS} runs; bare node: ${bare.toFixed(0)} ms`);
console.log(`${pad("action", 20)}${pad("dist/ JS", 12)}${pad("+ wasm", 10)}${pad("cold start", 14)}${pad("vs bare node", 14)}targets (JS <= 2 MB, <= 150 ms)`);
for (const r of rows) {
  const ok = r.size <= 2 * 1024 * 1024 && r.ms <= 150;
  console.log(`${pad(r.action, 20)}${pad((r.size / 1024 / 1024).toFixed(2) + " MB", 12)}${pad(r.wasm ? (r.wasm / 1024 / 1024).toFixed(2) + " MB" : "-", 10)}${pad(r.ms.toFixed(0) + " ms", 14)}${pad((r.ms / bare).toFixed(1) + "x", 14)}${ok ? "met" : "MISSED"}`);
}
