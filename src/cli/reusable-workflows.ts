// The interfaces (on.workflow_call inputs and secrets) of slipway's reusable workflows, for
// `slipway lint-workflows` in a repository that has none of slipway's files. Kept by hand from
// this repository's .github/workflows/*.yml: test/unit/lint-workflows.test.ts fails, printing the
// table to paste here, when it differs from what workflowCallOf reads from those files.
import { parse } from "yaml";

export interface WorkflowCall {
  /** input name -> whether a caller must give it (required and without a default) */
  inputs: Record<string, boolean>;
  /** secret name -> whether a caller must pass it */
  secrets: Record<string, boolean>;
}

export const reusableWorkflows: Record<string, WorkflowCall> = {
  "deploy-environment.yml": { inputs: { environment: true, production: false, "release-built": false, "runs-on": false }, secrets: {} },
};

/** A workflow file's on.workflow_call interface; undefined when it is not a reusable workflow. */
export function workflowCallOf(text: string): WorkflowCall | undefined {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return undefined;
  }
  const on = (doc as { on?: unknown } | null)?.on;
  const triggers = typeof on === "string" ? [on] : Array.isArray(on) ? on : undefined;
  if (triggers) return triggers.includes("workflow_call") ? { inputs: {}, secrets: {} } : undefined;
  if (!on || typeof on !== "object" || !("workflow_call" in on)) return undefined;
  const call = ((on as Record<string, unknown>).workflow_call ?? {}) as { inputs?: Record<string, { required?: boolean; default?: unknown } | null>; secrets?: Record<string, { required?: boolean } | null> };
  const required = (spec: { required?: boolean; default?: unknown } | null | undefined) => spec?.required === true && spec.default === undefined;
  return {
    inputs: Object.fromEntries(Object.entries(call.inputs ?? {}).map(([k, v]) => [k, required(v)])),
    secrets: Object.fromEntries(Object.entries(call.secrets ?? {}).map(([k, v]) => [k, v?.required === true])),
  };
}
