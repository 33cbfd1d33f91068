// verify-health's logic: the retry/stability loop, comparisons, JSON paths, the HTTP verdict,
// where each check runs, and whole runs of runner-side checks against real local servers.
import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnvironment } from "../../src/config/load.js";
import { Secrets } from "../../src/config/secrets.js";
import {
  checkName, checkPlaces, compareExpect, evaluateFreshness, evaluateHttp, firstNumber, formatMs, HostGate, jsonEquals, jsonPath,
  parseDockerInspect, parseSize, parseSupervisorStatus, planChecks, retryUntilStable, runHealthChecks, type Probe, type RetryPolicy,
} from "../../src/operations/health.js";
import { RemotePool } from "../../src/remote/pool.js";
import { memoryLog } from "../../src/report/log.js";

const FP = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
const host = (a: string) => ({ address: a, "host-key": FP, "identity-file": "/nonexistent/key" });
const env = (doc: Record<string, unknown>) => parseEnvironment(JSON.stringify({ hosts: { h1: host("10.0.0.1"), h2: host("10.0.0.2"), h3: host("10.0.0.3") }, ...doc }), "env.yml");

// ---------------------------------------------------------------- a real local server

/** /ok, /json, /slow (503 until the 4th request), /flap (200, 500, 200, …), /status/<n>, /hang */
let server: http.Server;
let base: string;
let closedPort: number;
const hits: Record<string, number> = {};
beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    const n = (hits[url] = (hits[url] ?? 0) + 1);
    if (url === "/ok") return res.end("REC.IO trading dashboard");
    if (url === "/json") return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "healthy", checks: { db: { ok: true, lag: 3 } }, "build.sha": "abc", items: [{ name: "btc" }] }));
    if (url === "/slow") return res.writeHead(n >= 4 ? 200 : 503).end(n >= 4 ? "ready" : "starting");
    if (url === "/flap") return res.writeHead(n % 2 === 1 ? 200 : 500).end(`flap ${n}`);
    if (url.startsWith("/status/")) return res.writeHead(Number(url.slice(8))).end("teapot body");
    if (url === "/hang") return; // never answers
    res.writeHead(404).end("nope");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const runnerChecks = async (checks: Record<string, unknown>[], names?: string[]) => {
  const e = env({ checks });
  const log = memoryLog();
  const pool = RemotePool.forEnvironment(e, new Secrets({}), log);
  const report = await runHealthChecks({ loaded: { env: e }, pool, secrets: new Secrets({}), log }, { checks: names });
  await pool.closeAll();
  return { report, log };
};
const fast = { retries: 5, interval: "50ms", timeout: "2s" };

