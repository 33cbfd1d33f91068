// verify-health: the environment's checks, each on its hosts (or from the runner), retried until it
// passes `stable` times in a row or runs out of attempts. Read-only: nothing here changes a host.
//
// Where a check runs (its "places"):
//   http, tcp            the runner; with `from: h` (or `hosts:`) on those hosts through ssh
//   sql                  where the database's clients run: its `on.host`, or the runner (url-secret, maybe via a tunnel)
//   systemd, memory      `hosts` / `from`, else the hosts of the systemd services whose unit it names
//   supervisor           `hosts` / `from`, else the hosts of the supervisor service whose group or program it names
//   compose              `hosts` / `from`, else the hosts of the environment's compose services
//   command, file-fresh, file-absent   `hosts` / `from`, else every host of the environment's services
// Each (check, place) pair is retried and reported on its own.
import net from "node:net";
import {
  commandScript, commandWords, composeInspectScript, composeLogsScript, curlScript, fileTimesScript, HTTP_STATUS_MARK,
  journalTailScript, memoryScript, pathStatusScript, sqliteQueryScript, supervisorStatusScript, systemdShowScript, tcpScript,
} from "../commands/health.js";
import type { Shell } from "../commands/quote.js";
import { checkKinds, durationMs, type Check, type Environment, type Service } from "../config/schema.js";
import type { Secrets } from "../config/secrets.js";
import type { RunResult } from "../remote/connection.js";
import type { RemotePool } from "../remote/pool.js";
import type { Log } from "../report/log.js";
import { pgClient, type PgClient } from "./pg.js";

export type CheckKind = (typeof checkKinds)[number];

/** One row of the report (the `report` output is a JSON array of these). */
export interface HealthCheckResult {
  name: string;
  kind: CheckKind;
  /** a host name, or "runner" */
  host: string;
  ok: boolean;
  attempts: number;
  /** wall time of the whole retry loop */
  ms: number;
  /** the last attempt's detail when passing; the last failure's when failing */
  detail: string;
}

export interface HealthReport {
  healthy: boolean;
  results: HealthCheckResult[];
  /** checks that had no place left after the hosts filter */
  skipped: { name: string; reason: string }[];
  ms: number;
}

/** What runHealthChecks needs: an ActionContext fits. */
export interface HealthContext {
  loaded: { env: Environment };
  pool: RemotePool;
  secrets: Secrets;
  log: Log;
}

export interface HealthOptions {
  /** only the checks with these names (default: all) */
  checks?: string[];
  /** only places on these hosts (runner-side checks always run); default: no filter */
  hosts?: string[];
  /** concurrent remote commands per host (default 6: sshd allows 10 sessions per connection) */
  perHost?: number;
}

export const RUNNER = "runner";

// ---------------------------------------------------------------- naming and planning

export function checkKind(c: Check): CheckKind {
  const k = checkKinds.find((kind) => c[kind] !== undefined);
  if (!k) throw new Error(`a check needs one of: ${checkKinds.join(", ")}`);
  return k;
}

/** The check's subject, for names and messages: the URL, unit, glob, query… */
export function checkTarget(c: Check): string {
  const kind = checkKind(c);
  if (kind === "memory") return `${c.memory!.unit} < ${c.memory!.max}`;
  return String(c[kind]);
}

export const checkName = (c: Check): string => c.name ?? `${checkKind(c)} ${checkTarget(c)}`;

export interface PlannedCheck {
  name: string;
  kind: CheckKind;
  target: string;
  check: Check;
  /** host names; null is the runner */
  places: (string | null)[];
  policy: RetryPolicy;
}

const uniq = <T>(xs: T[]) => [...new Set(xs)];
const withService = (unit: string) => (/\.[a-z]+$/.test(unit) ? unit : `${unit}.service`);

function servicesOf<K extends Service["kind"]>(env: Environment, kind: K): [string, Extract<Service, { kind: K }>][] {
  return Object.entries(env.services).filter((e): e is [string, Extract<Service, { kind: K }>] => e[1].kind === kind);
}

/** The supervisor service a `supervisor:` target ("group:*", "group:prog", "prog") belongs to. */
export function supervisorServiceFor(env: Environment, target: string): [string, Extract<Service, { kind: "supervisor" }>] | undefined {
  const [group, prog] = target.includes(":") ? target.split(":", 2) : [undefined, target];
  return servicesOf(env, "supervisor").find(([name, s]) => (group !== undefined ? (s.group ?? name) === group : prog! in s.programs));
}

/** Compose project names as compose derives them (lower case, only [-_a-z0-9]). */
export const composeProject = (name: string) => name.toLowerCase().replace(/[^-_a-z0-9]/g, "");

