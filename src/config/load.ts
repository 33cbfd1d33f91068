// Loading an environment file: YAML syntax, schema and cross-references are all checked, and
// EVERY problem is reported at once with file:line:col (the CLI prints them, actions annotate).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import type * as z from "zod";
import { inWorkspace, workspace } from "./paths.js";
import { calendarProblem } from "./calendar.js";
import { environmentSchema, type Environment } from "./schema.js";

export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n` + problems.map(formatProblem).join("\n"));
    this.name = "ConfigError";
  }
}

export const formatProblem = (p: ConfigProblem) => `${p.file}:${p.line}:${p.col}: ${p.message}`;

export interface LoadedEnvironment {
  /** the environment's name: its `name:` or the file name without extension */
  name: string;
  file: string;
  env: Environment;
}

/** `production` means environments/production.yml under `root`; anything with a slash or .yml/.yaml is a path. */
export function resolveEnvironmentPath(ref: string, root = workspace()): string {
  const trimmed = ref.trim();
  if (!trimmed) throw new Error("no environment given: pass a name (environments/<name>.yml) or a path to a YAML file");
  const isPath = trimmed.includes("/") || /\.ya?ml$/.test(trimmed);
  return inWorkspace(isPath ? trimmed : path.join("environments", `${trimmed}.yml`), root);
}

export function loadEnvironment(ref: string, root = workspace()): LoadedEnvironment {
  const file = resolveEnvironmentPath(ref, root);
  if (!existsSync(file)) throw new Error(`environment file not found: ${file} (from '${ref}')`);
  const rel = path.relative(root, file);
  const shown = rel && !rel.startsWith("..") ? rel : file;
  const env = parseEnvironment(readFileSync(file, "utf8"), shown, root);
  return { name: env.name ?? path.basename(file).replace(/\.ya?ml$/, ""), file: shown, env };
}

/** Parse and validate; with `root` (the repository), what the file names there is checked too. */
export function parseEnvironment(text: string, file: string, root?: string): Environment {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => lines.linePos(offset);
  const problems: ConfigProblem[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    const { line, col } = at(e.pos[0]);
    problems.push({ file, line, col, message: e.message.split("\n")[0] ?? e.message });
  }
  if (doc.errors.length > 0) throw new ConfigError(file, problems);

  const data: unknown = doc.toJS() ?? {};
  const result = environmentSchema.safeParse(data);
  const issues: { path: PropertyKey[]; message: string; key?: string }[] = [];
  if (!result.success) issues.push(...flattenIssues(result.error.issues));
  issues.push(...crossReferenceIssues(data));
  if (root !== undefined) issues.push(...repositoryIssues(data, root));
  // calendar events systemd would refuse (asked only for values whose characters already passed)
  if (result.success || !issues.some((i) => i.path.includes("timer")))
    for (const [s, service] of Object.entries((data as { services?: Record<string, { timer?: { "on-calendar"?: unknown } }> }).services ?? {})) {
      const calendar = service?.timer?.["on-calendar"];
      const why = typeof calendar === "string" ? calendarProblem(calendar) : undefined;
      if (why) issues.push({ path: ["services", s, "timer", "on-calendar"], message: why });
    }

  for (const issue of issues) {
    const offset = locate(doc, issue.path, issue.key);
    const { line, col } = at(offset);
    const where = [...issue.path, ...(issue.key !== undefined ? [issue.key] : [])].map((p) => (plainKey(String(p)) ? String(p) : JSON.stringify(String(p)))).join(".");
    problems.push({ file, line, col, message: (where ? `${where}: ` : "") + issue.message });
  }
  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ConfigError(file, problems);
  }
  return (result as { data: Environment }).data;
}

/** A key printed as is when it is plain; otherwise quoted, so that a newline or a space in it cannot garble the message. */
const plainKey = (k: string) => /^[A-Za-z0-9_.@:-]+$/.test(k);
const shown = (k: string) => (plainKey(k) ? `'${k}'` : JSON.stringify(k));

/** One entry per problem; an unknown-keys issue becomes one entry per key, located at that key. */
function flattenIssues(issues: z.core.$ZodIssue[]): { path: PropertyKey[]; message: string; key?: string }[] {
  const out: { path: PropertyKey[]; message: string; key?: string }[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: issue.path, key, message: `unknown key ${shown(key)} (a typo? allowed keys are in environments/schema.json)` });
    } else if (issue.code === "invalid_key") {
      // a map key that breaks its rule: located at the key itself (not at its value, lines below)
      const key = issue.path.at(-1);
      const why = issue.issues.map((i) => i.message).join("; ");
      out.push({ path: issue.path.slice(0, -1), key: String(key), message: `the name ${shown(String(key))} is not allowed: ${why}` });
    } else if (issue.code === "invalid_union" && "discriminator" in issue && issue.discriminator) {
      out.push({ path: issue.path, message: issue.message });
    } else if (issue.code === "invalid_union" && issue.errors.length > 0) {
      // report the branch that got furthest, rather than a bare "Invalid input"
      const best = issue.errors.reduce((a, b) => (depth(b) > depth(a) ? b : a));
      out.push(...flattenIssues(best));
    } else {
      out.push({ path: issue.path, message: issue.message });
    }
  }
  return out;
}
const depth = (issues: z.core.$ZodIssue[]) => Math.max(0, ...issues.map((i) => i.path.length));

/** Offset of the node at `path` (or of `key` inside it); falls back to the deepest existing parent. */
function locate(doc: Document, pathParts: PropertyKey[], key?: string): number {
  let node: Node | null = doc.contents;
  for (const part of pathParts) {
    const next = child(node, part);
    if (!next) break;
    node = next.value ?? next.key;
  }
  if (key !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
    if (pair && isScalar(pair.key) && pair.key.range) return pair.key.range[0];
  }
  return node?.range?.[0] ?? 0;
}

function child(node: Node | null, part: PropertyKey): { key: Node | null; value: Node | null } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(part));
    if (pair) return { key: pair.key as Node, value: (pair.value as Node | null) ?? null };
  } else if (isSeq(node) && typeof part === "number") {
    const item = node.items[part] as Node | undefined;
    if (item) return { key: null, value: item };
  }
  return undefined;
}

/**
 * What the file names in the repository: a compose database-service must be a service of the
 * stack's compose files (checked when the files are already there; a release built later in the
 * workflow is checked by the deploy, before anything changes).
 */
function repositoryIssues(data: unknown, root: string): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  const services = (data as { services?: Record<string, Record<string, unknown>> })?.services ?? {};
  for (const [name, svc] of Object.entries(services)) {
    const db = svc?.["database-service"];
    const files = svc?.files;
    if (svc?.kind !== "compose" || typeof db !== "string" || typeof svc.release !== "string" || !Array.isArray(files)) continue;
    const paths = files.map((f) => path.join(root, svc.release as string, String(f)));
    if (!paths.every((f) => existsSync(f))) continue;
    const names = new Set<string>();
    for (const f of paths) {
      const doc = parseDocument(readFileSync(f, "utf8")).toJS() as { services?: Record<string, unknown> } | null;
      for (const k of Object.keys(doc?.services ?? {})) names.add(k);
    }
    if (!names.has(db)) out.push({ path: ["services", name, "database-service"], message: `'${db}' is not a service of ${files.join(", ")} (services: ${[...names].join(", ") || "none"}): name the stack's database service` });
  }
  return out;
}