describe("retryUntilStable", () => {
  const policy = (p: Partial<RetryPolicy>): RetryPolicy => ({ timeoutMs: 1000, retries: 5, intervalMs: 1, stable: 1, ...p });
  const sequence = (results: boolean[]): Probe & { calls: number[] } => {
    const calls: number[] = [];
    return {
      calls,
      attempt: async ({ attempt, streak }) => {
        calls.push(streak);
        return { ok: results[attempt - 1] ?? false, detail: `attempt ${attempt}` };
      },
    };
  };

  it("passes on the first pass with stable 1, and reports the attempts it took", async () => {
    const r = await retryUntilStable(sequence([false, false, true]), policy({}));
    expect(r).toMatchObject({ ok: true, attempts: 3, detail: "attempt 3", history: [false, false, true] });
  });

  it("needs `stable` passes in a row; a failure in between starts the window again", async () => {
    const p = sequence([true, true, false, true, true, true]);
    const r = await retryUntilStable(p, policy({ stable: 3, retries: 10 }));
    expect(r).toMatchObject({ ok: true, attempts: 6 });
    expect(p.calls).toEqual([0, 1, 2, 0, 1, 2]); // the probe sees how many passes precede it
  });

  it("fails a flapping probe that never holds the window, naming the last failure and the best streak", async () => {
    const r = await retryUntilStable(sequence([true, false, true, true, false, true, false, true]), policy({ stable: 3, retries: 7 }));
    expect(r.ok).toBe(false);
    expect(r.detail).toBe("attempt 7 (passed at most 2 time(s) in a row; 3 needed)");
  });

  it("stops early once the remaining attempts cannot complete the window", async () => {
    const r = await retryUntilStable(sequence([false, false, false, false, false, false]), policy({ stable: 3, retries: 5 }));
    expect(r.attempts).toBe(4); // after 4 failures only 2 attempts remain: 3 in a row is impossible
    expect(r.ok).toBe(false);
  });

  it("makes at most retries + 1 attempts, and at least `stable`", async () => {
    expect((await retryUntilStable(sequence([]), policy({ retries: 2 }))).attempts).toBe(3);
    expect(await retryUntilStable(sequence([true, true, true]), policy({ retries: 0, stable: 3 }))).toMatchObject({ ok: true, attempts: 3 });
  });

  it("bounds each attempt by the timeout and aborts it; a throwing probe is a failed attempt", async () => {
    let aborted = 0;
    const hang: Probe = {
      attempt: ({ signal }) =>
        new Promise(() => {
          signal.addEventListener("abort", () => aborted++);
        }),
    };
    const t0 = Date.now();
    const r = await retryUntilStable(hang, policy({ timeoutMs: 80, retries: 2, intervalMs: 10 }));
    expect(r).toMatchObject({ ok: false, attempts: 3, detail: "timed out after 80ms" });
    expect(aborted).toBe(3);
    expect(Date.now() - t0).toBeLessThan(1000);
    const boom = await retryUntilStable({ attempt: async () => Promise.reject(new Error("connection refused")) }, policy({ retries: 1 }));
    expect(boom).toMatchObject({ ok: false, attempts: 2, detail: "connection refused" });
  });

  it("waits `interval` between attempts", async () => {
    const t0 = Date.now();
    await retryUntilStable(sequence([false, false, true]), policy({ intervalMs: 100 }));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });
});

