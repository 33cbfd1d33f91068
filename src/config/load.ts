// Loading an environment file: YAML syntax, schema and cross-references are all checked, and
// EVERY problem is reported at once with file:line:col (the CLI prints them, actions annotate).
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import * as z from "zod";
import { inWorkspace, workspace } from "./paths.js";
import { readMigrations } from "../operations/migrations.js";
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
  /** what is allowed but probably a mistake (file:line:col, like the errors) */
  warnings?: ConfigProblem[];
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
  const { env, warnings } = checkEnvironment(readFileSync(file, "utf8"), shown, root);
  return { name: env.name ?? path.basename(file).replace(/\.ya?ml$/, ""), file: shown, env, warnings };
}

/** Parse and validate; with `root` (the repository), what the file names there is checked too. */
export function parseEnvironment(text: string, file: string, root?: string): Environment {
  return checkEnvironment(text, file, root).env;
}

/** parseEnvironment, and the warnings: what is allowed but probably a mistake. */
export function checkEnvironment(text: string, file: string, root?: string): { env: Environment; warnings: ConfigProblem[] } {
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
  const issues: Issue[] = [];
  if (!result.success) issues.push(...flattenIssues(result.error.issues, data));
  issues.push(...crossReferenceIssues(data));
  if (root !== undefined) issues.push(...repositoryIssues(data, root));
  const base = path.basename(file).replace(/\.ya?ml$/, "");
  const declared = (data as { name?: unknown })?.name;
  if (typeof declared === "string" && declared !== base && /^[A-Za-z0-9_.-]+$/.test(base))
    issues.push({ path: ["name"], warning: true, message: `name '${declared}' differs from the file name '${base}': workflows and \`slipway <verb> ${base}\` call it ${base}, while the ledger, summaries and deployments say ${declared}; rename one of them` });
  // calendar events systemd would refuse (asked only for values whose characters already passed)
  if (result.success || !issues.some((i) => i.path.includes("timer")))
    for (const [s, service] of Object.entries(obj(obj(data).services))) {
      const calendar = obj(obj(service).timer)["on-calendar"];
      const why = typeof calendar === "string" ? calendarProblem(calendar) : undefined;
      if (why) issues.push({ path: ["services", s, "timer", "on-calendar"], message: why });
    }

  const warnings: ConfigProblem[] = [];
  for (const issue of issues) {
    const offset = locate(doc, issue.path, issue.key);
    const { line, col } = at(offset);
    const where = [...issue.path, ...(issue.key !== undefined ? [issue.key] : [])].map((p) => (plainKey(String(p)) ? String(p) : JSON.stringify(String(p)))).join(".");
    (issue.warning ? warnings : problems).push({ file, line, col, message: (issue.warning ? "warning: " : "") + (where ? `${where}: ` : "") + issue.message });
  }
  const byPlace = (a: ConfigProblem, b: ConfigProblem) => a.line - b.line || a.col - b.col;
  if (problems.length > 0) throw new ConfigError(file, problems.sort(byPlace));
  return { env: (result as { data: Environment }).data, warnings: warnings.sort(byPlace) };
}

/** A problem found at a path of the file (or at one of its keys); a warning does not fail validation. */
interface Issue {
  path: PropertyKey[];
  message: string;
  key?: string;
  warning?: boolean;
}

/** A key printed as is when it is plain; otherwise quoted, so that a newline or a space in it cannot garble the message. */
const plainKey = (k: string) => /^[A-Za-z0-9_.@:-]+$/.test(k);
const shown = (k: string) => (plainKey(k) ? `'${k}'` : JSON.stringify(k));

type JsonSchema = { properties?: Record<string, JsonSchema>; additionalProperties?: JsonSchema | boolean; items?: JsonSchema; anyOf?: JsonSchema[]; oneOf?: JsonSchema[]; allOf?: JsonSchema[] };
let jsonSchema: JsonSchema | undefined;

