// The actions' side of the runner protocol (src/actions/workflow-commands.ts) read back by the local
// runner's parser (src/workflow/commands.ts): hostile messages, properties and output values come
// back exactly; inputs and booleans as the toolkit reads them.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as wc from "../../src/actions/workflow-commands.js";
import { parseCommand, parseKeyValueFile } from "../../src/workflow/commands.js";
import { hostileStrings } from "../harness/hostile.js";

const printed = () => {
  const lines: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((s) => (lines.push(String(s)), true));
  return lines;
};
afterEach(() => vi.restoreAllMocks());

describe("workflow commands", () => {
  it("annotations: properties and message escaped as the toolkit does, read back unchanged", () => {
    const lines = printed();
    wc.warning("50% done\r\nnext: x", { title: "a, b: c", file: "env/prod.yml", startLine: 3, startColumn: 14 });
    wc.error("plain");
    wc.startGroup("deploy a:b");
    wc.endGroup();
    expect(lines).toEqual([
      "::warning title=a%2C b%3A c,file=env/prod.yml,line=3,col=14::50%25 done%0D%0Anext: x\n",
      "::error::plain\n",
      "::group::deploy a:b\n",
      "::endgroup::\n",
    ]);
    expect(parseCommand(lines[0]!.trimEnd())).toEqual({ name: "warning", properties: { title: "a, b: c", file: "env/prod.yml", line: "3", col: "14" }, message: "50% done\r\nnext: x" });
  });

  it("hostile values through setSecret, annotations and GITHUB_OUTPUT come back exactly", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "wc-"));
    const out = path.join(dir, "out");
    writeFileSync(out, "");
    vi.stubEnv("GITHUB_OUTPUT", out);
    const lines = printed();
    const values = hostileStrings(200, 7).filter((v) => v !== "" && !v.includes("\0")); // an empty property is left out, as the toolkit does
    values.forEach((v, i) => {
      wc.setSecret(v);
      wc.error(v, { title: v });
      wc.setOutput(`o${i}`, v);
    });
    vi.unstubAllEnvs();
    const cmds = lines.map((l) => parseCommand(l.replace(/\n$/, ""))!);
    values.forEach((v, i) => {
      expect(cmds[2 * i]).toEqual({ name: "add-mask", properties: {}, message: v });
      expect(cmds[2 * i + 1]).toEqual({ name: "error", properties: { title: v }, message: v });
    });
    const outputs = parseKeyValueFile(readFileSync(out, "utf8"), out);
    // the runner reads the file by lines: a CRLF inside a value comes back as LF (as with @actions/core)
    values.forEach((v, i) => expect(outputs[`o${i}`]).toBe(v.replace(/\r\n/g, "\n")));
  });

  it("inputs: INPUT_<NAME> trimmed, required ones named, booleans of YAML's core schema only", () => {
    vi.stubEnv("INPUT_DRY-RUN", " True ");
    vi.stubEnv("INPUT_LOCK_WAIT", "5m");
    vi.stubEnv("INPUT_BAD", "yes");
    expect(wc.getBooleanInput("dry-run")).toBe(true);
    expect(wc.getInput("lock wait")).toBe("5m");
    expect(() => wc.getInput("environment", { required: true })).toThrow("Input required and not supplied: environment");
    expect(() => wc.getBooleanInput("bad")).toThrow('Input does not meet YAML 1.2 "Core Schema" specification: bad');
    vi.unstubAllEnvs();
  });

  it("the summary is appended; without GITHUB_STEP_SUMMARY it says so", () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "wc-")), "summary");
    writeFileSync(file, "a\n");
    vi.stubEnv("GITHUB_STEP_SUMMARY", file);
    wc.appendSummary("### b\n");
    expect(readFileSync(file, "utf8")).toBe("a\n### b\n");
    vi.stubEnv("GITHUB_STEP_SUMMARY", "");
    expect(() => wc.appendSummary("x")).toThrow(/Unable to find environment variable for \$GITHUB_STEP_SUMMARY/);
    vi.unstubAllEnvs();
  });
});
