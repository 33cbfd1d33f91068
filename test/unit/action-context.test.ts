// What every action body gets (src/actions/run-action.ts runWithContext): inputs only by the names
// its action.yml declares (src/actions/specs.ts) — an undeclared one is a bug that would read "".
import { describe, expect, it } from "vitest";
import { loadEnvironment } from "../../src/config/load.js";
import { Secrets } from "../../src/config/secrets.js";
import { createLog } from "../../src/report/log.js";
import { runWithContext } from "../../src/actions/run-action.js";

const context = () => ({
  environment: loadEnvironment("environments/example.yml"),
  hosts: [],
  dryRun: true,
  secrets: new Secrets(),
  log: createLog({ write: () => undefined, startGroup: () => undefined, endGroup: () => undefined, annotate: () => undefined }),
  input: (n: string) => `value of ${n}`,
  out: { set: () => undefined, summary: async () => undefined },
});

describe("ctx.input", () => {
  it("reads a declared input (the action's own and the common ones)", async () => {
    const got: string[] = [];
    await runWithContext("plan", context(), async (ctx) => void got.push(ctx.input("comment"), ctx.input("environment")));
    expect(got).toEqual(["value of comment", "value of environment"]);
  });

  it("refuses one the action does not declare, naming the action and the input", async () => {
    await expect(runWithContext("plan", context(), async (ctx) => void ctx.input("dry-run"))).rejects.toThrow(
      "plan reads input 'dry-run', which its action.yml does not declare (a slipway bug: declare it in src/actions/specs.ts)",
    );
    // another action's input is no input of this one
    await expect(runWithContext("plan", context(), async (ctx) => void ctx.input("allow-contract"))).rejects.toThrow(/^plan reads input 'allow-contract'/);
  });
});
