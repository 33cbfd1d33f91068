// Loading a workflow file the way GitHub does: GitHub's parser validates it against the workflow
// schema and converts it (events, jobs, needs, `if:` with its implicit success()); the parsed token
// tree keeps what the converted model leaves out (defaults, permissions, timeout-minutes, `with:`,
// shell, working-directory), read through raw() by the key GitHub's schema validated.
import { convertWorkflowTemplate, isMapping, NoOperationTraceWriter, parseWorkflow, type WorkflowTemplate } from "@actions/workflow-parser";
import type { TemplateToken } from "@actions/workflow-parser/templates/tokens/template-token";
import type { MappingToken } from "@actions/workflow-parser/templates/tokens/mapping-token";
import type { FileProvider } from "@actions/workflow-parser/workflows/file-provider";

export interface LoadedWorkflow {
  /** the file's name as given (for messages) */
  file: string;
  template: WorkflowTemplate;
  root: MappingToken;
}

export class WorkflowError extends Error {}

/** The value of `key` in a mapping token, if present. */
export function raw(map: TemplateToken | undefined, key: string): TemplateToken | undefined {
  if (!map || !isMapping(map)) return undefined;
  for (const pair of map) if (pair.key.toString() === key) return pair.value;
  return undefined;
}

/** `file:line:col` of a token, for messages. */
export function where(file: string, token: TemplateToken | undefined): string {
  return token?.range ? `${file}:${token.range.start.line}:${token.range.start.column}` : file;
}

/**
 * Parses and validates `content` as GitHub would. `provider` resolves `uses:` references of
 * reusable workflows so that their inputs and secrets are checked against the caller's `with:`.
 */
export async function loadWorkflow(file: string, content: string, provider?: FileProvider): Promise<LoadedWorkflow> {
  const parsed = parseWorkflow({ name: file, content }, new NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors();
  if (errors.length || !parsed.value) throw new WorkflowError(`${file} is not a valid workflow:\n${errors.map((e) => `  ${e.message}`).join("\n")}`);
  const template = await convertWorkflowTemplate(parsed.context, parsed.value, provider, { fetchReusableWorkflowDepth: provider ? 1 : 0 });
  if (template.errors?.length) throw new WorkflowError(`${file} is not a valid workflow:\n${template.errors.map((e) => `  ${e.Message}`).join("\n")}`);
  if (!isMapping(parsed.value)) throw new WorkflowError(`${file}: a workflow is a mapping`);
  return { file, template, root: parsed.value };
}