/** Where a check runs (see the top of this file). Throws when it cannot be told. */
export function checkPlaces(env: Environment, c: Check): (string | null)[] {
  const kind = checkKind(c);
  const explicit = c.hosts ?? (c.from ? [c.from] : undefined);
  const need = (hosts: string[], why: string): string[] => {
    if (explicit) return explicit;
    if (hosts.length) return uniq(hosts);
    throw new Error(`check "${checkName(c)}": cannot tell which hosts to run it on (${why}); give hosts: [...]`);
  };
  switch (kind) {
    case "http":
    case "tcp":
      return explicit ?? [null];
    case "sql": {
      const db = env.databases[c.database ?? ""];
      if (!db) throw new Error(`check "${checkName(c)}": unknown database '${c.database ?? ""}'`);
      return [db.on?.host ?? null];
    }
    case "systemd":
    case "memory": {
      const unit = withService(kind === "memory" ? c.memory!.unit : c.systemd!);
      const hosts = servicesOf(env, "systemd").filter(([name, s]) => (s["unit-name"] ?? `${name}.service`) === unit || (s.timer && `${name}.timer` === unit)).flatMap(([, s]) => s.hosts);
      return need(hosts, `no systemd service of the environment has unit ${unit}`);
    }
    case "supervisor": {
      const svc = supervisorServiceFor(env, c.supervisor!);
      return need(svc?.[1].hosts ?? [], `no supervisor service of the environment has group or program ${c.supervisor}`);
    }
    case "compose":
      return need(servicesOf(env, "compose").flatMap(([, s]) => s.hosts), "the environment has no compose service");
    default:
      return need(Object.values(env.services).flatMap((s) => s.hosts), "the environment has no services");
  }
}

/** The checks to run: all, or those named; their places narrowed to `hosts` when given. */
export function planChecks(env: Environment, o: { checks?: string[]; hosts?: string[] } = {}): { planned: PlannedCheck[]; skipped: { name: string; reason: string }[] } {
  const all = env.checks.map((c) => ({ c, name: checkName(c) }));
  const wanted = o.checks?.filter(Boolean) ?? [];
  const unknown = wanted.filter((n) => !all.some((x) => x.name === n));
  if (unknown.length) throw new Error(`checks input names unknown check(s) ${unknown.map((n) => `"${n}"`).join(", ")}; the environment defines: ${all.map((x) => `"${x.name}"`).join(", ") || "no checks"}`);
  const planned: PlannedCheck[] = [];
  const skipped: { name: string; reason: string }[] = [];
  for (const { c, name } of all) {
    if (wanted.length && !wanted.includes(name)) continue;
    let places = checkPlaces(env, c);
    if (o.hosts?.length) {
      const before = places;
      places = places.filter((p) => p === null || o.hosts!.includes(p));
      if (places.length === 0) {
        skipped.push({ name, reason: `runs on ${before.join(", ")}, not among the selected hosts` });
        continue;
      }
    }
    planned.push({ name, kind: checkKind(c), target: checkTarget(c), check: c, places, policy: retryPolicy(c) });
  }
  return { planned, skipped };
}

// ---------------------------------------------------------------- the retry loop

export interface RetryPolicy {
  timeoutMs: number;
  retries: number;
  intervalMs: number;
  stable: number;
}

export function retryPolicy(c: Pick<Check, "timeout" | "retries" | "interval" | "stable">): RetryPolicy {
  return { timeoutMs: durationMs(c.timeout), retries: c.retries, intervalMs: durationMs(c.interval), stable: c.stable };
}

export interface ProbeOutcome {
  ok: boolean;
  detail: string;
}

export interface AttemptInfo {
  /** 1-based */
  attempt: number;
  /** passes in a row just before this attempt (0: this attempt starts a new window) */
  streak: number;
  /** aborted when the attempt's timeout expires */
  signal: AbortSignal;
}

export interface Probe {
  attempt(a: AttemptInfo): Promise<ProbeOutcome>;
  /** more evidence for a failed check (a journal tail, container logs), fetched once at the end */
  explain?(): Promise<string | undefined>;
}

export interface RetryResult extends ProbeOutcome {
  attempts: number;
  ms: number;
  /** each attempt's result, in order */
  history: boolean[];
}

class AttemptTimeout extends Error {}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Run `probe` until it passes `stable` times in a row: at most max(retries + 1, stable) attempts,
 * `interval` between them, each bounded by `timeout` (a throw or a timeout is a failed attempt).
 * Stops early once the remaining attempts cannot complete a stable window.
 */
