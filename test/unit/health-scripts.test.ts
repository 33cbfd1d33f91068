// The host-side scripts of verify-health, run by a real bash (runLocal: the same wrapping as
// Remote.run) on real files, ports and a real HTTP server: what they print is what the probes parse.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  commandScript, composeInspectScript, curlScript, fileTimesScript, HTTP_STATUS_MARK, journalTailScript, memoryScript, pathStatusScript, seconds,
  sqliteQueryScript, supervisorStatusScript, systemdShowScript, tcpScript,
} from "../../src/commands/health.js";
import { evaluateFreshness, evaluateMemory, firstNumber, parseDockerInspect, parseFileTimes, parseKeyValues, parseSupervisorStatus } from "../../src/operations/health.js";
import { runLocal } from "../../src/remote/local.js";
import type { Shell } from "../../src/commands/quote.js";

const bash = (s: Shell) => runLocal(s, { step: "test", check: false, timeoutMs: 20_000 });
let dir: string;
let server: http.Server;
let port: number;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "slipway-health-"));
  server = http.createServer((req, res) => res.writeHead(req.url === "/down" ? 503 : 200).end(req.url === "/down" ? "maintenance" : '{"status":"healthy"}'));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(() => server.close());

describe("host-side scripts", () => {
  it("file times: every file matching the glob with the host's clock; stale ones are named", async () => {
    for (const f of ["a.json", "b.json", "with space 'q'.json", "c.txt"]) writeFileSync(path.join(dir, f), "{}");
    execFileSync("touch", ["-d", "10 minutes ago", path.join(dir, "b.json")]);
    const r = await bash(fileTimesScript(`${dir}/*.json`));
    expect(r.code, r.stderr).toBe(0);
    const t = parseFileTimes(r.stdout);
    expect(Math.abs(t.now - Date.now() / 1000)).toBeLessThan(5);
    expect(t.files.map((f) => path.basename(f.path)).sort()).toEqual(["a.json", "b.json", "with space 'q'.json"]);
    const v = evaluateFreshness(`${dir}/*.json`, 300_000, t);
    expect(v.ok).toBe(false);
    expect(v.detail).toMatch(new RegExp(`^stale \\(not modified within 5m\\): ${dir}/b\\.json \\(modified (9m 59s|10m( \\d+s)?) ago\\); 2 of 3 fresh$`));
    const none = parseFileTimes((await bash(fileTimesScript(`${dir}/*.csv`))).stdout);
    expect(none.files).toEqual([]);
    const literal = parseFileTimes((await bash(fileTimesScript(`${dir}/missing.json`))).stdout);
    expect(literal.files).toEqual([]); // a pattern without wildcards that does not exist is missing, not listed
  });

  it("a hostile glob is only expanded as a path, never executed", async () => {
    const pwned = path.join(dir, "pwned");
    for (const glob of [`${dir}/$(touch ${pwned})*`, `${dir}/\`touch ${pwned}\``, `${dir}/*; touch ${pwned}`, `${dir}/*' ; touch ${pwned}; '`]) {
      const r = await bash(fileTimesScript(glob));
      expect(r.code, r.stderr).toBe(0);
      expect(parseFileTimes(r.stdout).files).toEqual([]);
    }
    expect(existsSync(pwned)).toBe(false);
  });

  it("path status: absent, present (with its time and size), and unknown when a directory cannot be searched", async () => {
    const flag = path.join(dir, "panic.flag");
    expect((await bash(pathStatusScript(flag))).stdout.trim()).toBe("slipway:absent");
    expect((await bash(pathStatusScript(path.join(dir, "no-dir", "panic.flag")))).stdout.trim()).toBe("slipway:absent");
    writeFileSync(flag, "stop trading\n");
    expect((await bash(pathStatusScript(flag))).stdout.trim()).toMatch(/^slipway:present \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+, 13 bytes, owner \S+$/);
    // as a user who cannot search the directory, absence cannot be told
    const locked = mkdtempSync(path.join(os.tmpdir(), "slipway-locked-"));
    execFileSync("chmod", ["700", locked]);
    const r = execFileSync("runuser", ["-u", "nobody", "--", "bash", "-c", pathStatusScript(path.join(locked, "panic.flag")).text], { encoding: "utf8" });
    expect(r.trim()).toMatch(/^slipway:unknown .*Permission denied/);
  });

  it("tcp from a host: open and closed ports, with bash's /dev/tcp", async () => {
    expect((await bash(tcpScript("127.0.0.1", port, 2000))).stdout.trim()).toBe("slipway:open");
    const free = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    expect((await bash(tcpScript("127.0.0.1", free, 2000))).stdout.trim()).toMatch(/^slipway:closed 1 .*Connection refused$/);
  });

  it("curl from a host: body, then the status marker; connection errors on stderr", async () => {
    const ok = await bash(curlScript(`http://127.0.0.1:${port}/health`, 3000));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`{"status":"healthy"}\n${HTTP_STATUS_MARK}200`);
    const down = await bash(curlScript(`http://127.0.0.1:${port}/down`, 3000));
    expect(down.stdout).toBe(`maintenance\n${HTTP_STATUS_MARK}503`);
    const refused = await bash(curlScript("http://127.0.0.1:1/", 3000));
    expect(refused.code).toBe(7);
    expect(refused.stderr).toContain("curl: (7)");
    expect(seconds(250)).toBe("0.3");
    expect(seconds(0)).toBe("0.1");
  });

  it("a command runs with bash without our strict mode, its exit code and output returned", async () => {
    const r = await bash(commandScript('x=$(false); echo "still running"; [ -z "${UNSET_VAR}" ] && echo "unset is empty"; exit 3'));
    expect(r.code).toBe(3);
    expect(r.stdout.trim().split("\n")).toEqual(["still running", "unset is empty"]);
  });

  it("sqlite: the first column of the first row of a read-only query", async () => {
    const db = path.join(dir, "trades.db");
    execFileSync("sqlite3", [db, "CREATE TABLE trades (id integer, ts integer); INSERT INTO trades VALUES (1, 10), (2, 20);"]);
    const r = await bash(sqliteQueryScript({ sqlite3: ["sqlite3"], path: db, query: "select count(*), max(ts) from trades", timeoutMs: 2000 }));
    expect(r.code, r.stderr).toBe(0);
    expect(firstNumber(r.stdout)).toEqual({ value: 2, text: "2" });
    const write = await bash(sqliteQueryScript({ sqlite3: ["sqlite3"], path: db, query: "delete from trades", timeoutMs: 2000 }));
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain("readonly");
    expect(execFileSync("sqlite3", [db, "select count(*) from trades"], { encoding: "utf8" }).trim()).toBe("2");
  });
});

