// verify-health on the lab, run as the runner runs it, as the deploy user with its limited sudo:
// systemd units (a steady one, one that keeps restarting inside the stability window, memory),
// supervisor programs (a steady one, a group with a flapping program), a compose stack on the NAS
// (healthy, unhealthy, no healthcheck, missing) through `sudo -n /usr/local/bin/docker`, and a
// PostgreSQL query. The test sets up its own units, programs and containers and removes them.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAction } from "../harness/runner.js";
import { lab, on } from "./helpers.js";
import { holdHosts } from "./host-locks.js";

holdHosts("*");

const STEADY = "slipway-health-ok.service";
const FLAP = "slipway-health-flap.service";
const GROUP = "slipwayhealth";
const COMPOSE_DIR = "/srv/slipway-health-compose";
const PROJECT = "slipwayhealth";
const compose = `cd ${COMPOSE_DIR} && sudo -n /usr/local/bin/docker-compose -p ${PROJECT}`;

const units: Record<string, string> = {
  [STEADY]: `[Unit]
Description=slipway verify-health lab test: steady, holds 32 MiB
[Service]
ExecStart=/usr/bin/python3 -c "import time; x = b'x' * (32 * 1024 * 1024); time.sleep(10 ** 6)"
MemoryAccounting=yes
`,
  [FLAP]: `[Unit]
Description=slipway verify-health lab test: exits every second, restarted by systemd
StartLimitIntervalSec=0
[Service]
ExecStart=/bin/sh -c "echo 'flap: lost the broker'; sleep 1; exit 1"
Restart=always
RestartSec=300ms
`,
};

const programs = `[group:${GROUP}]
programs=steady,flappy

[program:steady]
command=/usr/bin/python3 -c "import time; time.sleep(10 ** 6)"
autorestart=true
startsecs=1

[program:flappy]
command=/bin/sh -c "sleep 1; exit 1"
autorestart=true
startsecs=0
startretries=1000
`;

const stack = `version: "3.8"
services:
  web:
    image: local/debian:bookworm
    init: true
    command: ["python3", "-m", "http.server", "8090", "--bind", "0.0.0.0"]
    ports: ["127.0.0.1:18090:8090"]
    healthcheck:
      test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8090/"]
      interval: 1s
      timeout: 3s
      retries: 20
  sick:
    image: local/debian:bookworm
    init: true
    command: ["sleep", "infinity"]
    healthcheck:
      test: ["CMD-SHELL", "echo 'db connection refused'; exit 1"]
      interval: 1s
      timeout: 3s
      retries: 1
  plain:
    image: local/debian:bookworm
    init: true
    command: ["sleep", "infinity"]
`;

const passing = ["steady unit", "steady memory", "steady program", "web healthy", "plain running", "web from the NAS", "droplet database", "no panic flag"];
const failing = ["restarting unit", "missing unit", "memory over the limit", "flapping group", "sick container", "missing container"];

let ws: string;

const cleanup = async () => {
  await on("droplet-1", "root", `systemctl disable --now ${STEADY} ${FLAP} 2>/dev/null; rm -f /etc/systemd/system/${STEADY} /etc/systemd/system/${FLAP}; systemctl daemon-reload; systemctl reset-failed; true`);
  await on("droplet-2", "root", `supervisorctl stop '${GROUP}:*' >/dev/null 2>&1; rm -f /etc/supervisor/conf.d/${GROUP}.conf; supervisorctl update >/dev/null 2>&1; true`);
  await on("nas-1", "deploy", `if [ -f ${COMPOSE_DIR}/docker-compose.yml ]; then ${compose} down -t 1 >/dev/null 2>&1; fi; sudo -n rm -rf ${COMPOSE_DIR}; true`, { timeoutMs: 120_000 });
};

