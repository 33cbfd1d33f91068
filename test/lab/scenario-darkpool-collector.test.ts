// Seed 000 end to end: the Dark Pool Trade Collector moves from a crontab entry to a systemd
// service and is then changed, broken and rolled back by the actions alone, run in deploy.yml's
// order as the runner runs them. The runbook's success criteria are asserted on the hosts: the cron
// entry gone (and only it), the unit enabled at boot and restarted on failure, the log rotated, no
// trade of the cron era lost, the managed database reached over TLS on its non-default port.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../src/lab/run.js";
import { rootOn } from "../../src/lab/ssh.js";
import { COLLECTOR, CRON_ERA_TRADES, DEPLOY_TO, LOG_DIR, OTHER_CRON_LINE, UNIT, darkpoolUp, type Darkpool } from "../harness/darkpool.js";
import { ROOT } from "../harness/runner.js";
import { allJobs, why, whyRun } from "../harness/scenario.js";
import { lab } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("droplet-1", "droplet-2");

let dp: Darkpool;
const releases: Record<string, string> = {};
const backups: Record<string, string> = {};
const on = (cmd: string) => rootOn(lab(), COLLECTOR, cmd);
const live = () => on(`basename "$(readlink ${DEPLOY_TO}/current)"`);
const count = async (where = "true") => Number(await dp.sql(`SELECT count(*) FROM darkpool_trades WHERE ${where}`));
/** wait until the collector stored `n` more trades matching `where` (it stores one every 0.5 s) */
async function grows(where: string, n = 3, timeoutMs = 30_000) {
  const start = await count(where);
  await waitFor(`${n} new trades matching ${where}`, timeoutMs, async () => ((await count(where)) >= start + n ? true : undefined), 500);
}
const show = (prop: string) => on(`systemctl show -p ${prop} --value ${UNIT}`);

beforeAll(async () => {
  dp = await darkpoolUp(lab());
}, 180_000);
afterAll(async () => {
  await dp?.teardown();
}, 120_000);

