// verify-health run as the runner runs it (bundle, INPUT_*, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
// Node 24) against loopback: the "host" is this machine through the harness's real sshd, the
// database the harness's real PostgreSQL, and the services a local node:http server in its own
// process (the action runs synchronously, so a server in the test process could not answer).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAction } from "../harness/runner.js";
import { startPostgres, type Postgres } from "../harness/postgres.js";
import { freePort, startSshd, type Sshd } from "../harness/sshd.js";

// /health (JSON), /ui (HTML), /slow* (503 twice, then 200), /flap* (200, 500, 200, …), /status/<n>, /hits
const SERVER = `
const http = require("node:http");
const hits = {};
const srv = http.createServer((req, res) => {
  const u = req.url; const n = (hits[u] = (hits[u] || 0) + 1);
  if (u === "/hits") return res.end(JSON.stringify(hits));
  if (u === "/health") return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "healthy", timestamp: new Date().toISOString(), checks: { db: { ok: true } } }));
  if (u === "/ui") return res.end("<html><title>REC.IO</title><body>dashboard</body></html>");
  if (u.startsWith("/slow")) return res.writeHead(n >= 3 ? 200 : 503).end(n >= 3 ? "ready" : "warming up");
  if (u.startsWith("/flap")) return res.writeHead(n % 2 ? 200 : 500).end("flap " + n);
  if (u.startsWith("/status/")) return res.writeHead(Number(u.slice(8))).end("short and stout");
  res.writeHead(404).end("not found");
});
srv.listen(0, "127.0.0.1", () => console.log(srv.address().port));
`;

let sshd: Sshd;
let pg: Postgres;
let ws: string;
let server: ChildProcess;
let web: number;
let closed: number;

const passing = ["api from runner", "ui from host", "api from host", "teapot", "warming up", "db port", "db port from host", "trader health", "quotes", "trades sqlite", "json production", "no panic flag"];
const failing = ["flapping", "closed port", "closed port from host", "failing command", "no stale quotes", "all json fresh", "api degraded"];

beforeAll(async () => {
  [sshd, pg] = await Promise.all([startSshd(), startPostgres()]);
  pg.psql("CREATE DATABASE crypto_data");
  pg.psql("CREATE TABLE quotes (id serial PRIMARY KEY, price numeric); INSERT INTO quotes (price) SELECT g FROM generate_series(1, 50) g;", "crypto_data");
  server = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] });
  web = await new Promise<number>((resolve) => server.stdout!.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))));
  closed = await freePort();

  ws = mkdtempSync(path.join(os.tmpdir(), "slipway-health-ws-"));
  for (const d of ["environments", "data", "stale", "state"]) mkdirSync(path.join(ws, d));
  for (const f of ["data/btc.json", "data/eth.json", "stale/btc.json", "stale/eth.json"]) writeFileSync(path.join(ws, f), "{}");
  execFileSync("touch", ["-d", "10 minutes ago", path.join(ws, "stale/eth.json")]);
  execFileSync("sqlite3", [path.join(ws, "trades.db"), "CREATE TABLE trades (id integer); INSERT INTO trades VALUES (1), (2);"]);

  const fast = { retries: 1, interval: "100ms" };
  const url = (p: string, h = "127.0.0.1") => `http://${h}:${web}${p}`;
  writeFileSync(
    path.join(ws, "environments", "health.yml"),
    stringify({
      hosts: { loop: { address: "127.0.0.1", port: sshd.port, user: "root", "host-key": sshd.hostKeyFingerprint } },
      services: { app: { kind: "systemd", hosts: ["loop"], "deploy-to": path.join(ws, "app"), exec: "app" } },
      databases: {
        crypto: { engine: "postgres", on: { host: "loop", port: pg.port }, name: "crypto_data", user: "postgres" },
        trades: { engine: "sqlite", on: { host: "loop" }, path: path.join(ws, "trades.db") },
      },
      checks: [
        { name: "api from runner", http: url("/health"), json: { status: "healthy", "checks.db.ok": true } },
        { name: "ui from host", http: url("/ui", "localhost"), from: "loop", contains: "REC.IO" },
        { name: "api from host", http: url("/health", "localhost"), from: "loop", json: { status: "healthy" } },
        { name: "teapot", http: url("/status/418"), status: 418 },
        { name: "warming up", http: url("/slow-1"), retries: 5, interval: "300ms" },
        { name: "db port", tcp: `127.0.0.1:${pg.port}` },
        { name: "db port from host", tcp: `127.0.0.1:${pg.port}`, from: "loop" },
        { name: "trader health", command: 'echo "checking the trader"; test -d /tmp && echo " Service is healthy"', hosts: ["loop"] },
        { name: "quotes", sql: "select count(*) from quotes", database: "crypto", expect: "> 0" },
        { name: "trades sqlite", sql: "select count(*) from trades", database: "trades", expect: "= 2" },
        { name: "json production", "file-fresh": path.join(ws, "data/*.json"), within: "5m", hosts: ["loop"] },
        { name: "no panic flag", "file-absent": path.join(ws, "state/panic.flag"), retries: 0 }, // hosts: those of the services
        { name: "flapping", http: url("/flap-1"), stable: 3, retries: 5, interval: "100ms" },
        { name: "closed port", tcp: `127.0.0.1:${closed}`, ...fast },
        { name: "closed port from host", tcp: `127.0.0.1:${closed}`, from: "loop", ...fast },
        { name: "failing command", command: 'echo "checking the trader"; echo " Panic flag detected" >&2; exit 1', hosts: ["loop"], retries: 0 },
        { name: "no stale quotes", sql: "select count(*) from quotes", database: "crypto", expect: "= 0", retries: 0 },
        { name: "all json fresh", "file-fresh": path.join(ws, "stale/*.json"), within: "5m", hosts: ["loop"], retries: 0 },
        { name: "api degraded", http: url("/health", "localhost"), from: "loop", json: { status: "degraded" }, retries: 0 },
      ],
    }),
  );
});
afterAll(() => {
  server?.kill();
  sshd?.stop();
  pg?.stop();
  if (ws) rmSync(ws, { recursive: true, force: true });
});