export async function retryUntilStable(probe: Probe, p: RetryPolicy, onAttempt?: (n: number, o: ProbeOutcome) => void): Promise<RetryResult> {
  const started = Date.now();
  const max = Math.max(p.retries + 1, p.stable);
  const history: boolean[] = [];
  let streak = 0;
  let best = 0;
  let last: ProbeOutcome = { ok: false, detail: "not run" };
  let lastFailure: string | undefined;
  for (let n = 1; n <= max; n++) {
    if (n > 1) await sleep(p.intervalMs);
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort(new AttemptTimeout(`timed out after ${formatMs(p.timeoutMs)}`));
        reject(ac.signal.reason);
      }, p.timeoutMs);
    });
    try {
      last = await Promise.race([probe.attempt({ attempt: n, streak, signal: ac.signal }), timedOut]);
    } catch (e) {
      last = { ok: false, detail: e instanceof AttemptTimeout ? e.message : errorText(e) };
    } finally {
      clearTimeout(timer);
    }
    history.push(last.ok);
    onAttempt?.(n, last);
    if (last.ok) {
      streak++;
      best = Math.max(best, streak);
      if (streak >= p.stable) return { ok: true, detail: last.detail, attempts: n, ms: Date.now() - started, history };
    } else {
      streak = 0;
      lastFailure = last.detail;
    }
    if (streak + (max - n) < p.stable) break;
  }
  const window = p.stable > 1 ? ` (passed at most ${best} time(s) in a row; ${p.stable} needed)` : "";
  return { ok: false, detail: `${lastFailure ?? last.detail}${window}`, attempts: history.length, ms: Date.now() - started, history };
}

// ---------------------------------------------------------------- comparisons

const EXPECT = /^(=|==|!=|>|>=|<|<=)\s*(-?\d+(?:\.\d+)?)$/;

/** Does `actual` satisfy an expectation like "> 0", "= 12", "<= 3.5"? */
export function compareExpect(actual: number, expect: string): boolean {
  const m = EXPECT.exec(expect.trim());
  if (!m) throw new Error(`not a comparison: '${expect}' (like '> 0' or '= 12')`);
  const want = Number(m[2]);
  switch (m[1]) {
    case "=":
    case "==":
      return actual === want;
    case "!=":
      return actual !== want;
    case ">":
      return actual > want;
    case ">=":
      return actual >= want;
    case "<":
      return actual < want;
    default:
      return actual <= want;
  }
}

/**
 * The value at a dotted path ("status", "checks.db.ok", "items.0.name") in parsed JSON. A key that
 * itself contains dots is found too: the longest key present at each level wins.
 */
export function jsonPath(value: unknown, path: string): { found: boolean; value?: unknown } {
  const walk = (v: unknown, segs: string[]): { found: boolean; value?: unknown } => {
    if (segs.length === 0) return { found: true, value: v };
    if (v === null || typeof v !== "object") return { found: false };
    for (let i = segs.length; i >= 1; i--) {
      const key = segs.slice(0, i).join(".");
      if (Object.prototype.hasOwnProperty.call(v, key)) {
        const r = walk((v as Record<string, unknown>)[key], segs.slice(i));
        if (r.found) return r;
      }
    }
    return { found: false };
  };
  return walk(value, path.split("."));
}

/** Equality of a JSON value with an expected scalar; "200" matches 200 and "true" matches true (YAML quoting). */
export function jsonEquals(actual: unknown, expected: string | number | boolean | null): boolean {
  if (actual === expected) return true;
  if (expected === null || actual === null) return false;
  const scalar = typeof actual === "number" || typeof actual === "boolean" || typeof actual === "string";
  return scalar && (typeof actual !== typeof expected) && String(actual) === String(expected);
}

const short = (s: string, n = 200) => {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > n ? `${one.slice(0, n)}…` : one;
};

/** The verdict on an HTTP response: status (default 2xx), `contains`, `json` paths. */
export function evaluateHttp(c: Pick<Check, "status" | "contains" | "json">, status: number, body: string): ProbeOutcome {
  const got = `HTTP ${status}`;
  const statusOk = c.status !== undefined ? status === c.status : status >= 200 && status < 300;
  if (!statusOk) return { ok: false, detail: `${got}, expected ${c.status ?? "2xx"}; body: ${short(body) || "(empty)"}` };
  const notes = [got];
  if (c.contains !== undefined) {
    if (!body.includes(c.contains)) return { ok: false, detail: `${got}, but the body does not contain ${JSON.stringify(c.contains)}; body: ${short(body) || "(empty)"}` };
    notes.push(`contains ${JSON.stringify(c.contains)}`);
  }
  if (c.json) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return { ok: false, detail: `${got}, but the body is not JSON: ${short(body) || "(empty)"}` };
    }
    for (const [path, want] of Object.entries(c.json)) {
      const r = jsonPath(parsed, path);
      if (!r.found) return { ok: false, detail: `${got}, but the JSON has no ${path}; body: ${short(body)}` };
      if (!jsonEquals(r.value, want)) return { ok: false, detail: `${got}, but ${path} is ${JSON.stringify(r.value)}, expected ${JSON.stringify(want)}` };
      notes.push(`${path} = ${JSON.stringify(r.value)}`);
    }
  }
  return { ok: true, detail: notes.join(", ") };
}

