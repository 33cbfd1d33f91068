// npm run demo: boots the lab if needed and puts seed 000's Dark Pool Trade Collector through what
// its runbook did by hand — crontab -> systemd, a change with a migration, a broken release — with
// the example repository examples/darkpool-collector (its own .github/workflows/deploy.yml, a caller of
// OWNER/slipway/.github/workflows/deploy-environment.yml@v0, resolved to this checkout), run by the local
// workflow runner (GitHub's parser and expression engine; the committed action bundles under Node 24) on every push to main. Prints a readable report and writes the jobs' markdown summaries to
// .lab/demo-report.md. The system stays deployed on the lab (npm run lab -- down removes it all).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { status, up } from "../src/lab/lab.js";
import { formatDuration } from "../src/report/summary.js";
import { rootOn } from "../src/lab/ssh.js";
import { COLLECTOR, CRON_ERA_TRADES, DEPLOY_TO, darkpoolUp } from "../test/harness/darkpool.js";
import { ROOT } from "../test/harness/runner.js";
import { allJobs, errors, type JobResult } from "../test/harness/scenario.js";

const t0 = Date.now();
const say = (m: string) => console.log(`\n▶ ${m}`);
if (process.getuid?.() !== 0) {
  console.error("npm run demo boots systemd-nspawn hosts and needs root (sudo npm run demo)");
  process.exit(1);
}
// the same machine packages as npm test (installs what is missing and says what it installs)
execFileSync("node", [path.join(ROOT, "scripts/pretest.mjs")], { stdio: "inherit" });

say("Lab: two DigitalOcean-like droplets and a Synology-like NAS (systemd-nspawn: real sshd, systemd, PostgreSQL)");
const st = await status();
const lab = st.up && st.state ? st.state : await up({ droplets: 2, nas: 1, log: (m) => console.log(`  ${m}`) });
console.log(`  ${lab.hosts.map((h) => `${h.name} ${h.address}`).join(", ")}${st.up ? " (already up)" : ""}`);

say("The cron era (seed 000): droplet-1 runs the collector from deployer's crontab; the managed PostgreSQL (TLS, port 25060) on droplet-2 holds its trades");
const dp = await darkpoolUp(lab);
const { scenario } = dp;
const trades = () => dp.sql("SELECT count(*) FROM darkpool_trades").then(Number);
console.log(`  crontab of deployer: ${(await rootOn(lab, COLLECTOR, "crontab -l -u deployer")).split("\n").length} lines; ${await trades()} trades in darkpool_trades`);

const cli = (args: string[]) => execFileSync("node", [path.join(ROOT, "dist/cli/index.js"), ...args], { cwd: scenario.ws, encoding: "utf8" }).trim();
say("validate and plan (the plan step of the deploy job)");
console.log(cli(["validate", scenario.envPath]).replace(/^/gm, "  "));
console.log(cli(["plan", scenario.envPath]).replace(/^/gm, "  "));

const report: string[] = [
  "# slipway demo: seed 000's collector, from crontab to a verified, self-healing deploy\n",
  `Lab hosts: ${lab.hosts.map((h) => `\`${h.name}\` ${h.address}`).join(", ")}. Each push to main of the app repository (examples/darkpool-collector) runs its \`.github/workflows/deploy.yml\` through slipway's local workflow runner (GitHub's own parser and expression engine): the production job of slipway's reusable \`deploy-environment.yml\` (by its versioned reference \`OWNER/slipway/…@v0\`) behind its approval (given here) — plan → backup-db → apply-migrations → deploy-systemd → verify-health → rollback on failure.\n`,
];
const jobs: { title: string; sha: string; job: JobResult; ms: number }[] = [];
const STEP_ICON = (code: number | null | undefined) => (code === 0 ? "✓" : "✗");

async function deployJob(title: string, sha: string, change?: string) {
  if (change) scenario.commit(change);
  const t = Date.now();
  const job = await scenario.deploy(sha);
  say(`${title} (push of ${job.sha.slice(0, 7)} to main: deploy.yml)`);
  for (const j of allJobs(job.run.jobs).filter((j) => !j.jobs?.length)) console.log(`  ${j.result === "success" ? "✓" : j.result === "skipped" ? "–" : "✗"} job ${j.id}${j.approval ? ` (environment ${j.environment?.name}: ${j.approval === "pending" ? "no answer" : `${j.approval}d`})` : ""}${j.result === "skipped" ? " skipped (no environment file)" : ""}`);
  const ms = Date.now() - t;
  jobs.push({ title, sha: job.sha, job, ms });
  for (const [name, r] of Object.entries(job.steps)) {
    const err = r.code === 0 ? "" : `: ${errors(r).split("\n")[0]}`;
    const out = name === "deploy" ? ` release ${r.outputs["release-id"]}` : name === "backup-db" ? ` ${r.outputs["backup-id"] ?? ""}` : name === "apply-migrations" ? ` applied ${r.outputs.applied}, head ${r.outputs.head}` : name === "rollback" ? ` live again: ${r.outputs["release-id"]}` : "";
    console.log(`  ${STEP_ICON(r.code)} ${name.padEnd(16)}${out}${err}`);
  }
  console.log(`  ${job.ok ? "job succeeded" : "job FAILED (the run stays red)"} in ${formatDuration(ms)}; live: ${job.releaseId}`);
  report.push(`## ${title} — ${job.ok ? "✅ succeeded" : "❌ failed"} (${formatDuration(ms)})\n`, job.summary, "");
  return job;
}