const run = (inputs: Record<string, string>) =>
  runAction("verify-health", { environment: "health", hosts: "", "dry-run": "false", checks: "", ...inputs }, { cwd: ws, env: { SLIPWAY_SSH_KEY: sshd.clientKey } });
type Row = { name: string; kind: string; host: string; ok: boolean; attempts: number; ms: number; detail: string };
const report = (outputs: Record<string, string>) => Object.fromEntries((JSON.parse(outputs.report!) as Row[]).map((r) => [r.name, r]));
const hits = async () => (await (await fetch(`http://127.0.0.1:${web}/hits`)).json()) as Record<string, number>;

describe("verify-health, as the runner runs it", () => {
  it("dry run lists every check, where it runs and its retry policy, checks nothing and claims nothing", async () => {
    const before = await hits();
    const r = run({ "dry-run": "true" });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`dry run: would check "ui from host" (http http://localhost:${web}/ui) on loop; timeout 5s, retries 10, interval 2s, stable 1`);
    expect(r.stdout).toContain(`dry run: would check "api from runner" (http http://127.0.0.1:${web}/health) on runner;`);
    expect(r.stdout).toContain(`dry run: would check "no panic flag" (file-absent ${ws}/state/panic.flag) on loop; timeout 5s, retries 0`);
    expect(r.stdout).toContain(`dry run: would check "flapping" (http http://127.0.0.1:${web}/flap-1) on runner; timeout 5s, retries 5, interval 100ms, stable 3`);
    expect(r.stdout.match(/dry run: would check /g)).toHaveLength(passing.length + failing.length);
    expect(r.outputsRaw).toBe("");
    expect(r.summary).toContain("(dry run: nothing was checked)");
    expect(r.summary).toContain("| quotes | sql | select count(*) from quotes | loop |");
    expect(await hits()).toEqual({ ...before, "/hits": (before["/hits"] ?? 0) + 1 }); // no request reached the server
  });

  it("a healthy environment: every check passes, outputs and summary say so, a slow starter is retried until it answers", async () => {
    const r = run({ checks: passing.join(", ") });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs.healthy).toBe("true");
    const rows = JSON.parse(r.outputs.report!) as Row[];
    expect(rows).toHaveLength(passing.length);
    for (const row of rows) expect(Object.keys(row)).toEqual(["name", "kind", "host", "ok", "attempts", "ms", "detail"]);
    const by = report(r.outputs);
    expect(Object.values(by).filter((x) => !x.ok)).toEqual([]);
    expect(by["api from runner"]).toMatchObject({ kind: "http", host: "runner", attempts: 1, detail: 'HTTP 200, status = "healthy", checks.db.ok = true' });
    expect(by["ui from host"]).toMatchObject({ kind: "http", host: "loop", detail: 'HTTP 200, contains "REC.IO"' });
    expect(by["api from host"]).toMatchObject({ host: "loop", detail: 'HTTP 200, status = "healthy"' });
    expect(by.teapot!.detail).toBe("HTTP 418");
    expect(by["warming up"]).toMatchObject({ ok: true, attempts: 3, detail: "HTTP 200" });
    expect(by["warming up"]!.ms).toBeGreaterThanOrEqual(600); // two intervals of 300 ms
    expect((await hits())["/slow-1"]).toBe(3);
    expect(by["db port"]).toMatchObject({ kind: "tcp", host: "runner", detail: `127.0.0.1:${pg.port} is open` });
    expect(by["db port from host"]).toMatchObject({ kind: "tcp", host: "loop", detail: `127.0.0.1:${pg.port} is open from loop` });
    expect(by["trader health"]).toMatchObject({ kind: "command", host: "loop", detail: "exit 0; output:\nchecking the trader\n Service is healthy" });
    expect(by.quotes).toMatchObject({ kind: "sql", host: "loop", detail: "50 satisfies > 0" });
    expect(by["trades sqlite"]).toMatchObject({ kind: "sql", host: "loop", detail: "2 satisfies = 2" });
    expect(by["json production"]!.detail).toMatch(/^2 file\(s\) modified within 5m \(oldest \d+(ms|\.\ds|s) ago\)$/);
    expect(by["no panic flag"]).toMatchObject({ kind: "file-absent", host: "loop", detail: `${ws}/state/panic.flag is absent` });
    expect(r.summary).toContain("### slipway verify-health — health: ✅ healthy");
    expect(r.summary).toContain("| check | kind | host | result | attempts | duration | detail |");
    expect(r.summary).toMatch(/\| warming up \| http \| runner \| ✅ \| 3 \| (\d+ms|\d+(\.\d)?s) \| HTTP 200 \|/);
    expect(r.summary).toContain("| trader health | command | loop | ✅ | 1 |");
    expect(r.summary).toMatch(/\| trader health \| command \| loop \| ✅ \| 1 \| (\d+ms|[\d.]+s) \| exit 0: checking the trader; Service is healthy \|/);
    expect(r.summary).toContain('| ui from host | http | loop | ✅ | 1 |');
    expect(r.summary).not.toContain("<details>");
    expect(r.stdout).toContain(`all ${passing.length} health check(s) passed`);
  });

  it("an unhealthy environment: the step fails naming each failing check and host, with evidence in the summary", async () => {
    const r = run({ checks: failing.join("\n") });
    expect(r.code).toBe(1);
    expect(r.outputs.healthy).toBe("false");
    const by = report(r.outputs);
    expect(Object.keys(by).sort()).toEqual([...failing].sort());
    expect(Object.values(by).filter((x) => x.ok)).toEqual([]);
    expect(by.flapping!.detail).toMatch(/^HTTP 500, expected 2xx; body: flap \d \(passed at most 1 time\(s\) in a row; 3 needed\)$/);
    expect(by.flapping!.attempts).toBe(4); // 200, 500, 200, 500: after that 3 in a row cannot happen within 6 attempts
    expect(by["closed port"]).toMatchObject({ attempts: 2, detail: `127.0.0.1:${closed} is not open: connect ECONNREFUSED 127.0.0.1:${closed}` });
    expect(by["closed port from host"]).toMatchObject({ host: "loop", attempts: 2, detail: `127.0.0.1:${closed} is not open from loop: /dev/tcp/127.0.0.1/${closed}: Connection refused` });
    expect(by["failing command"]).toMatchObject({ host: "loop", attempts: 1, detail: "exit 1; output:\nchecking the trader\n Panic flag detected" });
    expect(by["no stale quotes"]!.detail).toBe("50 does not satisfy = 0");
    expect(by["all json fresh"]!.detail).toMatch(new RegExp(`^stale \\(not modified within 5m\\): ${ws}/stale/eth\\.json \\(modified (9m 59s|10m( \\d+s)?) ago\\); 1 of 2 fresh$`));
    expect(by["api degraded"]!.detail).toBe('HTTP 200, but status is "healthy", expected "degraded"');

    const error = r.stdout.split("\n").find((l) => l.startsWith("::error::"))!;
    expect(error).toMatch(/^::error::verify-health: 7 of 7 health check\(s\) failed: check "flapping" on runner: HTTP 500/);
    expect(error).toContain('check "failing command" on loop: exit 1: checking the trader; Panic flag detected;');
    expect(error).toContain(`check "closed port from host" on loop: 127.0.0.1:${closed} is not open from loop`);
    expect(error).toContain('check "no stale quotes" on loop: 50 does not satisfy = 0');

    expect(r.summary).toContain("### slipway verify-health — health: ❌ 7 of 7 check(s) failed");
    expect(r.summary).toContain("| failing command | command | loop | ❌ | 1 |");
    expect(r.summary).toContain("<details><summary>❌ failing command on loop</summary>\n\n```\nexit 1; output:\nchecking the trader\n Panic flag detected\n```");
    expect(r.summary).toContain(`<details><summary>❌ all json fresh on loop</summary>`);
    expect(r.summary.match(/<details>/g)).toHaveLength(failing.length);
  });

  it("a panic flag appearing makes the file-absent check, and the step, fail", () => {
    expect(run({ checks: "no panic flag" }).outputs.healthy).toBe("true");
    writeFileSync(path.join(ws, "state", "panic.flag"), "halt\n");
    const r = run({ checks: "no panic flag" });
    expect(r.code).toBe(1);
    expect(r.outputs.healthy).toBe("false");
    expect(r.stdout).toMatch(new RegExp(`::error::verify-health: 1 of 1 health check\\(s\\) failed: check "no panic flag" on loop: ${ws}/state/panic\\.flag exists on loop \\(modified \\d{4}-\\d\\d-\\d\\d [\\d:.]+ \\S+, 5 bytes, owner root\\)`));
  });

  it("names an unknown check in the checks input and lists the defined ones", () => {
    const r = run({ checks: "quotes, nope" });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('::error::verify-health: checks input names unknown check(s) "nope"; the environment defines: "api from runner", "ui from host"');
    expect(r.outputsRaw).toBe("");
  });
});