beforeAll(async () => {
  await cleanup();
  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-lab-health-"));
  mkdirSync(path.join(ws, "environments"));
  const env = parse(readFileSync(lab().envFile, "utf8"));
  env.services = {
    // declared so checks without hosts: find their hosts; nothing here deploys them
    "slipway-health-ok": { kind: "systemd", hosts: ["droplet-1"], "deploy-to": "/srv/slipway-health-ok", exec: "/usr/bin/true" },
    [GROUP]: { kind: "supervisor", hosts: ["droplet-2"], "deploy-to": "/srv/slipway-health-supervisor", group: GROUP, programs: { steady: { command: "/usr/bin/true" }, flappy: { command: "/usr/bin/true" } } },
    stack: { kind: "compose", hosts: ["nas-1"], "deploy-to": COMPOSE_DIR, files: ["docker-compose.yml"], project: PROJECT },
  };
  const window = { stable: 3, interval: "1s", retries: 6 };
  env.checks = [
    { name: "steady unit", systemd: STEADY, ...window },
    { name: "steady memory", memory: { unit: STEADY, max: "1G" }, hosts: ["droplet-1"] },
    { name: "steady program", supervisor: `${GROUP}:steady`, ...window, retries: 10 },
    { name: "web healthy", compose: "web", stable: 2, interval: "1s", retries: 40 },
    { name: "plain running", compose: "plain", retries: 10, interval: "1s" },
    { name: "web from the NAS", http: "http://127.0.0.1:18090/", from: "nas-1", contains: "Directory listing", retries: 40, interval: "1s" },
    { name: "droplet database", sql: "select count(*) from pg_database", database: "droplet-app", expect: "> 0" },
    { name: "no panic flag", "file-absent": "/srv/slipway-health-state/panic.flag", hosts: ["droplet-1"], retries: 0 },
    { name: "restarting unit", systemd: FLAP, hosts: ["droplet-1"], ...window, retries: 5 },
    { name: "missing unit", systemd: "slipway-health-none.service", hosts: ["droplet-1"], retries: 0 },
    { name: "memory over the limit", memory: { unit: STEADY, max: "16M" }, hosts: ["droplet-1"], retries: 0 },
    { name: "flapping group", supervisor: `${GROUP}:*`, hosts: ["droplet-2"], ...window, retries: 5 },
    { name: "sick container", compose: "sick", retries: 6, interval: "1s" },
    { name: "missing container", compose: "nosuch", hosts: ["nas-1"], retries: 0 },
  ];
  writeFileSync(path.join(ws, "environments", "lab.yml"), stringify(env));

  for (const [unit, text] of Object.entries(units)) await on("droplet-1", "root", `cat > /etc/systemd/system/${unit}`, { input: text });
  const started = await on("droplet-1", "root", `systemctl daemon-reload && systemctl start ${STEADY} ${FLAP} && systemctl is-active ${STEADY}`);
  expect(started.stdout, started.stderr).toBe("active");
  const sup = await on("droplet-2", "root", `cat > /etc/supervisor/conf.d/${GROUP}.conf && supervisorctl update`, { input: programs });
  expect(sup.code, sup.stdout + sup.stderr).toBe(0);
  const dir = await on("nas-1", "deploy", `set -e; sudo -n mkdir -p ${COMPOSE_DIR}; sudo -n chown deploy:deploy ${COMPOSE_DIR}; cat > ${COMPOSE_DIR}/docker-compose.yml`, { input: stack });
  expect(dir.code, dir.stderr).toBe(0);
  const upR = await on("nas-1", "deploy", `${compose} up -d 2>&1`, { timeoutMs: 120_000 });
  expect(upR.code, upR.stdout).toBe(0);
});

afterAll(async () => {
  await cleanup();
  // nothing of this test is left: units, programs, containers, /srv
  const d1 = await on("droplet-1", "root", `ls /etc/systemd/system | grep -c slipway-health || true; systemctl list-units --all --no-legend 'slipway-health-*' | wc -l; ls -A /srv`);
  expect(d1.stdout.split("\n").slice(0, 2)).toEqual(["0", "0"]);
  expect(d1.stdout).not.toContain("slipway-health");
  const d2 = await on("droplet-2", "root", `test -e /etc/supervisor/conf.d/${GROUP}.conf && echo left || echo gone; supervisorctl status '${GROUP}:*' 2>&1 | grep -c RUNNING || true; ls -A /srv`);
  expect(d2.stdout.split("\n").slice(0, 2)).toEqual(["gone", "0"]);
  const nas = await on("nas-1", "deploy", `sudo -n /usr/local/bin/docker ps -aq --filter label=com.docker.compose.project=${PROJECT} | wc -l; ls -A /srv`);
  expect(nas.stdout.split("\n")[0]).toBe("0");
  expect(nas.stdout).not.toContain("slipway-health");
}, 180_000);

const run = (checks: string[]) => runAction("verify-health", { environment: "lab", hosts: "", "dry-run": "false", checks: checks.join(", ") }, { cwd: ws });
type Row = { name: string; kind: string; host: string; ok: boolean; attempts: number; ms: number; detail: string };
const rows = (outputs: Record<string, string>) => Object.fromEntries((JSON.parse(outputs.report!) as Row[]).map((r) => [r.name, r]));