const first = await deployJob("Job 1: first deploy — crontab → systemd", "a1f3c9e0d2b4a6c8");
if (!first.ok) throw new Error("the first deploy failed: see above");
const evidence1 = [
  `crontab of deployer: ${(await rootOn(lab, COLLECTOR, "crontab -l -u deployer")).includes("darkpool_collector") ? "STILL has the collector line" : "collector line removed (the other line kept), recorded in the ledger"}`,
  `darkpool-collector.service: ${await rootOn(lab, COLLECTOR, "systemctl is-enabled darkpool-collector.service")}, ${await rootOn(lab, COLLECTOR, "systemctl is-active darkpool-collector.service")}, Restart=${await rootOn(lab, COLLECTOR, "systemctl show -p Restart --value darkpool-collector.service")}`,
  `collector's database sessions over TLS: ${await dp.sql("SELECT coalesce(bool_and(ssl), false) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE application_name LIKE 'darkpool_collector/%'")}`,
];
console.log(evidence1.map((e) => `  · ${e}`).join("\n"));

await deployJob("Job 2: a change with migration 002 (trades record their venue)", "b2e4d6f8a0c1e3f5", "002-venue");
const third = await deployJob("Job 3: a broken release (every insert fails; the process stays up)", "c3d5e7f9b1a2c4e6", "003-broken");

await new Promise((r) => setTimeout(r, 2000));
const evidence = [
  `live release: ${await rootOn(lab, COLLECTOR, `basename "$(readlink ${DEPLOY_TO}/current)"`)} (job 2's: ${jobs[1]!.job.releaseId})`,
  `trades stored in the last 5 s: ${await dp.sql("SELECT count(*) FROM darkpool_trades WHERE ts > now() - interval '5 seconds'")} (by the restored release; with venue: ${await dp.sql("SELECT count(*) FROM darkpool_trades WHERE ts > now() - interval '5 seconds' AND venue IS NOT NULL")})`,
  `trades of the cron era still there: ${await dp.sql("SELECT count(*) FROM darkpool_trades WHERE ts < now() - interval '1 hour'")} of ${CRON_ERA_TRADES}; all trades: ${await trades()}`,
  `ledger on ${COLLECTOR}: ${(await rootOn(lab, COLLECTOR, `grep -c . ${DEPLOY_TO}/_slipway/ledger.jsonl`))} entries; release ${third.steps.deploy?.outputs["release-id"]} marked bad: ${(await rootOn(lab, COLLECTOR, `grep -c '"bad":true' ${DEPLOY_TO}/_slipway/ledger.jsonl || true`)) !== "0"}`,
];
say("Evidence, read on the hosts (not reported by slipway)");
console.log([...evidence1, ...evidence].map((e) => `  · ${e}`).join("\n"));
say("slipway status (what is live on each host, and what came before)");
const statusText = cli(["status", scenario.envPath]);
console.log(statusText.replace(/^/gm, "  "));

report.splice(2, 0, "| job | commit | result | time |\n|---|---|---|---|\n" + jobs.map((j) => `| ${j.title} | \`${j.sha.slice(0, 7)}\` | ${j.job.ok ? "✅ succeeded" : j.job.steps.rollback?.code === 0 ? "❌ failed → rolled back automatically" : "❌ failed"} | ${formatDuration(j.ms)} |`).join("\n") + "\n");
report.push("## Evidence, read on the hosts\n", [...evidence1, ...evidence].map((e) => `- ${e}`).join("\n") + "\n", "## `slipway status`\n", "```text\n" + statusText + "\n```\n");
const file = path.join(ROOT, ".lab", "demo-report.md");
writeFileSync(file, report.join("\n"));
await scenario.close(); // the app repository and the runs' work directories (the hosts keep the system)
say(`done in ${formatDuration(Date.now() - t0)}. Report (the jobs' markdown summaries): ${path.relative(process.cwd(), file)}. The lab keeps running: npm run lab -- down`);