describe("seed 000: darkpool-collector, crontab -> systemd", () => {
  // issue #14's mutation check: slipway's deploy-environment.yml (a release of it: the major tag moved) broken in two ways a reviewer could miss; each
  // push fails at the step concerned, names it, and the hosts are as before (the cron era goes on)
  const reusable = readFileSync(path.join(ROOT, ".github/workflows/deploy-environment.yml"), "utf8");

  it.each([
    {
      what: "a misspelt step output (steps.backup.outputs.backupid) fails apply-migrations",
      broken: reusable.replace(/(- id: migrate\n[\s\S]*?)steps\.backup\.outputs\.backup-id/, "$1steps.backup.outputs.backupid"),
      step: "Run OWNER/slipway/actions/apply-migrations@v0",
      error: /refusing to migrate darkpool: no backup-id given/,
    },
    {
      what: "a secret not handed to backup-db fails that step, naming the secret and how to map it",
      broken: reusable.replace(/(uses: OWNER\/slipway\/actions\/backup-db@v0\n(?: {8}.*\n)*?) {8}env:\n {10}SLIPWAY_SECRETS: .*\n/, "$1"),
      step: "Run OWNER/slipway/actions/backup-db@v0",
      error: /secret DARKPOOL_DATABASE_URL \(needed for .*\) is not set: map it in the workflow step/,
    },
  ])("mutation: $what; nothing changes on the hosts", async ({ broken, step, error }) => {
    expect(broken).not.toBe(reusable);
    const job = await dp.scenario.deploy(`mutation of ${step}`, { slipway: { ".github/workflows/deploy-environment.yml": broken } });
    expect(job.ok).toBe(false);
    const failed = (job.job?.steps ?? []).filter((st) => st.outcome === "failure");
    expect(failed.map((st) => st.name)).toEqual([step, "The deploy failed"]);
    expect(failed[0]!.errors.join("\n")).toMatch(error);
    expect(failed[1]!.errors[0]).toBe("no rollback was run: no host was left on the new release, or auto-rollback is off");
    expect(job.job!.steps.find((st) => st.id === "systemd")!.outcome).toBe("skipped");
    // the cron era goes on: no release, no unit, every trade
    expect(await on("crontab -l -u deployer")).toContain("darkpool_collector");
    expect(await on(`test -e ${DEPLOY_TO}/current && echo live || echo none`)).toBe("none");
    expect(await on(`systemctl cat ${UNIT} >/dev/null 2>&1 && echo unit || echo none`)).toBe("none");
    expect(await count("ts < now() - interval '1 hour'")).toBe(CRON_ERA_TRADES);
  }, 120_000);

  it("first deploy: backup, migration 001, unit installed and enabled, cron entry handed over, trades flowing over TLS", async () => {
    const job = await dp.scenario.deploy("a000001aaaaaaa");
    expect(job.ok, whyRun(job)).toBe(true);
    releases.r1 = job.releaseId!;
    // backup before migrating: a verified dump on the runner, holding the cron era's trades
    expect(job.steps["backup-db"]!.outputs.verified).toBe("true");
    const dumps = readdirSync(path.join(dp.scenario.workspaceOf(job.run, "production / deploy"), "backups"), { recursive: true }).map(String);
    expect(dumps.some((f) => f.startsWith("darkpool") && f.endsWith(".dump")), dumps.join(", ")).toBe(true);
    // and kept as the run's artifact (deploy-environment.yml's "Keep the database backup")
    const artifact = readdirSync(path.join(job.run.workDir, "artifacts")).find((a) => a.startsWith("backup-production-"));
    expect(artifact).toBeDefined();
    expect(readdirSync(path.join(job.run.workDir, "artifacts", artifact!), { recursive: true }).map(String).some((f) => f.endsWith(".dump"))).toBe(true);
    expect(job.steps["backup-db"]!.summary).toContain(`| public.darkpool_trades | ${CRON_ERA_TRADES} |`);
    expect(job.steps["apply-migrations"]!.outputs.applied).toBe("1");
    // runbook "Remove crontab entry": ours is gone, the other line is still there
    const crontab = await on("crontab -l -u deployer");
    expect(crontab).not.toContain("darkpool_collector");
    expect(crontab).toContain(OTHER_CRON_LINE);
    // success criteria: starts on boot, restarts on failure
    expect(await on(`systemctl is-enabled ${UNIT}`)).toBe("enabled");
    expect(await show("Restart")).toBe("always");
    expect(await show("RestartUSec")).toBe("10s");
    expect(await show("User")).toBe("deployer");
    // the password is in the 0600 env file of the service user, not in the unit
    expect(await on(`stat -c '%a %U' ${DEPLOY_TO}/shared/slipway.env 2>/dev/null || stat -c '%a %U' $(systemctl show -p EnvironmentFiles --value ${UNIT} | cut -d' ' -f1)`)).toBe("600 deployer");
    expect(await on(`cat /etc/systemd/system/${UNIT}`)).not.toContain(dp.db.password);
    // trades flow into the managed database over TLS, and none of the cron era's is lost
    await grows("true");
    expect(await dp.sql("SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE application_name LIKE 'darkpool_collector/%'")).toBe("t");
    expect(await count("ts < now() - interval '1 hour'")).toBe(CRON_ERA_TRADES);
    expect(job.steps["verify-health"]!.summary).toMatch(/fresh trades/);
    expect(job.summary).toContain("slipway deploy-systemd");
  }, 240_000);

  it("the service restarts by itself when the collector is killed (Restart=always, RestartSec=10)", async () => {
    const pid = await show("MainPID");
    expect(Number(pid)).toBeGreaterThan(1);
    const restarts = Number(await show("NRestarts"));
    await on(`kill -9 ${pid}`);
    for (let i = 0; i < 40 && (await show("NRestarts")) === String(restarts); i++) await new Promise((r) => setTimeout(r, 1000));
    expect(Number(await show("NRestarts"))).toBe(restarts + 1);
    await grows("true", 3, 40_000);
    expect(await show("MainPID")).not.toBe(pid);
  }, 90_000);

  it("log rotation: logrotate's config is valid, rotates the open log and the collector keeps writing", async () => {
    const conf = await on("cat /etc/logrotate.d/slipway-darkpool-collector");
    expect(conf).toContain(`${LOG_DIR}/*.log`);
    expect(conf).toContain("copytruncate");
    await on("logrotate -f /etc/logrotate.d/slipway-darkpool-collector");
    expect(await on(`ls ${LOG_DIR}`)).toMatch(/darkpool_collector\.log\.1(\.gz)?/);
    // the collector logs every 20 trades (10 s): the truncated file fills again
    for (let i = 0; i < 40 && (await on(`stat -c %s ${LOG_DIR}/darkpool_collector.log`)) === "0"; i++) await new Promise((r) => setTimeout(r, 1000));
    expect(Number(await on(`stat -c %s ${LOG_DIR}/darkpool_collector.log`))).toBeGreaterThan(0);
  }, 90_000);

  it("a push whose production approval is rejected: no step runs, the host keeps its release, ledger and process", async () => {
    const before = { live: await live(), ledger: await on(`wc -l < ${DEPLOY_TO}/_slipway/ledger.jsonl`), pid: await show("MainPID") };
    const job = await dp.scenario.deploy("r000001rejected", { approvals: { production: "reject" } });
    expect(job.ok).toBe(false);
    expect(job.job?.approval).toBe("reject");
    expect(job.job?.steps.filter((st) => st.outcome !== "skipped")).toEqual([]);
    expect(Object.keys(job.steps)).toEqual([]);
    expect(allJobs(job.run.jobs).map((j) => j.id)).toEqual(["production", "production / deploy"]);
    expect({ live: await live(), ledger: await on(`wc -l < ${DEPLOY_TO}/_slipway/ledger.jsonl`), pid: await show("MainPID") }).toEqual(before);
    expect(dp.scenario.github!.deploymentsFor("production").map((d) => d.sha)).not.toContain(dp.scenario.sha("r000001rejected"));
  }, 120_000);

  it("second deploy: a code change with migration 002 (trades get a venue), backed up first", async () => {
    dp.scenario.commit("002-venue");
    const job = await dp.scenario.deploy("b000002bbbbbbb");
    expect(job.ok, whyRun(job)).toBe(true);
    releases.r2 = job.releaseId!;
    expect(job.steps["apply-migrations"]!.summary).toContain("002_trade_venue.sql");
    expect(job.steps["apply-migrations"]!.outputs.head).toBe("002");
    await grows("venue IS NOT NULL");
    const ledger = JSON.parse((await on(`tail -n 1 ${DEPLOY_TO}/_slipway/ledger.jsonl`)));
    expect(ledger.release).toBe(releases.r2);
    expect(ledger.backupId).toBe(job.steps["backup-db"]!.outputs["backup-id"]);
    backups.r2 = ledger.backupId;
  }, 240_000);

  it("a broken release (every insert fails, the process stays up): verification catches it and the automatic rollback restores release 2", async () => {
    const before = await count();
    dp.scenario.commit("003-broken");
    const job = await dp.scenario.deploy("c000003ccccccc");
    expect(job.steps.deploy!.code, why(job.steps.deploy)).toBe(0); // systemd saw a healthy process
    expect(job.ok).toBe(false);
    expect(job.steps["verify-health"]!.code).toBe(1);
    expect(job.steps["verify-health"]!.stdout).toContain("fresh trades");
    expect(job.steps.rollback!.code, why(job.steps.rollback)).toBe(0);
    expect(await live()).toBe(releases.r2);
    expect(job.releaseId).toBe(releases.r2);
    await grows("venue IS NOT NULL");
    expect(await on(`grep -c 'trade_size' ${LOG_DIR}/darkpool_collector.log`)).not.toBe("0");
    // the bad release is marked so that no later rollback returns to it
    expect(await on(`grep -c '"bad"' ${DEPLOY_TO}/_slipway/ledger.jsonl`)).not.toBe("0");
    expect(await count()).toBeGreaterThan(before);
    // slipway status shows it too
    const status = execFileSync("node", [path.join(ROOT, "dist/cli/index.js"), "status", dp.scenario.envPath], { cwd: dp.scenario.ws, encoding: "utf8" });
    expect(status).toContain(`live: ${releases.r2}`);
    expect(status).toMatch(new RegExp(`success  ${job.steps.deploy!.outputs["release-id"]}  sha ${dp.scenario.sha("c000003ccccccc")}  by octocat  \\(BAD: abandoned by a rollback`));
    expect(status).toContain("reason: deploy or verification failed in run");
  }, 300_000);

  it("a dispatch rollback (rollback.yml) to release 1 by its sha: the schema stays, the warning names migration 002", async () => {
    const r = await dp.scenario.rollback(dp.scenario.sha("a000001aaaaaaa").slice(0, 7));
    expect(r.code, why(r)).toBe(0);
    expect(r.outputs["release-id"]).toBe(releases.r1);
    expect(await live()).toBe(releases.r1);
    expect(r.stdout).toContain("002");
    await grows("venue IS NULL AND ts > now() - interval '1 minute'");
    // no trade lost across all of it
    expect(await count("ts < now() - interval '1 hour'")).toBe(CRON_ERA_TRADES);
    expect(await on(`systemctl is-active ${UNIT}`)).toBe("active");
  }, 180_000);

  it("rollback.yml with restore-db: the restore job fetches the runner-side dump from the deploy run that took it (its artifact) and restores the database as release 1 left it", async () => {
    expect(await dp.sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'darkpool_trades' AND column_name = 'venue'")).toBe("1");
    const restore = await dp.scenario.rollback(releases.r1!, { restoreDb: true });
    expect(restore.code, why(restore)).toBe(0);
    // the code was already back: the first job resolved the backup (the dump taken before 002, in the second deploy's run)
    const jobs = allJobs(restore.run.jobs);
    expect(jobs.find((j) => j.id === "rollback / rollback")!.outputs["backup-id"]).toBe(backups.r2);
    const fetch = jobs.find((j) => j.id === "rollback / restore-db")!.steps.find((st) => st.name.startsWith("Fetch a runner-side backup"))!;
    expect(fetch.outcome).toBe("success");
    expect(fetch.log).toMatch(new RegExp(`1 artifact\\(s\\) matching 'backup-production-\\*' downloaded to .*: backup-production-${/-r(\d+)-/.exec(backups.r2!)![1]}-1`));
    expect(restore.outputs["restored-db"]).toBe("true");
    expect(restore.stdout).toContain(`darkpool was restored from ${backups.r2}`);
    // the schema as release 1 left it, and the collector of release 1 writing into it; no trade of the cron era lost
    expect(await dp.sql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'darkpool_trades' AND column_name = 'venue'")).toBe("0");
    expect(await dp.sql("SELECT string_agg(version, ',' ORDER BY version) FROM slipway_schema_history")).toBe("001");
    await grows("ts > now() - interval '1 minute'");
    expect(await count("ts < now() - interval '1 hour'")).toBe(CRON_ERA_TRADES);
  }, 180_000);

  it("the nightly backup (the backup.yml template, its matrix cut to production): a verified runner-side dump of darkpool, kept as an artifact", async () => {
    const template = readFileSync(path.join(ROOT, "examples/workflows/backup.yml"), "utf8");
    const nightly = template.replace("environment: [staging, production, nas]", "environment: [production]");
    expect(nightly).not.toBe(template);
    writeFileSync(dp.scenario.file(".github/workflows/backup.yml"), nightly);
    const sha = dp.scenario.push("nightly backups");
    const r = await dp.scenario.run("backup.yml", { event: "schedule", sha });
    expect(r.conclusion, whyRun({ run: r })).toBe("success");
    const job = allJobs(r.jobs).find((j) => j.id === "backup (production) / backup")!;
    expect(job.environment?.name).toBe("production-ops"); // the environment's secrets without its deploy approval
    const step = job.steps.find((st) => st.id === "backup")!;
    expect(step.outputs).toMatchObject({ verified: "true" });
    expect(step.outputs["backup-id"]).toMatch(/^darkpool-/);
    // the dump, as the artifact the run keeps for the retention days
    const artifacts = readdirSync(path.join(r.workDir, "artifacts"));
    expect(artifacts).toEqual([expect.stringMatching(/^backup-production-all-\d+-1$/)]);
    const files = readdirSync(path.join(r.workDir, "artifacts", artifacts[0]!));
    expect(files.some((f) => f.endsWith(".dump"))).toBe(true);
  }, 180_000);
});
