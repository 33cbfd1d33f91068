// Runs an action's committed bundle exactly as GitHub's runner does: `node dist/index.js` with
// INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, under a chosen Node binary.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ensureNode24 } from "../../scripts/node24.mjs";

export const ROOT = path.resolve(import.meta.dirname, "../..");

export interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  outputsRaw: string;
  summary: string;
}

/** node binaries the bundles must run on: the runner ships Node 20 and Node 24 */
export function runnerNodes(): { label: string; bin: string }[] {
  return [
    { label: "node24", bin: ensureNode24() },
    { label: `node${process.versions.node.split(".")[0]}`, bin: process.execPath },
  ];
}

function prepare(action: string, inputs: Record<string, string>, opts: { node?: string; cwd?: string; env?: Record<string, string> }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-runner-"));
  const outputFile = path.join(dir, "output");
  const summaryFile = path.join(dir, "summary");
  writeFileSync(outputFile, "");
  writeFileSync(summaryFile, "");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_ACTIONS: "true",
    RUNNER_TEMP: dir,
    ...opts.env,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase().replace(/ /g, "_")}`] = v;
  // the runner sets every declared input, using its default when the workflow gives none
  const argv: [string, string[], { cwd: string; env: Record<string, string> }] = [opts.node ?? ensureNode24(), [path.join(ROOT, "actions", action, "dist", "index.js")], { cwd: opts.cwd ?? ROOT, env }];
  const result = (code: number | null, stdout: string, stderr: string): ActionRun => {
    const outputsRaw = readFileSync(outputFile, "utf8");
    return { code, stdout, stderr, outputs: parseOutputs(outputsRaw), outputsRaw, summary: readFileSync(summaryFile, "utf8") };
  };
  return { argv, result };
}

export function runAction(action: string, inputs: Record<string, string>, opts: { node?: string; cwd?: string; env?: Record<string, string> } = {}): ActionRun {
  const { argv, result } = prepare(action, inputs, opts);
  const res = spawnSync(argv[0], argv[1], { ...argv[2], encoding: "utf8", timeout: 120_000 });
  return result(res.status, res.stdout, res.stderr);
}

/** The same, without blocking the test process (for probes that run while the action does). */
export function runActionAsync(action: string, inputs: Record<string, string>, opts: { node?: string; cwd?: string; env?: Record<string, string> } = {}): Promise<ActionRun> {
  const { argv, result } = prepare(action, inputs, opts);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv[1], { ...argv[2], timeout: 120_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve(result(code, stdout, stderr)));
  });
}

/** The GITHUB_OUTPUT file format: name<<DELIMITER\nvalue\nDELIMITER */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    out[m[1]!] = value.join("\n");
  }
  return out;
}