describe("comparisons and JSON paths", () => {
  it("compares numbers with every operator", () => {
    const cases: [number, string, boolean][] = [
      [3, "> 0", true], [0, "> 0", false], [0, ">= 0", true], [12, "= 12", true], [12, "== 12", true], [11, "= 12", false],
      [1, "!= 0", true], [0, "!= 0", false], [2.5, "< 3", true], [3, "<= 3", true], [4, "<=3", false], [-2, "> -3", true], [0.5, ">= 0.5", true],
    ];
    for (const [actual, expect_, want] of cases) expect(compareExpect(actual, expect_), `${actual} ${expect_}`).toBe(want);
    expect(() => compareExpect(1, "about 3")).toThrow("not a comparison: 'about 3'");
  });

  it("finds values by dotted path, through arrays and keys that contain dots", () => {
    const doc = { status: "healthy", checks: { db: { ok: true, lag: 3 } }, "build.sha": "abc", items: [{ name: "btc" }], nothing: null };
    expect(jsonPath(doc, "status")).toEqual({ found: true, value: "healthy" });
    expect(jsonPath(doc, "checks.db.ok")).toEqual({ found: true, value: true });
    expect(jsonPath(doc, "checks.db")).toEqual({ found: true, value: { ok: true, lag: 3 } });
    expect(jsonPath(doc, "build.sha")).toEqual({ found: true, value: "abc" });
    expect(jsonPath(doc, "items.0.name")).toEqual({ found: true, value: "btc" });
    expect(jsonPath(doc, "nothing")).toEqual({ found: true, value: null });
    expect(jsonPath(doc, "checks.cache.ok")).toEqual({ found: false });
    expect(jsonPath(doc, "status.length")).toEqual({ found: false });
  });

  it("compares JSON values by equality, tolerating YAML's quoting of scalars", () => {
    expect(jsonEquals("healthy", "healthy")).toBe(true);
    expect(jsonEquals("degraded", "healthy")).toBe(false);
    expect(jsonEquals(200, "200")).toBe(true);
    expect(jsonEquals(true, "true")).toBe(true);
    expect(jsonEquals(null, null)).toBe(true);
    expect(jsonEquals(null, "null")).toBe(false);
    expect(jsonEquals({ a: 1 }, "[object Object]")).toBe(false);
    expect(jsonEquals(1, true)).toBe(false);
  });

  it("judges HTTP answers: default 2xx, an exact status, contains, json", () => {
    expect(evaluateHttp({}, 204, "")).toEqual({ ok: true, detail: "HTTP 204" });
    expect(evaluateHttp({}, 301, "moved")).toEqual({ ok: false, detail: "HTTP 301, expected 2xx; body: moved" });
    expect(evaluateHttp({ status: 418 }, 418, "")).toMatchObject({ ok: true });
    expect(evaluateHttp({ contains: "REC.IO" }, 200, "<h1>REC.IO</h1>")).toEqual({ ok: true, detail: 'HTTP 200, contains "REC.IO"' });
    expect(evaluateHttp({ contains: "REC.IO" }, 200, "Bad gateway")).toEqual({ ok: false, detail: 'HTTP 200, but the body does not contain "REC.IO"; body: Bad gateway' });
    expect(evaluateHttp({ json: { status: "healthy" } }, 200, '{"status":"starting"}')).toEqual({ ok: false, detail: 'HTTP 200, but status is "starting", expected "healthy"' });
    expect(evaluateHttp({ json: { status: "healthy" } }, 200, "<html>")).toEqual({ ok: false, detail: "HTTP 200, but the body is not JSON: <html>" });
    expect(evaluateHttp({ json: { "a.b": 1 } }, 200, "{}")).toMatchObject({ ok: false, detail: "HTTP 200, but the JSON has no a.b; body: {}" });
  });

  it("reads sizes, durations, query results, supervisor status, docker inspect, file ages", () => {
    expect(parseSize("8G")).toBe(8 * 1024 ** 3);
    expect(parseSize("512M")).toBe(512 * 1024 ** 2);
    expect(parseSize("1000")).toBe(1000);
    expect(() => parseSize("8GB")).toThrow("not a size");
    expect([formatMs(250), formatMs(1500), formatMs(42_000), formatMs(125_000)]).toEqual(["250ms", "1.5s", "42s", "2m 5s"]);
    expect(firstNumber("42|x\n7\n")).toEqual({ value: 42, text: "42" });
    expect(firstNumber("t\n")).toEqual({ value: 1, text: "t" });
    expect(firstNumber("\n")).toEqual({ text: "" });
    expect(firstNumber("abc")).toEqual({ value: undefined, text: "abc" });
    const st = parseSupervisorStatus("trading:main_app                 RUNNING   pid 4242, uptime 0:01:02\ntrading:trade_manager            FATAL     Exited too quickly (process log may have details)\nnope: ERROR (no such process)\n");
    expect(st.programs).toEqual([
      { name: "trading:main_app", state: "RUNNING", pid: 4242, info: "pid 4242, uptime 0:01:02" },
      { name: "trading:trade_manager", state: "FATAL", pid: undefined, info: "Exited too quickly (process log may have details)" },
    ]);
    expect(st.errors).toEqual(["nope: ERROR (no such process)"]);
    const inspect = JSON.stringify([{ Id: "abc", Name: "/crypto-timescaledb", RestartCount: 2, State: { Status: "running", StartedAt: "t", Health: { Status: "unhealthy", Log: [{ Output: "old" }, { Output: "pg_isready: no response\n" }] } } }]);
    expect(parseDockerInspect(inspect)).toEqual([{ id: "abc", name: "crypto-timescaledb", status: "running", exitCode: undefined, health: "unhealthy", healthLog: "pg_isready: no response", restarts: 2, startedAt: "t" }]);
    const files = { now: 1000, files: [{ path: "/d/a.json", mtime: 990 }, { path: "/d/b.json", mtime: 400 }] };
    expect(evaluateFreshness("/d/*.json", 300_000, files)).toEqual({ ok: false, detail: "stale (not modified within 5m): /d/b.json (modified 10m ago); 1 of 2 fresh" });
    expect(evaluateFreshness("/d/*.json", 900_000, files)).toEqual({ ok: true, detail: "2 file(s) modified within 15m (oldest 10m ago)" });
    expect(evaluateFreshness("/d/*.json", 900_000, { now: 1000, files: [] })).toEqual({ ok: false, detail: "missing: no file matches /d/*.json" });
  });
});