/** "8G" → bytes (systemd's 1024-based K/M/G/T); plain digits are bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+)([KMGT]?)$/.exec(s.trim());
  if (!m) throw new Error(`not a size: '${s}' (like 512M or 8G)`);
  return Number(m[1]) * 1024 ** ["", "K", "M", "G", "T"].indexOf(m[2]!);
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0).replace(/\.0$/, "")}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s ? `${m}m ${s}s` : `${m}m`;
}

const errorText = (e: unknown): string => {
  const err = e as Error & { cause?: { message?: string; code?: string } };
  const cause = err?.cause?.message ?? err?.cause?.code;
  return cause && !err.message.includes(cause) ? `${err.message}: ${cause}` : (err?.message ?? String(e));
};

// ---------------------------------------------------------------- parsers of the hosts' answers

export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

export interface SupervisorProgram {
  name: string;
  state: string;
  pid?: number;
  info: string;
}

/** `supervisorctl status` lines; ERROR lines ("no such group") become programs in state ERROR. */
export function parseSupervisorStatus(text: string): { programs: SupervisorProgram[]; errors: string[] } {
  const programs: SupervisorProgram[] = [];
  const errors: string[] = [];
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const m = /^(\S+)\s+(STOPPED|STARTING|RUNNING|BACKOFF|STOPPING|EXITED|FATAL|UNKNOWN)\b\s*(.*)$/.exec(line);
    if (m) programs.push({ name: m[1]!, state: m[2]!, info: m[3]!, pid: /pid (\d+)/.exec(m[3]!) ? Number(/pid (\d+)/.exec(m[3]!)![1]) : undefined });
    else errors.push(line);
  }
  return { programs, errors };
}

export interface ContainerState {
  id: string;
  name: string;
  status: string;
  exitCode?: number;
  health?: string;
  healthLog?: string;
  restarts: number;
  startedAt?: string;
}

export function parseDockerInspect(json: string): ContainerState[] {
  const list = JSON.parse(json) as {
    Id: string;
    Name: string;
    RestartCount?: number;
    State: { Status: string; ExitCode?: number; StartedAt?: string; Health?: { Status: string; Log?: { Output?: string; ExitCode?: number }[] } };
  }[];
  return list.map((c) => ({
    id: c.Id,
    name: c.Name.replace(/^\//, ""),
    status: c.State.Status,
    exitCode: c.State.ExitCode,
    health: c.State.Health?.Status,
    healthLog: c.State.Health?.Log?.at(-1)?.Output?.trim(),
    restarts: c.RestartCount ?? 0,
    startedAt: c.State.StartedAt,
  }));
}

export function parseFileTimes(text: string): { now: number; files: { path: string; mtime: number }[] } {
  let now = NaN;
  const files: { path: string; mtime: number }[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("slipway:now ")) now = Number(line.slice(12));
    const m = /^slipway:file (\d+) (.*)$/.exec(line);
    if (m) files.push({ mtime: Number(m[1]), path: m[2]! });
  }
  return { now, files };
}

/** file-fresh verdict: every file matching must be younger than `withinMs`. */
export function evaluateFreshness(glob: string, withinMs: number, t: { now: number; files: { path: string; mtime: number }[] }): ProbeOutcome {
  if (!Number.isFinite(t.now)) return { ok: false, detail: "the host did not report its clock" };
  if (t.files.length === 0) return { ok: false, detail: `missing: no file matches ${glob}` };
  const aged = t.files.map((f) => ({ ...f, ageMs: Math.max(0, (t.now - f.mtime) * 1000) }));
  const stale = aged.filter((f) => f.ageMs > withinMs);
  const within = formatMs(withinMs);
  if (stale.length) {
    const list = stale.slice(0, 10).map((f) => `${f.path} (modified ${formatMs(f.ageMs)} ago)`).join(", ");
    return { ok: false, detail: `stale (not modified within ${within}): ${list}${stale.length > 10 ? ` and ${stale.length - 10} more` : ""}; ${aged.length - stale.length} of ${aged.length} fresh` };
  }
  const oldest = Math.max(...aged.map((f) => f.ageMs));
  return { ok: true, detail: `${aged.length} file(s) modified within ${within} (oldest ${formatMs(oldest)} ago)` };
}

