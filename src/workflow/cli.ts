// npm run workflow -- <workflow file> --event <name> [--input k=v]... [--secrets FILE] [--vars FILE]
//   [--approve ENV]... [--reject ENV]... [--repo DIR] [--sha SHA] [--ref REF] [--node BIN] [--work-dir DIR]
// Runs a workflow of a repository (default: this one) with the local runner and prints a
// jobs × steps table; each job's summary is written to a file it names. Exit 1 when the run fails.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { parse } from "yaml";
import { SLIPWAY_OWNER } from "../config/json-schema.js";
import { runWorkflow } from "./run.js";
import type { JobResult } from "./types.js";

const collect = (v: string, acc: string[]) => [...acc, v];

/** A secrets or vars file: YAML or JSON mapping of NAME: value (keep secrets files 0600). */
function readValues(file: string | undefined, what: string): Record<string, string> {
  if (!file) return {};
  // the failsafe schema keeps every value as written, as GitHub stores it: `PIN: 0042` is "0042" (not
  // the number 42), `KEY:` is "" (not "null", which would then be masked everywhere)
  const data = parse(readFileSync(file, "utf8"), { schema: "failsafe" }) as unknown;
  if (!data || typeof data !== "object" || Array.isArray(data)) throw new Error(`${file}: the ${what} file is a mapping of NAME: value`);
  for (const [k, v] of Object.entries(data)) if (typeof v !== "string") throw new Error(`${file}: ${k} is not a plain value (the ${what} file is a mapping of NAME: value)`);
  return data as Record<string, string>;
}

const flat = (jobs: JobResult[]): JobResult[] => jobs.flatMap((j) => [j, ...flat(j.jobs ?? [])]);

const ICON: Record<string, string> = { success: "✓", failure: "✗", skipped: "-", cancelled: "⊘" };

export function table(jobs: JobResult[]): string {
  const rows: string[] = [];
  for (const j of jobs) {
    const env = j.environment ? ` [environment ${j.environment.name}: ${j.approval}]` : "";
    rows.push(`${ICON[j.result]} ${j.id}  ${j.result}  ${(j.durationMs / 1000).toFixed(1)} s${env}${j.reason ? `  — ${j.reason}` : ""}`);
    for (const s of j.steps) rows.push(`    ${ICON[s.conclusion]} ${s.name.slice(0, 70).padEnd(70)} ${s.outcome.padEnd(9)} ${(s.durationMs / 1000).toFixed(1)} s${s.errors[0] ? `  ${s.errors[0].split("\n")[0]}` : ""}`);
    if (j.jobs) rows.push(...table(j.jobs).split("\n").map((l) => `  ${l}`));
  }
  return rows.join("\n");
}

const summaries = (jobs: JobResult[]): string[] => jobs.flatMap((j) => [...(j.summaryFile && j.summary ? [`${j.id}: ${j.summaryFile}`] : []), ...summaries(j.jobs ?? [])]);

const program = new Command("workflow")
  .argument("<workflow>", "workflow file, relative to the repository (e.g. .github/workflows/deploy.yml)")
  .requiredOption("--event <name>", "push, pull_request, workflow_dispatch or schedule")
  .option("--input <k=v>", "a workflow_dispatch input (repeatable)", collect, [])
  .option("--secrets <file>", "YAML mapping of secret names to values")
  .option("--vars <file>", "YAML mapping of configuration variables")
  .option("--approve <env>", "approve this environment's deployments (repeatable); other environments are never approved", collect, [])
  .option("--reject <env>", "reject this environment's deployments (repeatable)", collect, [])
  .option("--repo <dir>", "the repository (a git checkout)", process.cwd())
  .option("--sha <sha>", "commit to run (default HEAD)")
  .option("--ref <ref>", "git ref of the event", "refs/heads/main")
  .option("--node <bin>", "node binary for node actions and setup-node", process.execPath)
  .option("--work-dir <dir>", "where workspaces, summaries and artifacts go (default: a new temp dir)")
  .option("--action-repo <owner/name=dir>", "resolve `uses: owner/name/…@ref` to this local git clone at that ref (repeatable; default: OWNER/slipway=this checkout)", collect, [])
  .action(async (workflow: string, o: Record<string, any>) => {
    if ((o.input as string[]).length && o.event !== "workflow_dispatch") throw new Error(`--input is for --event workflow_dispatch only (a ${o.event} event has no inputs)`);
    const both = (o.approve as string[]).filter((e) => (o.reject as string[]).includes(e));
    if (both.length) throw new Error(`--approve and --reject both name ${both.join(", ")}`);
    const inputs = Object.fromEntries((o.input as string[]).map((kv) => {
      const i = kv.indexOf("=");
      if (i < 1) throw new Error(`--input ${kv}: expected name=value`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }));
    const repo = path.resolve(o.repo);
    // a user's callers name slipway by its versioned reference: this checkout (its tags) answers for it
    const actionRepos: Record<string, string> = { [`${SLIPWAY_OWNER}/slipway`]: path.resolve(import.meta.dirname, "../..") };
    for (const kv of o.actionRepo as string[]) {
      const m = /^([^/=\s]+\/[^/=\s]+)=(.+)$/.exec(kv);
      if (!m) throw new Error(`--action-repo ${kv}: expected owner/name=dir`);
      actionRepos[m[1]!] = path.resolve(m[2]!);
    }
    const result = await runWorkflow({
      repo,
      workflow,
      event: o.event,
      inputs,
      secrets: readValues(o.secrets, "secrets"),
      vars: readValues(o.vars, "vars"),
      sha: o.sha,
      ref: o.ref,
      node: o.node,
      workDir: o.workDir,
      actionRepos,
      approve: (env) => ((o.approve as string[]).includes(env.name) ? "approve" : (o.reject as string[]).includes(env.name) ? "reject" : "pending"),
      log: (l) => console.log(l),
    });
    console.log(`\n${workflow} (${o.event}): ${result.conclusion}\n${table(result.jobs)}`);
    const files = summaries(result.jobs);
    if (files.length) console.log(`\njob summaries:\n${files.map((f) => `  ${f}`).join("\n")}`);
    const pending = [...new Set(flat(result.jobs).filter((j) => j.approval === "pending").map((j) => j.environment!.name))];
    if (pending.length) console.log(`\nnever approved: ${pending.join(", ")} (the command approves an environment only when --approve names it)`);
    process.exitCode = result.conclusion === "failure" || result.conclusion === "cancelled" ? 1 : 0;
  });

program.parseAsync().catch((e: Error) => {
  console.error(`workflow: ${e.message}`);
  process.exit(1);
});