describe("where checks run", () => {
  const setup = {
    services: {
      collector: { kind: "systemd", hosts: ["h1"], "deploy-to": "/srv/c", exec: "run" },
      ibkr: { kind: "systemd", hosts: ["h2"], "deploy-to": "/srv/i", exec: "run", "unit-name": "ibkr-trading.service" },
      trading: { kind: "supervisor", hosts: ["h3"], "deploy-to": "/srv/t", group: "trading", programs: { main_app: { command: "x" } } },
      stack: { kind: "compose", hosts: ["h2"], "deploy-to": "/srv/s", files: ["c.yml"], project: "Crypto.Data" },
    },
    databases: { db: { engine: "postgres", on: { host: "h3" }, name: "app" }, managed: { engine: "postgres", "url-secret": "DB_URL", name: "x" } },
  };
  const places = (c: Record<string, unknown>) => {
    const e = env({ ...setup, checks: [c] });
    return checkPlaces(e, e.checks[0]!);
  };

  it("http and tcp run from the runner unless from/hosts say otherwise", () => {
    expect(places({ http: "http://x/" })).toEqual([null]);
    expect(places({ http: "http://localhost:3000/", from: "h3" })).toEqual(["h3"]);
    expect(places({ tcp: "db:5432", hosts: ["h1", "h2"] })).toEqual(["h1", "h2"]);
  });

  it("host-side checks default to the hosts of the service they name, or of all services", () => {
    expect(places({ systemd: "collector.service" })).toEqual(["h1"]);
    expect(places({ systemd: "collector" })).toEqual(["h1"]);
    expect(places({ memory: { unit: "ibkr-trading.service", max: "8G" } })).toEqual(["h2"]);
    expect(places({ supervisor: "trading:*" })).toEqual(["h3"]);
    expect(places({ supervisor: "main_app" })).toEqual(["h3"]);
    expect(places({ compose: "timescaledb" })).toEqual(["h2"]);
    expect(places({ command: "true" })).toEqual(["h1", "h2", "h3"]);
    expect(places({ "file-absent": "/x/panic.flag", hosts: ["h2"] })).toEqual(["h2"]);
    expect(places({ sql: "select 1", database: "db", expect: "= 1" })).toEqual(["h3"]);
    expect(places({ sql: "select 1", database: "managed", expect: "= 1" })).toEqual([null]);
    expect(() => places({ systemd: "unknown.service" })).toThrow('check "systemd unknown.service": cannot tell which hosts to run it on (no systemd service of the environment has unit unknown.service); give hosts: [...]');
  });

  it("plans named checks only, narrows places to a hosts filter, refuses unknown names", () => {
    const withChecks = env({ checks: [{ name: "ui", http: "http://localhost:3000/", hosts: ["h1", "h2"] }, { command: "true", hosts: ["h3"] }, { name: "api", http: "http://api/" }] });
    expect(checkName(withChecks.checks[1]!)).toBe("command true");
    const p = planChecks(withChecks, { hosts: ["h2"] });
    expect(p.planned.map((x) => [x.name, x.places])).toEqual([["ui", ["h2"]], ["api", [null]]]);
    expect(p.skipped).toEqual([{ name: "command true", reason: "runs on h3, not among the selected hosts" }]);
    expect(planChecks(withChecks, { checks: ["api"] }).planned.map((x) => x.name)).toEqual(["api"]);
    expect(() => planChecks(withChecks, { checks: ["api", "nope"] })).toThrow('checks input names unknown check(s) "nope"; the environment defines: "ui", "command true", "api"');
  });
});