/** The first column of the first row of psql -At / sqlite3 -list output, as a number. */
export function firstNumber(output: string): { value?: number; text: string } {
  const line = output.split("\n").find((l) => l.trim() !== "");
  if (line === undefined) return { text: "" };
  const cell = line.split("|")[0]!.trim();
  const n = Number(cell);
  return { value: cell !== "" && Number.isFinite(n) ? n : cell === "t" ? 1 : cell === "f" ? 0 : undefined, text: cell };
}

/** memory verdict from memoryScript's output: MemoryCurrent, else the cgroup counter, else the RSS sum. */
export function evaluateMemory(output: string, unit: string, max: string, host: string): ProbeOutcome {
  const m = (key: string) => output.split("\n").find((l) => l.startsWith(`slipway:${key} `))?.slice(key.length + 9).trim();
  const [load, active] = (m("state") ?? "").split(" ");
  if (load === "not-found") return { ok: false, detail: `unit ${unit} not found on ${host}` };
  const current = m("current");
  const cgroup = m("cgroup");
  const rss = m("rss")?.split(" ");
  let used: number | undefined;
  let how = "MemoryCurrent";
  if (current && /^\d+$/.test(current) && current !== "18446744073709551615") used = Number(current);
  else if (cgroup && /^\d+$/.test(cgroup)) [used, how] = [Number(cgroup), "cgroup memory counter"];
  else if (rss && /^\d+$/.test(rss[0] ?? "") && Number(rss[1]) > 0) [used, how] = [Number(rss[0]), `RSS of ${rss[1]} process(es); memory accounting is off`];
  if (used === undefined)
    return { ok: false, detail: active !== "active" ? `${unit} is ${active || "unknown"}: no memory to measure` : `cannot read the memory of ${unit} (MemoryCurrent ${current || "empty"}, no cgroup counter)` };
  const ok = used < parseSize(max);
  return { ok, detail: `${unit} uses ${formatBytes(used)} (${how}), ${ok ? "below" : "not below"} ${max}` };
}

// ---------------------------------------------------------------- probes

/** A limit on concurrent remote commands per host (one ssh connection each). */
export class HostGate {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();
  constructor(private readonly limit: number) {}

  async run<T>(host: string, fn: () => Promise<T>): Promise<T> {
    const n = this.active.get(host) ?? 0;
    // a full host: wait until a finishing job hands its slot over (the count stays as it is)
    if (n >= this.limit) await new Promise<void>((r) => this.waiting.set(host, [...(this.waiting.get(host) ?? []), r]));
    else this.active.set(host, n + 1);
    try {
      return await fn();
    } finally {
      const next = this.waiting.get(host)?.shift();
      if (next) next();
      else this.active.set(host, this.active.get(host)! - 1);
    }
  }
}

interface ProbeDeps {
  env: Environment;
  pool: RemotePool;
  secrets: Secrets;
  gate: HostGate;
  /** one client per database, shared by the checks on it, closed at the end */
  pg(database: string): Promise<PgClient>;
}

const tailText = (lines: string[], n = 10) => lines.slice(-n).join("\n");