/** References between sections: every host, database and service named must exist. */
function crossReferenceIssues(data: unknown): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  const obj = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const root = obj(data);
  const hosts = obj(root.hosts);
  const services = obj(root.services);
  const databases = obj(root.databases);
  const hostNames = Object.keys(hosts);
  const needHost = (value: unknown, at: PropertyKey[]) => {
    if (typeof value === "string" && !(value in hosts)) out.push({ path: at, message: `unknown host '${value}' (hosts: ${hostNames.join(", ") || "none"})` });
  };

  for (const [h, host] of Object.entries(hosts)) {
    const jump = obj(host).jump;
    needHost(jump, ["hosts", h, "jump"]);
    if (jump === h) out.push({ path: ["hosts", h, "jump"], message: "a host cannot be its own jump host" });
    else if (typeof jump === "string" && typeof obj(hosts[jump]).jump === "string")
      out.push({ path: ["hosts", h, "jump"], message: `jump host '${jump}' has a jump host itself; chains are not supported` });
  }
  for (const [s, service] of Object.entries(services)) {
    const list = obj(service).hosts;
    if (Array.isArray(list)) list.forEach((h, i) => needHost(h, ["services", s, "hosts", i]));
  }
  for (const [d, db] of Object.entries(databases)) {
    const def = obj(db);
    needHost(obj(def.on).host, ["databases", d, "on", "host"]);
    needHost(def.via, ["databases", d, "via"]);
    const svc = obj(def.migrations).service;
    if (typeof svc === "string" && !(svc in services)) out.push({ path: ["databases", d, "migrations", "service"], message: `unknown service '${svc}'` });
  }
  const checks = Array.isArray(root.checks) ? root.checks : [];
  checks.forEach((c, i) => {
    const check = obj(c);
    needHost(check.from, ["checks", i, "from"]);
    if (Array.isArray(check.hosts)) check.hosts.forEach((h, j) => needHost(h, ["checks", i, "hosts", j]));
    if (typeof check.database === "string" && !(check.database in databases))
      out.push({ path: ["checks", i, "database"], message: `unknown database '${check.database}'` });
    if (check.sql !== undefined && check.database === undefined) out.push({ path: ["checks", i], message: "an sql check needs database:" });
    const engine = typeof check.database === "string" ? obj(databases[check.database]).engine : undefined;
    // the query must stay SQL: sqlite3 runs an argument starting with '.' as a dot-command (.shell),
    // psql runs a backslash outside quotes as one of its own commands (\! is a shell)
    if (typeof check.sql === "string" && engine === "sqlite" && check.sql.startsWith("."))
      out.push({ path: ["checks", i, "sql"], message: "sqlite3 would run a query starting with '.' as one of its dot-commands (.shell, .system), not as SQL: write the SQL statement itself" });
    if (typeof check.sql === "string" && engine === "postgres" && check.sql.includes("\\"))
      out.push({ path: ["checks", i, "sql"], message: "psql reads a backslash as one of its own commands (\\! runs a shell): write the query without one (chr(92) gives a backslash in a string)" });
    if (check.sql !== undefined && check.expect === undefined) out.push({ path: ["checks", i], message: "an sql check needs expect: (e.g. '> 0')" });
    if (check["file-fresh"] !== undefined && check.within === undefined) out.push({ path: ["checks", i], message: "a file-fresh check needs within: (e.g. 5m)" });
  });
  const canary = obj(obj(root.policy).rollout).canary;
  needHost(canary, ["policy", "rollout", "canary"]);
  return out;
}