describe("runHealthChecks from the runner, against real local servers", () => {
  it("http: status, contains and JSON paths pass; a check healthy only after a few attempts passes and says how many", async () => {
    const { report, log } = await runnerChecks([
      { name: "ui", http: `${base}/ok`, contains: "REC.IO", ...fast },
      { name: "api", http: `${base}/json`, json: { status: "healthy", "checks.db.ok": true, "build.sha": "abc" }, ...fast },
      { name: "teapot", http: `${base}/status/418`, status: 418, ...fast },
      { name: "warming up", http: `${base}/slow`, ...fast },
      { name: "port", tcp: `127.0.0.1:${new URL(base).port}`, ...fast },
    ]);
    expect(report.healthy).toBe(true);
    const by = Object.fromEntries(report.results.map((r) => [r.name, r]));
    expect(by.ui).toMatchObject({ kind: "http", host: "runner", ok: true, attempts: 1, detail: 'HTTP 200, contains "REC.IO"' });
    expect(by.api!.detail).toBe('HTTP 200, status = "healthy", checks.db.ok = true, build.sha = "abc"');
    expect(by.teapot).toMatchObject({ ok: true, detail: "HTTP 418" });
    expect(by["warming up"]).toMatchObject({ ok: true, attempts: 4, detail: "HTTP 200" });
    expect(hits["/slow"]).toBe(4);
    expect(by.port).toMatchObject({ kind: "tcp", ok: true, detail: `127.0.0.1:${new URL(base).port} is open` });
    expect(log.lines).toContain("[warming up @ runner] attempt 1/6: fail: HTTP 503, expected 2xx; body: starting");
  });

  it("a flapping endpoint fails the stable window; closed ports, wrong JSON and a hung server fail with clear details", async () => {
    const { report } = await runnerChecks([
      { name: "flap", http: `${base}/flap`, stable: 3, retries: 6, interval: "20ms" },
      { name: "closed", tcp: `127.0.0.1:${closedPort}`, retries: 1, interval: "20ms" },
      { name: "wrong json", http: `${base}/json`, json: { status: "degraded" }, retries: 0 },
      { name: "hung", http: `${base}/hang`, timeout: "300ms", retries: 1, interval: "20ms" },
      { name: "nobody", http: `http://127.0.0.1:${closedPort}/`, retries: 0 },
    ]);
    expect(report.healthy).toBe(false);
    const by = Object.fromEntries(report.results.map((r) => [r.name, r]));
    expect(by.flap!.ok).toBe(false);
    expect(by.flap!.detail).toMatch(/^HTTP 500, expected 2xx; body: flap \d+ \(passed at most 1 time\(s\) in a row; 3 needed\)$/);
    expect(by.flap!.attempts).toBeGreaterThanOrEqual(5);
    expect(by.closed).toMatchObject({ ok: false, attempts: 2, detail: `127.0.0.1:${closedPort} is not open: connect ECONNREFUSED 127.0.0.1:${closedPort}` });
    expect(by["wrong json"]).toMatchObject({ ok: false, attempts: 1, detail: 'HTTP 200, but status is "healthy", expected "degraded"' });
    expect(by.hung).toMatchObject({ ok: false, attempts: 2, detail: "timed out after 300ms" });
    expect(by.hung!.ms).toBeLessThan(2000);
    expect(by.nobody!.detail).toContain("ECONNREFUSED");
  });

  it("runs checks concurrently: the slow ones do not add up", async () => {
    const t0 = Date.now();
    const { report } = await runnerChecks([1, 2, 3, 4].map((i) => ({ name: `hung ${i}`, http: `${base}/hang`, timeout: "400ms", retries: 0 })));
    expect(report.results.map((r) => r.ok)).toEqual([false, false, false, false]);
    expect(Date.now() - t0).toBeLessThan(1200);
  });
});

describe("HostGate", () => {
  it("limits concurrent work per host, not across hosts", async () => {
    const gate = new HostGate(2);
    const active: Record<string, number> = {};
    const peak: Record<string, number> = {};
    const job = (h: string) =>
      gate.run(h, async () => {
        active[h] = (active[h] ?? 0) + 1;
        peak[h] = Math.max(peak[h] ?? 0, active[h]!);
        await new Promise((r) => setTimeout(r, 20));
        active[h]!--;
      });
    await Promise.all([..."aaaaaa"].map(job).concat([..."bbb"].map(job)));
    expect(peak).toEqual({ a: 2, b: 2 });
  });
});