function probeFor(pc: PlannedCheck, place: string | null, d: ProbeDeps): Probe {
  const c = pc.check;
  const host = place === null ? undefined : d.env.hosts[place];
  const sudo = host?.sudo ?? false;
  const timeoutMs = pc.policy.timeoutMs;
  const run = (script: Shell, step: string): Promise<RunResult> =>
    d.gate.run(place!, async () => (await d.pool.get(place!)).run(script, { step: `${pc.name}: ${step}`, timeoutMs, check: false, quiet: true }));
  const failed = (r: RunResult, what: string) => `${what} failed on ${place} (exit ${r.code}${r.code === 124 ? ", timed out" : ""}): ${short(tailText(r.tail, 5), 400) || "no output"}`;

  switch (pc.kind) {
    case "http":
      if (place === null)
        return {
          async attempt({ signal }) {
            const res = await fetch(c.http!, { signal, redirect: "follow", headers: { "user-agent": "slipway verify-health" } });
            return evaluateHttp(c, res.status, await res.text());
          },
        };
      return {
        async attempt() {
          const r = await run(curlScript(c.http!, timeoutMs), "curl");
          if (r.code !== 0) return { ok: false, detail: `curl on ${place}: ${short(r.stderr || r.stdout, 300) || `exit ${r.code}`}` };
          const i = r.stdout.lastIndexOf(`\n${HTTP_STATUS_MARK}`);
          if (i < 0) return { ok: false, detail: `curl on ${place} printed no status: ${short(r.stdout)}` };
          return evaluateHttp(c, Number(r.stdout.slice(i + 1 + HTTP_STATUS_MARK.length).trim()), r.stdout.slice(0, i));
        },
      };

    case "tcp": {
      const i = c.tcp!.lastIndexOf(":");
      const address = c.tcp!.slice(0, i);
      const port = Number(c.tcp!.slice(i + 1));
      if (place === null)
        return {
          attempt: ({ signal }) =>
            new Promise<ProbeOutcome>((resolve) => {
              const sock = net.connect({ host: address, port });
              const done = (o: ProbeOutcome) => {
                sock.destroy();
                resolve(o);
              };
              sock.once("connect", () => done({ ok: true, detail: `${c.tcp} is open` }));
              sock.once("error", (e) => done({ ok: false, detail: `${c.tcp} is not open: ${e.message}` }));
              signal.addEventListener("abort", () => sock.destroy(), { once: true });
            }),
        };
      return {
        async attempt() {
          const r = await run(tcpScript(address, port, timeoutMs), "tcp connect");
          const line = r.stdout.split("\n").find((l) => l.startsWith("slipway:")) ?? "";
          if (line === "slipway:open") return { ok: true, detail: `${c.tcp} is open from ${place}` };
          if (line.startsWith("slipway:closed ")) {
            const [, rc, ...why] = line.split(" ");
            return { ok: false, detail: `${c.tcp} is not open from ${place}: ${rc === "124" ? "timed out" : why.join(" ").replace(/^slipway-tcp: (line \d+: )?/, "") || `exit ${rc}`}` };
          }
          return { ok: false, detail: failed(r, "tcp connect") };
        },
      };
    }

    case "command":
      return {
        async attempt() {
          const r = await run(commandScript(c.command!), "command");
          const out = tailText(r.tail);
          if (r.code === 0) return { ok: true, detail: `exit 0${out ? `; output:\n${out}` : ""}` };
          return { ok: false, detail: `exit ${r.code}${r.code === 124 ? " (timed out)" : ""}${out ? `; output:\n${out}` : " (no output)"}` };
        },
      };

    case "systemd": {
      const unit = c.systemd!;
      const systemctl = commandWords(host?.commands?.systemctl, "systemctl");
      let base: { restarts?: string; pid?: string } = {};
      return {
        async attempt({ streak }) {
          const r = await run(systemdShowScript({ systemctl, unit }), "systemctl show");
          if (r.code !== 0) return { ok: false, detail: failed(r, "systemctl show") };
          const p = parseKeyValues(r.stdout);
          const restarts = p.NRestarts;
          const pid = p.MainPID && p.MainPID !== "0" ? p.MainPID : undefined;
          const prev = base;
          if (streak === 0) base = { restarts, pid };
          if (p.LoadState === "not-found") return { ok: false, detail: `unit ${unit} not found on ${place}` };
          const state = `${p.ActiveState} (${p.SubState})${pid ? `, pid ${pid}` : ""}${restarts !== undefined ? `, NRestarts ${restarts}` : ""}`;
          if (p.ActiveState !== "active") return { ok: false, detail: `${unit} is ${state}${p.Result && p.Result !== "success" ? `, result ${p.Result}` : ""}` };
          if (streak > 0 && (prev.restarts !== restarts || (prev.pid && pid && prev.pid !== pid))) {
            base = { restarts, pid };
            return { ok: false, detail: `${unit} restarted during the stability window (NRestarts ${prev.restarts ?? "?"} → ${restarts ?? "?"}, pid ${prev.pid ?? "-"} → ${pid ?? "-"})` };
          }
          return { ok: true, detail: `${unit} is ${state}` };
        },
        explain: async () => {
          const r = await run(journalTailScript({ unit, sudo }), "journal");
          return r.stdout.trim() ? `journal of ${unit} on ${place}:\n${r.stdout.trim()}` : undefined;
        },
      };
    }

    case "supervisor": {
      const svc = supervisorServiceFor(d.env, c.supervisor!);
      const supervisorctl = commandWords(host?.commands?.supervisorctl, "supervisorctl");
      const script = supervisorStatusScript({ supervisorctl, config: svc?.[1]["supervisord-config"], sudo, target: c.supervisor! });
      let base = "";
      return {
        async attempt({ streak }) {
          const r = await run(script, "supervisorctl status");
          const { programs, errors } = parseSupervisorStatus(r.stdout);
          const pids = programs.map((p) => `${p.name}=${p.pid ?? "-"}`).join(" ");
          const prev = base;
          if (streak === 0) base = pids;
          if (errors.length || programs.length === 0) return { ok: false, detail: `supervisorctl status ${c.supervisor} on ${place}: ${short(errors.join("; ") || r.stdout, 300) || "no programs"}` };
          const down = programs.filter((p) => p.state !== "RUNNING");
          if (down.length) return { ok: false, detail: `${down.length} of ${programs.length} not RUNNING: ${down.map((p) => `${p.name} ${p.state}${p.info ? ` (${p.info})` : ""}`).join("; ")}` };
          if (streak > 0 && prev !== pids) {
            base = pids;
            const changed = programs.filter((p) => !prev.split(" ").includes(`${p.name}=${p.pid ?? "-"}`)).map((p) => p.name);
            return { ok: false, detail: `restarted during the stability window: ${changed.join(", ")}` };
          }
          return { ok: true, detail: `${programs.length} program(s) RUNNING${programs.length === 1 ? ` (${programs[0]!.info})` : ""}` };
        },
      };
    }

    case "compose": {
      const docker = commandWords(host?.commands?.docker, "docker");
      const projects = servicesOf(d.env, "compose").filter(([, s]) => s.hosts.includes(place!)).map(([name, s]) => composeProject(s.project ?? name));
      const where = projects.length ? ` in project ${projects.join(" or ")}` : "";
      let base = "";
      let last: ContainerState[] = [];
      return {
        async attempt({ streak }) {
          const r = await run(composeInspectScript({ docker, sudo, service: c.compose!, projects: uniq(projects) }), "docker inspect");
          if (r.stdout.trim() === "slipway:no-container") return { ok: false, detail: `no container of compose service ${c.compose}${where} on ${place}` };
          if (r.code !== 0) return { ok: false, detail: failed(r, "docker inspect") };
          const cs = (last = parseDockerInspect(r.stdout));
          const ident = cs.map((x) => `${x.id}:${x.restarts}:${x.startedAt}`).join(" ");
          const prev = base;
          if (streak === 0) base = ident;
          const bad = cs.filter((x) => x.status !== "running" || (x.health !== undefined && x.health !== "healthy"));
          const describe = (x: ContainerState) =>
            `${x.name} ${x.status}${x.status === "exited" ? ` (exit ${x.exitCode})` : ""}${x.health ? `, ${x.health}` : ""}${x.health === "unhealthy" && x.healthLog ? ` (last probe: ${short(x.healthLog, 200)})` : ""}`;
          if (bad.length) return { ok: false, detail: bad.map(describe).join("; ") };
          if (streak > 0 && prev !== ident) {
            base = ident;
            return { ok: false, detail: `restarted during the stability window: ${cs.map((x) => `${x.name} (restarts ${x.restarts})`).join(", ")}` };
          }
          return { ok: true, detail: cs.map(describe).join("; ") };
        },
        explain: async () => {
          const sick = last.filter((x) => x.status !== "running" || (x.health !== undefined && x.health !== "healthy"));
          if (sick.length === 0) return undefined;
          const logs = await run(composeLogsScript({ docker, sudo, container: sick[0]!.name }), "docker logs");
          return logs.stdout.trim() ? `docker logs of ${sick[0]!.name} on ${place}:\n${logs.stdout.trim()}` : undefined;
        },
      };
    }

    case "sql": {
      const dbName = c.database!;
      const db = d.env.databases[dbName]!;
      const verdict = (output: string): ProbeOutcome => {
        const { value, text } = firstNumber(output);
        if (value === undefined) return { ok: false, detail: text === "" ? "the query returned no rows" : `the query returned '${short(text, 80)}', not a number` };
        const ok = compareExpect(value, c.expect!);
        return { ok, detail: `${value} ${ok ? "satisfies" : "does not satisfy"} ${c.expect}` };
      };
      if (db.engine === "sqlite")
        return {
          async attempt() {
            const sqlite3 = commandWords(host?.commands?.sqlite3, "sqlite3");
            const r = await run(sqliteQueryScript({ sqlite3, path: db.path, query: c.sql!, timeoutMs }), "sqlite3 query");
            if (r.code !== 0) return { ok: false, detail: `sqlite3 ${db.path} on ${place}: ${short(r.stderr || r.stdout, 300) || `exit ${r.code}`}` };
            return verdict(r.stdout);
          },
        };
      const query = `SET statement_timeout = ${Math.max(1, Math.round(timeoutMs))};\n${c.sql!.trim()}\n;\n`;
      return {
        async attempt() {
          const client = await d.pg(dbName);
          const ask = () => client.psql(query, `${pc.name}: sql check`);
          const r = client.remote ? await d.gate.run(place ?? RUNNER, ask) : await ask();
          if (r.code !== 0) return { ok: false, detail: `${client.describe}: ${short(r.stderr || r.stdout, 300) || `psql exit ${r.code}`}` };
          return verdict(r.stdout);
        },
      };
    }

    case "file-fresh": {
      const withinMs = durationMs(c.within ?? 0);
      return {
        async attempt() {
          const r = await run(fileTimesScript(c["file-fresh"]!), "file times");
          if (r.code !== 0) return { ok: false, detail: failed(r, "file times") };
          return evaluateFreshness(c["file-fresh"]!, withinMs, parseFileTimes(r.stdout));
        },
      };
    }

    case "file-absent": {
      const p = c["file-absent"]!;
      return {
        async attempt() {
          const r = await run(pathStatusScript(p), "path status");
          const line = r.stdout.split("\n").find((l) => l.startsWith("slipway:")) ?? "";
          if (line === "slipway:absent") return { ok: true, detail: `${p} is absent` };
          if (line.startsWith("slipway:present ")) return { ok: false, detail: `${p} exists on ${place} (modified ${line.slice(16)})` };
          if (line.startsWith("slipway:unknown ")) return { ok: false, detail: `cannot tell whether ${p} exists on ${place}: ${line.slice(16)}` };
          return { ok: false, detail: failed(r, "path status") };
        },
      };
    }

    case "memory": {
      const { unit, max } = c.memory!;
      parseSize(max);
      const systemctl = commandWords(host?.commands?.systemctl, "systemctl");
      return {
        async attempt() {
          const r = await run(memoryScript({ systemctl, unit }), "memory");
          if (r.code !== 0) return { ok: false, detail: failed(r, "memory") };
          return evaluateMemory(r.stdout, unit, max, place!);
        },
      };
    }
  }
}