describe("verify-health on the lab", () => {
  it("steady units, programs and containers pass their stability windows; hosts are found from the services", () => {
    const r = run(passing);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs.healthy).toBe("true");
    const by = rows(r.outputs);
    expect(Object.values(by).filter((x) => !x.ok)).toEqual([]);
    expect(by["steady unit"]).toMatchObject({ kind: "systemd", host: "droplet-1", attempts: 3 });
    expect(by["steady unit"]!.detail).toMatch(new RegExp(`^${STEADY} is active \\(running\\), pid \\d+, NRestarts 0$`));
    expect(by["steady memory"]!.detail).toMatch(new RegExp(`^${STEADY} uses [\\d.]+ MiB \\((MemoryCurrent|cgroup memory counter|RSS of \\d process\\(es\\); memory accounting is off)\\), below 1G$`));
    const mib = Number(/uses ([\d.]+) MiB/.exec(by["steady memory"]!.detail)![1]);
    expect(mib).toBeGreaterThanOrEqual(32); // the 32 MiB the process holds
    expect(mib).toBeLessThan(200);
    expect(by["steady program"]).toMatchObject({ kind: "supervisor", host: "droplet-2" });
    expect(by["steady program"]!.detail).toMatch(/^1 program\(s\) RUNNING \(pid \d+, uptime [\d:]+\)$/);
    expect(by["steady program"]!.attempts).toBeGreaterThanOrEqual(3);
    expect(by["web healthy"]).toMatchObject({ kind: "compose", host: "nas-1", detail: `${PROJECT}_web_1 running, healthy` });
    expect(by["plain running"]).toMatchObject({ host: "nas-1", detail: `${PROJECT}_plain_1 running` });
    expect(by["web from the NAS"]).toMatchObject({ kind: "http", host: "nas-1", detail: 'HTTP 200, contains "Directory listing"' });
    expect(by["droplet database"]).toMatchObject({ kind: "sql", host: "droplet-1" });
    expect(by["droplet database"]!.detail).toMatch(/^\d+ satisfies > 0$/);
    expect(by["no panic flag"]).toMatchObject({ host: "droplet-1", detail: "/srv/slipway-health-state/panic.flag is absent" });
    expect(r.summary).toContain("### slipway verify-health — lab: ✅ healthy");
    expect(r.summary).toContain(`| steady unit | systemd | droplet-1 | ✅ | 3 |`);
  });

  it("a unit restarting inside the window, a missing unit, memory over its limit, a flapping program and unhealthy or missing containers fail, each named", () => {
    const r = run(failing);
    expect(r.code).toBe(1);
    expect(r.outputs.healthy).toBe("false");
    const by = rows(r.outputs);
    expect(Object.values(by).filter((x) => x.ok)).toEqual([]);
    expect(by["restarting unit"]).toMatchObject({ kind: "systemd", host: "droplet-1" });
    expect(by["restarting unit"]!.detail).toMatch(new RegExp(`^${FLAP} (restarted during the stability window \\(NRestarts \\d+ → \\d+|is (activating|deactivating|failed) )`));
    expect(by["restarting unit"]!.detail).toContain("3 needed)");
    expect(by["restarting unit"]!.detail).toContain(`journal of ${FLAP} on droplet-1:\n`);
    expect(by["restarting unit"]!.detail).toContain("flap: lost the broker");
    expect(by["missing unit"]).toMatchObject({ attempts: 1, detail: "unit slipway-health-none.service not found on droplet-1" });
    expect(by["memory over the limit"]!.detail).toMatch(new RegExp(`^${STEADY} uses \\d+(\\.\\d)? MiB \\(.+\\), not below 16M$`));
    expect(by["flapping group"]).toMatchObject({ kind: "supervisor", host: "droplet-2" });
    expect(by["flapping group"]!.detail).toMatch(new RegExp(`(restarted during the stability window: ${GROUP}:flappy|1 of 2 not RUNNING: ${GROUP}:flappy (EXITED|STARTING|BACKOFF))`));
    expect(by["sick container"]).toMatchObject({ kind: "compose", host: "nas-1" });
    expect(by["sick container"]!.detail).toBe(`${PROJECT}_sick_1 running, unhealthy (last probe: db connection refused)`);
    expect(by["missing container"]).toMatchObject({ attempts: 1, detail: `no container of compose service nosuch in project ${PROJECT} on nas-1` });
    const error = r.stdout.split("\n").find((l) => l.startsWith("::error::"))!;
    expect(error).toMatch(/^::error::verify-health: 6 of 6 health check\(s\) failed: check "restarting unit" on droplet-1: /);
    expect(error).toContain(`check "sick container" on nas-1: ${PROJECT}_sick_1 running, unhealthy`);
    expect(r.summary).toContain(`<details><summary>❌ restarting unit on droplet-1</summary>`);
    expect(r.summary).toContain("| flapping group | supervisor | droplet-2 | ❌ |");
  });
});
