import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { lintActionYml, lintWorkflows } from "../../scripts/lint-workflows.js";
import { actionNames, actionSpecs, inputsOf } from "../../src/actions/specs.js";

describe("action.yml files", () => {
  it.each(actionNames)("%s is valid for GitHub's parser, runs on node24 and documents every input and output", (name) => {
    const file = `actions/${name}/action.yml`;
    expect(lintActionYml(file)).toEqual([]);
    const doc = parse(readFileSync(file, "utf8"));
    expect(doc.runs).toEqual({ using: "node24", main: "dist/index.js" });
    expect(Object.keys(doc.inputs)).toEqual(Object.keys(inputsOf(actionSpecs[name])));
    for (const [k, v] of Object.entries<{ description: string }>(doc.inputs)) expect(v.description.length, k).toBeGreaterThan(20);
    expect(Object.keys(doc.outputs ?? {})).toEqual(Object.keys(actionSpecs[name].outputs));
    for (const v of Object.values<{ description: string }>(doc.outputs)) expect(v.description.length).toBeGreaterThan(10);
    expect(doc.inputs.environment.required).toBe(true);
  });

  it("the validator catches a wrong runtime", () => {
    expect(lintActionYml("x/action.yml", "name: x\ndescription: y\nruns:\n  using: node99\n  main: dist/index.js\n")).toEqual([
      "x/action.yml: x/action.yml (Line: 4, Col: 10): Unexpected value 'node99'",
    ]);
  });
});

describe("workflows", () => {
  it("lint clean with actionlint", async () => {
    expect(await lintWorkflows()).toEqual([]);
  });
});