// ---------------------------------------------------------------- running them all

/**
 * Run the environment's checks (all, or those named), every (check, place) pair concurrently
 * (remote commands limited per host), and report each. Never throws for a failing check: the
 * report says so; it throws only when the checks cannot be planned (unknown name, no hosts).
 */
export async function runHealthChecks(ctx: HealthContext, o: HealthOptions = {}): Promise<HealthReport> {
  const started = Date.now();
  const env = ctx.loaded.env;
  const { planned, skipped } = planChecks(env, o);
  for (const s of skipped) ctx.log.info(`skipped "${s.name}": ${s.reason}`);
  const clients = new Map<string, Promise<PgClient>>();
  const deps: ProbeDeps = {
    env,
    pool: ctx.pool,
    secrets: ctx.secrets,
    gate: new HostGate(o.perHost ?? 6),
    pg(database) {
      let c = clients.get(database);
      if (!c) {
        c = pgClient(env, database, ctx.pool, ctx.secrets);
        clients.set(database, c);
        c.catch(() => clients.delete(database));
      }
      return c;
    },
  };
  // open each host's connection once before the clocks start (a failure shows up in the attempts)
  await Promise.all(uniq(planned.flatMap((p) => p.places)).filter((h): h is string => h !== null).map((h) => Promise.resolve().then(() => ctx.pool.get(h)).catch(() => undefined)));
  try {
    const results = await Promise.all(
      planned.flatMap((pc) =>
        pc.places.map(async (place): Promise<HealthCheckResult> => {
          const label = `${pc.name} @ ${place ?? RUNNER}`;
          const base = { name: pc.name, kind: pc.kind, host: place ?? RUNNER };
          let probe: Probe;
          try {
            probe = probeFor(pc, place, deps);
          } catch (e) {
            return { ...base, ok: false, attempts: 0, ms: 0, detail: errorText(e) };
          }
          const max = Math.max(pc.policy.retries + 1, pc.policy.stable);
          const r = await retryUntilStable(probe, pc.policy, (n, out) => ctx.log.info(`[${label}] attempt ${n}/${max}: ${out.ok ? "pass" : "fail"}: ${short(out.detail, 300)}`));
          let detail = r.detail;
          if (!r.ok && probe.explain) {
            let timer: NodeJS.Timeout | undefined;
            const more = await Promise.race([probe.explain().catch(() => undefined), new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), pc.policy.timeoutMs)))]);
            clearTimeout(timer);
            if (more) detail += `\n${more}`;
          }
          ctx.log.info(`[${label}] ${r.ok ? "✅ healthy" : "❌ FAILED"} after ${r.attempts} attempt(s), ${formatMs(r.ms)}`);
          return { ...base, ok: r.ok, attempts: r.attempts, ms: r.ms, detail };
        }),
      ),
    );
    return { healthy: results.every((r) => r.ok), results, skipped, ms: Date.now() - started };
  } finally {
    for (const c of clients.values()) await (await c.catch(() => undefined))?.close();
  }
}

/** A detail on one line (tables, error messages): output lines joined with "; ". */
export const compactDetail = (detail: string, n = 300): string => short(detail.replace(/; output:\n/, ": ").replace(/:\n/g, ": ").replace(/\n+/g, "; "), n);

/** "check "x" on droplet-1: detail" for every failure (error messages, rollback reasons). */
export function failureLines(report: HealthReport): string[] {
  return report.results.filter((r) => !r.ok).map((r) => `check "${r.name}" on ${r.host}: ${compactDetail(r.detail)}`);
}