/** The keys the schema allows at a path (every branch of a union the path can go through). */
function allowedKeys(at: PropertyKey[], data: unknown): string[] {
  jsonSchema ??= z.toJSONSchema(environmentSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const branches = (s: JsonSchema): JsonSchema[] => [s, ...[...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])].flatMap(branches)];
  let nodes = branches(jsonSchema);
  let value = data;
  for (const part of at) {
    value = (value as Record<PropertyKey, unknown> | undefined)?.[part];
    nodes = nodes.flatMap((n) => {
      const next = typeof part === "number" ? n.items : (n.properties?.[String(part)] ?? (typeof n.additionalProperties === "object" ? n.additionalProperties : undefined));
      return next ? branches(next) : [];
    });
  }
  // a union told apart by kind: or engine: (services, databases): only the branch the value names
  const own = nodes.filter((n) => ["kind", "engine"].some((d) => (n.properties?.[d] as { const?: unknown } | undefined)?.const === (value as Record<string, unknown> | undefined)?.[d] && (value as Record<string, unknown>)?.[d] !== undefined));
  return [...new Set((own.length ? own : nodes).flatMap((n) => Object.keys(n.properties ?? {})))].sort();
}

/** The allowed key closest to a typo (edit distance at most 2, or a third of its length). */
export function nearest(key: string, allowed: string[]): string | undefined {
  const distance = (a: string, b: string) => {
    let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      const row = [i];
      for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row;
    }
    return prev[b.length]!;
  };
  const scored = allowed.map((k) => ({ k, d: distance(key.toLowerCase(), k.toLowerCase()) })).sort((a, b) => a.d - b.d);
  const best = scored[0];
  return best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? best.k : undefined;
}

/** One entry per problem; an unknown-keys issue becomes one entry per key, located at that key. */
function flattenIssues(issues: z.core.$ZodIssue[], data: unknown): { path: PropertyKey[]; message: string; key?: string }[] {
  const out: { path: PropertyKey[]; message: string; key?: string }[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const allowed = allowedKeys(issue.path, data);
      for (const key of issue.keys) {
        const near = nearest(key, allowed);
        out.push({ path: issue.path, key, message: `unknown key ${shown(key)}${near ? `: did you mean '${near}'?` : ""} (allowed here: ${allowed.join(", ") || "see environments/schema.json"})` });
      }
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
      out.push(...flattenIssues(best, data));
    } else if (issue.code === "invalid_type" && issue.expected === "object" && SHAPES[String(issue.path.at(-1))]) {
      out.push({ path: issue.path, message: `expected a mapping, e.g. ${String(issue.path.at(-1))}: ${SHAPES[String(issue.path.at(-1))]}` });
    } else if (issue.code === "invalid_type" && issue.expected === "array" && SHAPES[String(issue.path.at(-1))]) {
      out.push({ path: issue.path, message: `expected a list, e.g. ${String(issue.path.at(-1))}: ${SHAPES[String(issue.path.at(-1))]}` });
    } else {
      out.push({ path: issue.path, message: issue.message });
    }
  }
  return out;
}

/** What a mapping or list of the file looks like, for "expected a mapping" messages. */
const SHAPES: Record<string, string> = {
  restart: "{ policy: always, delay: 5s }",
  logrotate: "{ paths: [/var/log/app/*.log], keep: 7 }",
  timer: "{ on-calendar: '*:0/5' }",
  limits: "{ memory: 512M }",
  "replaces-cron": "{ user: deployer, match: collector.py }",
  policy: "{ keep-releases: 5, auto-rollback: true }",
  rollout: "{ mode: batches, batch-size: 2 }",
  lock: "{ wait: 2m }",
  ssh: "{ key-secret: DEPLOY_SSH_KEY }",
  on: "{ host: db-1 }",
  migrations: "{ dir: migrations }",
  backup: "{ to: host, keep: 7 }",
  commands: "{ docker: /usr/local/bin/docker }",
  env: "{ LOG_LEVEL: info }",
  "secret-env": "{ DB_PASSWORD: APP_DB_PASSWORD }",
  programs: "{ web: { command: venv/bin/gunicorn app:app } }",
  hosts: "[web-1, web-2] (a service) or { web-1: { address: 10.0.0.5, host-key: 'SHA256:…' } } (the file's hosts)",
  files: "[docker-compose.yml]",
  checks: "[{ http: 'http://127.0.0.1:8000/health', from: web-1 }]",
  memory: "{ unit: app.service, max: 512M }",
};
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
 * What the file names in the repository. Migrations are source files: a missing directory, an
 * unnumbered or a duplicate version is an error. A release (and the compose or unit file in it)
 * may be built later in the workflow, so its absence is a warning; when the compose files are
 * there, a database-service that is not one of their services is an error.
 */
