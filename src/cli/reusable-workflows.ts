// The interfaces (on.workflow_call inputs and secrets, and whether the jobs read the caller's
// secrets) of slipway's reusable workflows, for `slipway lint-workflows` in a repository that has
// none of slipway's files. Kept by hand from this repository's .github/workflows/*.yml:
// test/unit/lint-workflows.test.ts fails, printing the table to paste here, when it differs from
// what workflowCallOf reads from those files.
import { parse } from "yaml";

export interface WorkflowCall {
  /** input name -> whether a caller must give it (required and without a default) */
  inputs: Record<string, boolean>;
  /** secret name -> whether a caller must pass it */
  secrets: Record<string, boolean>;
  /**
   * whether its jobs read the secrets context (slipway's steps: SLIPWAY_SECRETS: toJSON(secrets)), so
   * that a caller must pass the environment's secrets; plan.yml reads none (a pull request's workflow)
   */
  readsSecrets: boolean;
}

export const reusableWorkflows: Record<string, WorkflowCall> = {
  "backup.yml": { inputs: { environment: true, database: false, hosts: false, "secrets-environment": false, "retention-days": false, "runs-on": false }, secrets: {}, readsSecrets: true },
  "deploy-environment.yml": {
    inputs: { environment: true, production: false, "release-artifact": false, "release-path": false, build: false, "node-version": false, migrate: false, "auto-rollback": false, "runs-on": false },
    secrets: {},
    readsSecrets: true,
  },
  "drift.yml": { inputs: { environment: true, sha: false, "secrets-environment": false, "runs-on": false }, secrets: {}, readsSecrets: true },
  "plan.yml": { inputs: { environments: false, "runs-on": false }, secrets: {}, readsSecrets: false },
  "rollback.yml": { inputs: { environment: true, release: false, service: false, "restore-db": false, "backup-id": false, "allow-contract": false, reason: false, production: false, "runs-on": false }, secrets: {}, readsSecrets: true },
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
  const readsSecrets = readsSecretsContext((doc as { jobs?: unknown } | null)?.jobs);
  const triggers = typeof on === "string" ? [on] : Array.isArray(on) ? on : undefined;
  if (triggers) return triggers.includes("workflow_call") ? { inputs: {}, secrets: {}, readsSecrets } : undefined;
  if (!on || typeof on !== "object" || !("workflow_call" in on)) return undefined;
  const call = ((on as Record<string, unknown>).workflow_call ?? {}) as { inputs?: Record<string, { required?: boolean; default?: unknown } | null>; secrets?: Record<string, { required?: boolean } | null> };
  const required = (spec: { required?: boolean; default?: unknown } | null | undefined) => spec?.required === true && spec.default === undefined;
  return {
    inputs: Object.fromEntries(Object.entries(call.inputs ?? {}).map(([k, v]) => [k, required(v)])),
    secrets: Object.fromEntries(Object.entries(call.secrets ?? {}).map(([k, v]) => [k, v?.required === true])),
    readsSecrets,
  };
}

/** whether any string in a value is an expression reading the secrets context (secrets.X, toJSON(secrets)…) */
function readsSecretsContext(v: unknown): boolean {
  if (typeof v === "string") return /\$\{\{[^}]*(?<![\w.-])secrets(?![\w-])/.test(v); // not inputs.secrets-environment
  return !!v && typeof v === "object" && Object.values(v).some(readsSecretsContext);
}