// systemctl, supervisorctl, docker and sudo are the hosts' tools (the lab runs them for real):
// here stand-ins on PATH record the exact argv each script passes and answer like the real tools.
describe("scripts that drive the hosts' tools", () => {
  let bin: string;
  let argvLog: string;
  const tool = (name: string, body: string) => {
    const f = path.join(bin, name);
    writeFileSync(f, `#!/bin/bash\nprintf '%s\\n' "${name} $*" >> ${JSON.stringify(argvLog)}\n${body}\n`);
    chmodSync(f, 0o755);
  };
  const withTools = (s: Shell) => runLocal(s, { step: "test", check: false, timeoutMs: 20_000, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  const calls = () => readFileSync(argvLog, "utf8").trim().split("\n");
  beforeAll(() => {
    bin = path.join(dir, "bin");
    mkdirSync(bin);
    argvLog = path.join(dir, "argv.log");
    tool("sudo", '[ "$1" = -n ] || exit 9; shift; exec "$@"');
  });

  it("systemd: one systemctl show with every property the probe needs; the journal through sudo -n", async () => {
    writeFileSync(argvLog, "");
    tool("systemctl", "printf 'LoadState=loaded\\nActiveState=active\\nSubState=running\\nNRestarts=2\\nMainPID=77\\nResult=success\\n'");
    tool("journalctl", "echo 'boom: cannot reach the broker'");
    const r = await withTools(systemdShowScript({ systemctl: ["systemctl"], unit: "ibkr-trading.service" }));
    expect(parseKeyValues(r.stdout)).toMatchObject({ ActiveState: "active", SubState: "running", NRestarts: "2", MainPID: "77" });
    const j = await withTools(journalTailScript({ unit: "ibkr-trading.service", sudo: true }));
    expect(j.stdout.trim()).toBe("boom: cannot reach the broker");
    expect(calls()).toEqual([
      "systemctl show -p LoadState -p ActiveState -p SubState -p NRestarts -p MainPID -p Result -- ibkr-trading.service",
      "sudo -n journalctl -u ibkr-trading.service -n 15 --no-pager -o cat",
      "journalctl -u ibkr-trading.service -n 15 --no-pager -o cat",
    ]);
  });

  it("memory: MemoryCurrent when set, else the RSS of the unit's processes", async () => {
    tool("systemctl", 'case "$3" in LoadState) echo loaded;; ActiveState) echo active;; MemoryCurrent) echo "${FAKE_MEM:-[not set]}";; ControlGroup) echo /no-such-slipway.slice/x.service;; esac');
    const set = await runLocal(memoryScript({ systemctl: ["systemctl"], unit: "ibkr-trading.service" }), { step: "t", check: false, env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_MEM: String(9 * 1024 ** 3) } });
    expect(set.code, set.stderr).toBe(0);
    expect(evaluateMemory(set.stdout, "ibkr-trading.service", "8G", "trader-1")).toEqual({ ok: false, detail: "ibkr-trading.service uses 9.0 GiB (MemoryCurrent), not below 8G" });
    expect(evaluateMemory(set.stdout, "ibkr-trading.service", "10G", "trader-1").ok).toBe(true);
    const unset = await withTools(memoryScript({ systemctl: ["systemctl"], unit: "ibkr-trading.service" }));
    expect(evaluateMemory(unset.stdout, "ibkr-trading.service", "8G", "trader-1")).toEqual({ ok: false, detail: "cannot read the memory of ibkr-trading.service (MemoryCurrent [not set], no cgroup counter)" });
    // the RSS fallback, as the script prints it for a unit whose processes it found
    expect(evaluateMemory("slipway:state loaded active\nslipway:current [not set]\nslipway:rss 44040192 2\n", "u.service", "1G", "h")).toEqual({ ok: true, detail: "u.service uses 42.0 MiB (RSS of 2 process(es); memory accounting is off), below 1G" });
    expect(evaluateMemory("slipway:state not-found inactive\nslipway:current [not set]\n", "u.service", "1G", "h")).toEqual({ ok: false, detail: "unit u.service not found on h" });
    expect(evaluateMemory("slipway:state loaded inactive\nslipway:current [not set]\n", "u.service", "1G", "h")).toEqual({ ok: false, detail: "u.service is inactive: no memory to measure" });
  });

  it("supervisor: status of the target through sudo -n, with the service's supervisord config", async () => {
    writeFileSync(argvLog, "");
    tool("supervisorctl", "echo 'trading:main_app                 RUNNING   pid 4242, uptime 0:01:02'; echo 'trading:trade_manager            BACKOFF   Exited too quickly'; exit 3");
    const r = await withTools(supervisorStatusScript({ supervisorctl: ["supervisorctl"], config: "/home/trader/trading-system/shared/supervisord.conf", sudo: true, target: "trading:*" }));
    expect(r.code).toBe(0); // supervisorctl's exit 3 (not all running) is parsed, not an error
    expect(parseSupervisorStatus(r.stdout).programs.map((p) => p.state)).toEqual(["RUNNING", "BACKOFF"]);
    expect(calls()).toEqual(["sudo -n supervisorctl -c /home/trader/trading-system/shared/supervisord.conf status trading:*", "supervisorctl -c /home/trader/trading-system/shared/supervisord.conf status trading:*"]);
  });

  it("compose: containers found by the service and project labels, with the host's docker through sudo -n, then inspected", async () => {
    writeFileSync(argvLog, "");
    const inspect = JSON.stringify([{ Id: "c1", Name: "/crypto-timescaledb", RestartCount: 0, State: { Status: "running", StartedAt: "t", Health: { Status: "healthy", Log: [] } } }]);
    const docker = path.join(bin, "docker-synology");
    writeFileSync(docker, `#!/bin/bash\nprintf '%s\\n' "docker $*" >> ${JSON.stringify(argvLog)}\nif [ "$1" = ps ]; then case "$*" in *service=timescaledb*project=crypto*) echo c1;; esac; else cat ${JSON.stringify(path.join(dir, "inspect.json"))}; fi\n`);
    writeFileSync(path.join(dir, "inspect.json"), inspect);
    chmodSync(docker, 0o755);
    const r = await withTools(composeInspectScript({ docker: [docker], sudo: true, service: "timescaledb", projects: ["crypto", "other"] }));
    expect(r.code, r.stderr).toBe(0);
    expect(parseDockerInspect(r.stdout)).toMatchObject([{ id: "c1", name: "crypto-timescaledb", status: "running", health: "healthy" }]);
    const ps = (project: string) => `ps -aq --no-trunc --filter label=com.docker.compose.service=timescaledb --filter label=com.docker.compose.project=${project}`;
    expect(calls()).toEqual([`sudo -n ${docker} ${ps("crypto")}`, `docker ${ps("crypto")}`, `sudo -n ${docker} ${ps("other")}`, `docker ${ps("other")}`, `sudo -n ${docker} inspect c1`, "docker inspect c1"]);
    const none = await withTools(composeInspectScript({ docker: [docker], sudo: false, service: "nosuch", projects: ["crypto"] }));
    expect(none.stdout.trim()).toBe("slipway:no-container");
  });
});