function repositoryIssues(data: unknown, root: string): Issue[] {
  const out: Issue[] = [];
  for (const [name, db] of Object.entries(obj(obj(data).databases))) {
    const m = obj(obj(db).migrations);
    if (typeof m.dir !== "string") continue;
    const at = ["databases", name, "migrations", "dir"];
    const dir = path.join(root, m.dir);
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      out.push({ path: at, message: `${m.dir} is not a directory of the repository: ${m.engine === "alembic" ? "name the directory that holds alembic.ini" : "create it (numbered files like 001_create_table.sql)"} or fix the path` });
    else if (m.engine === "alembic") {
      if (!existsSync(path.join(dir, "alembic.ini"))) out.push({ path: at, message: `${m.dir} has no alembic.ini: name the directory that holds it` });
    } else
      try {
        readMigrations(dir);
      } catch (e) {
        out.push({ path: at, message: (e as Error).message.replace(dir, m.dir) });
      }
  }
  for (const [name, svc] of Object.entries(obj(obj(data).services))) {
    const s = obj(svc);
    if (typeof s.release !== "string") continue;
    const release = path.join(root, s.release);
    if (!existsSync(release)) {
      out.push({ path: ["services", name, "release"], warning: true, message: `${s.release} is not in the repository now: build it in the workflow before the deploy step runs, or fix the path` });
      continue;
    }
    if (!statSync(release).isDirectory()) continue; // a .tar.gz: its files are checked at deploy
    const inRelease = (f: unknown) => typeof f === "string" && existsSync(path.join(release, f));
    if (typeof s["unit-file"] === "string" && !inRelease(s["unit-file"]))
      out.push({ path: ["services", name, "unit-file"], warning: true, message: `${s["unit-file"]} is not in ${s.release}: the deploy would fail; add it or fix the path` });
    if (s.kind !== "compose" || !Array.isArray(s.files)) continue;
    const files = s.files.map(String);
    const missing = files.filter((f) => !inRelease(f));
    missing.forEach((f) => out.push({ path: ["services", name, "files", files.indexOf(f)], warning: true, message: `${f} is not in ${s.release}: the deploy would fail; add it or fix the path` }));
    const db = s["database-service"];
    if (typeof db !== "string" || missing.length) continue;
    const names = new Set<string>();
    for (const f of files) {
      const doc = parseDocument(readFileSync(path.join(release, f), "utf8")).toJS() as { services?: Record<string, unknown> } | null;
      for (const k of Object.keys(obj(doc?.services))) names.add(k);
    }
    if (!names.has(db)) out.push({ path: ["services", name, "database-service"], message: `'${db}' is not a service of ${files.join(", ")} (services: ${[...names].join(", ") || "none"}): name the stack's database service` });
  }
  return out;
}

/** A mapping of the parsed file, or {} for anything else (the schema reports that separately). */
const obj = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** References between sections: every host, database and service named must exist. */
function crossReferenceIssues(data: unknown): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
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
  const deployTo = new Map<string, string>(); // "<host> <deploy-to>" -> the service that has it
  for (const [s, service] of Object.entries(services)) {
    const list = obj(service).hosts;
    if (Array.isArray(list)) list.forEach((h, i) => needHost(h, ["services", s, "hosts", i]));
    const dir = obj(service)["deploy-to"];
    if (typeof dir !== "string" || !Array.isArray(list)) continue;
    for (const h of list) {
      const place = `${h} ${dir.replace(/\/+$/, "")}`;
      const other = deployTo.get(place);
      if (other && other !== s) {
        out.push({ path: ["services", s, "deploy-to"], message: `service ${shown(other)} deploys to ${dir} on ${h} too: two services in one directory share releases, current and the lock, and each deploy would prune the other's releases; give each its own deploy-to` });
        break;
      }
      deployTo.set(place, s);
    }
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
