// Every `${{ }}` is evaluated by GitHub's own evaluator (@actions/expressions) on the template tokens
// GitHub's parser (@actions/workflow-parser) produced: no regex ever looks inside an expression.
// The status functions are the runner's part of the language (docs: "Expressions › Status check
// functions"), given to the evaluator as extension functions.
import { data, Evaluator, Lexer, Parser } from "@actions/expressions";
import type { FunctionDefinition } from "@actions/expressions/funcs/info";
import { isBasicExpression, isBoolean, isMapping, isNumber, isSequence, isString} from "@actions/workflow-parser";
import type { TemplateToken } from "@actions/workflow-parser/templates/tokens/template-token";

/** Plain JavaScript values for the contexts (github, env, steps, …). */
export type Contexts = Record<string, unknown>;

/** What success(), failure(), cancelled() answer where the expression is evaluated (always() is always true). */
export interface Status {
  success: boolean;
  failure: boolean;
  cancelled: boolean;
}

const CONTEXT_NAMES = ["github", "env", "vars", "secrets", "inputs", "needs", "steps", "job", "jobs", "runner", "matrix", "strategy"];

export function toData(value: unknown): data.ExpressionData {
  return JSON.parse(JSON.stringify(value ?? null), data.reviver) as data.ExpressionData;
}

function functions(status: Status | undefined): Map<string, FunctionDefinition> {
  const fn = (name: string, answer: () => boolean): FunctionDefinition => ({ name, minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(answer()) });
  const s = status ?? { success: true, failure: false, cancelled: false };
  return new Map([
    ["success", fn("success", () => s.success)],
    ["failure", fn("failure", () => s.failure)],
    ["always", fn("always", () => true)],
    ["cancelled", fn("cancelled", () => s.cancelled)],
  ]);
}

export class ExpressionFailure extends Error {}

/** Evaluates one expression (the text between `${{` and `}}`). */
export function evaluateExpression(expression: string, contexts: Contexts, status?: Status): data.ExpressionData {
  const fns = functions(status);
  try {
    const tokens = new Lexer(expression).lex().tokens;
    const names = [...new Set([...CONTEXT_NAMES, ...Object.keys(contexts)])];
    const tree = new Parser(tokens, names, [...fns.values()].map(({ name, minArgs, maxArgs }) => ({ name, minArgs, maxArgs }))).parse();
    const ctx = new data.Dictionary(...Object.entries(contexts).map(([key, value]) => ({ key, value: toData(value) })));
    return new Evaluator(tree, ctx, fns).evaluate();
  } catch (e) {
    throw new ExpressionFailure(`\${{ ${expression} }}: ${(e as Error).message}`);
  }
}

/** A template token evaluated to expression data (mappings and sequences evaluated throughout). */
export function evaluateToken(token: TemplateToken, contexts: Contexts, status?: Status): data.ExpressionData {
  if (isBasicExpression(token)) return evaluateExpression(token.expression, contexts, status);
  if (isString(token)) return new data.StringData(token.value);
  if (isBoolean(token)) return new data.BooleanData(token.value);
  if (isNumber(token)) return new data.NumberData(token.value);
  if (isSequence(token)) {
    const arr = new data.Array();
    for (let i = 0; i < token.count; i++) arr.add(evaluateToken(token.get(i), contexts, status));
    return arr;
  }
  if (isMapping(token)) {
    const dict = new data.Dictionary();
    for (const pair of token) dict.add(toText(evaluateToken(pair.key, contexts, status)), evaluateToken(pair.value, contexts, status));
    return dict;
  }
  return new data.Null();
}

/** Expression data as plain JavaScript (for matrices, inputs, outputs as JSON). */
export function toPlain(d: data.ExpressionData): unknown {
  return JSON.parse(JSON.stringify(d, data.replacer));
}

/** Expression data as the string a runner puts into env, `with:` and outputs (null -> ""). */
export function toText(d: data.ExpressionData): string {
  switch (d.kind) {
    case data.Kind.Null:
      return "";
    case data.Kind.String:
    case data.Kind.Boolean:
    case data.Kind.Number:
      return d.coerceString();
    default:
      return JSON.stringify(d, data.replacer, 2);
  }
}

export function truthy(d: data.ExpressionData): boolean {
  switch (d.kind) {
    case data.Kind.Null:
      return false;
    case data.Kind.Boolean:
      return (d as data.BooleanData).value;
    case data.Kind.Number:
      return d.number() !== 0 && !Number.isNaN(d.number());
    case data.Kind.String:
      return (d as data.StringData).value !== "";
    default:
      return true;
  }
}

export const evalText = (token: TemplateToken | undefined, contexts: Contexts, status?: Status): string => (token ? toText(evaluateToken(token, contexts, status)) : "");

/** A mapping token (env:, with:, outputs:) evaluated to strings. */
export function evalMapping(token: TemplateToken | undefined, contexts: Contexts, status?: Status): Record<string, string> {
  if (!token) return {};
  const d = evaluateToken(token, contexts, status);
  if (d.kind !== data.Kind.Dictionary) throw new ExpressionFailure(`expected a mapping, got ${toText(d)}`);
  return Object.fromEntries((d as data.Dictionary).pairs().map((p) => [p.key, toText(p.value)]));
}
