// What every action does around its operation: read the common inputs, load and validate the
// environment (each problem an annotation at file:line), mask secrets, pick the hosts, and turn
// any failure into a clear, failed step. An action never reports success it did not earn.
import * as core from "./workflow-commands.js";
import { ConfigError, loadEnvironment, type LoadedEnvironment } from "../config/load.js";
import { Secrets } from "../config/secrets.js";
import { RemotePool, remoteTarget } from "../remote/pool.js";
import { createLog, type Log } from "../report/log.js";
import { actionSpecs, inputsOf, type ActionName, type ActionSpec } from "./specs.js";

export interface ActionContext {
  spec: ActionSpec;
  loaded: LoadedEnvironment;
  hosts: string[];
  dryRun: boolean;
  secrets: Secrets;
  log: Log;
  /** connections to the selected hosts, opened on first use and closed when the action ends */
  pool: RemotePool;
  input(name: string): string;
  /** outputs and the job summary (GitHub's in an action, the terminal in the CLI) */
  out: Outputs;
}

export interface Outputs {
  set(name: string, value: string): void;
  summary(markdown: string): Promise<void>;
}

export interface ContextOptions {
  environment: LoadedEnvironment;
  hosts: string[];
  dryRun: boolean;
  input(name: string): string;
  secrets: Secrets;
  log: Log;
  out: Outputs;
}

/** Select the hosts, check every host's credentials, open the pool, run the body, close the pool. */
export async function runWithContext(name: ActionName, o: ContextOptions, body: ActionBody): Promise<void> {
  const spec = actionSpecs[name];
  const loaded = o.environment;
  const hosts = selectHosts(spec, loaded, o.hosts);
  o.log.info(`${spec.name}: environment ${loaded.name} (${loaded.file}), hosts: ${hosts.join(", ") || "none"}${o.dryRun ? ", dry run" : ""}`);
  // resolve every host's credentials now: a missing key secret fails before anything runs,
  // and the key is masked before any output could carry it
  for (const h of hosts) remoteTarget(loaded.env, h, o.secrets);
  const pool = RemotePool.forEnvironment(loaded.env, o.secrets, o.log);
  // summaries and outputs are redacted by the same function as the log, whatever the body wrote
  const out: Outputs = { set: (k, v) => o.out.set(k, o.secrets.redact(v)), summary: (md) => o.out.summary(o.secrets.redact(md)) };
  // an input the action does not declare has no default and no documentation: reading one is a bug
  const declared = inputsOf(spec);
  const input = (n: string) => {
    if (!(n in declared)) throw new Error(`${spec.name} reads input '${n}', which its action.yml does not declare (a slipway bug: declare it in src/actions/specs.ts)`);
    return o.input(n);
  };
  try {
    await body({ spec, loaded, hosts, dryRun: o.dryRun, secrets: o.secrets, log: o.log, pool, input, out });
  } finally {
    await pool.closeAll();
  }
}

export type ActionBody = (ctx: ActionContext) => Promise<void>;

export function actionLog(secrets: Secrets): Log {
  return createLog(
    {
      write: (level, m) => (level === "info" ? core.info(m) : level === "warn" ? core.warning(m) : core.error(m)),
      startGroup: (t) => core.startGroup(t),
      endGroup: () => core.endGroup(),
      annotate: (level, m, w) => (level === "warn" ? core.warning : core.error)(m, { file: w.file, startLine: w.line, startColumn: w.col }),
    },
    secrets,
  );
}

/** Split a list input: commas, spaces or newlines. */
export function listInput(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function selectHosts(spec: ActionSpec, loaded: LoadedEnvironment, filter: string[]): string[] {
  const concerned = spec.hostsOf(loaded.env);
  if (filter.length === 0) return concerned;
  const unknown = filter.filter((h) => !(h in loaded.env.hosts));
  if (unknown.length) throw new Error(`hosts input names unknown host(s) ${unknown.join(", ")}; ${loaded.file} defines: ${Object.keys(loaded.env.hosts).join(", ")}`);
  const unrelated = filter.filter((h) => !concerned.includes(h));
  if (unrelated.length) throw new Error(`${spec.name} has nothing to do on host(s) ${unrelated.join(", ")}; it concerns: ${concerned.join(", ") || "no host"}`);
  return filter;
}

export async function runAction(name: ActionName, body: ActionBody): Promise<void> {
  const spec = actionSpecs[name];
  const secrets = new Secrets();
  secrets.onMask((v) => core.setSecret(v));
  const log = actionLog(secrets);
  try {
    const ref = core.getInput("environment", { required: true });
    const dryRun = spec.without?.includes("dry-run") ? false : core.getBooleanInput("dry-run");
    let loaded: LoadedEnvironment;
    try {
      loaded = loadEnvironment(ref);
    } catch (e) {
      if (e instanceof ConfigError) {
        for (const p of e.problems) core.error(p.message, { title: "invalid environment file", file: p.file, startLine: p.line, startColumn: p.col });
        throw new Error(`${e.file} has ${e.problems.length} problem(s); each is annotated at its line above`);
      }
      throw e;
    }
    for (const w of loaded.warnings ?? []) core.warning(w.message, { title: "environment file", file: w.file, startLine: w.line, startColumn: w.col });
    const out: Outputs = { set: (k, v) => core.setOutput(k, v), summary: async (md) => core.appendSummary(md) };
    await runWithContext(name, { environment: loaded, hosts: listInput(core.getInput("hosts")), dryRun, input: (n) => core.getInput(n), secrets, log, out }, body);
  } catch (e) {
    core.setFailed(secrets.redact(`${spec.name}: ${(e as Error).message}`));
  }
}
