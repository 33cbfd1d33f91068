// The ledger module (src/ledger): its append function run by real bash on real files — a fragment a
// crash left never swallows the next line, a failed append (the file size limit standing in for a
// full disk) leaves the file exactly as it was — and its reader: damaged lines skipped and reported
// by line number, versions checked.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { appendLedgerScript, damagedWarnings, LEDGER_VERSION, parseLedger, readLedgerScript } from "../../src/ledger/ledger.js";
import { tempDirs } from "../harness/temp.js";

const tmp = tempDirs();
const bash = (script: string) => spawnSync("bash", ["--norc", "--noprofile", "-euo", "pipefail", "-c", script], { encoding: "utf8" });

describe("appending to the ledger", () => {
  it("starts a line of its own after a fragment (a crash mid-write): the fragment stays one damaged line, the new line is whole", () => {
    const f = path.join(tmp("ledger-"), "ledger.jsonl");
    writeFileSync(f, '{"outcome":"success","release":"r1"}\n{"time":"2026-12-03T10:00:00Z","host"');
    const r = bash(appendLedgerScript(f, { outcome: "success", release: "r2" }).text);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(f, "utf8")).toBe(`{"outcome":"success","release":"r1"}\n{"time":"2026-12-03T10:00:00Z","host"\n{"v":${LEDGER_VERSION},"outcome":"success","release":"r2"}\n`);
    const { entries, damaged } = parseLedger(readFileSync(f, "utf8"));
    expect(entries.map((e) => e.release)).toEqual(["r1", "r2"]);
    expect(damaged).toMatchObject([{ line: 2, text: '{"time":"2026-12-03T10:00:00Z","host"' }]);
  });

  it("a failed append leaves the file as it was, byte for byte, and says why; the next append works", () => {
    const f = path.join(tmp("ledger-"), "ledger.jsonl");
    const before = '{"outcome":"success","release":"r1"}\n';
    writeFileSync(f, before);
    // the shell may write 2 KiB files: a 5 KB line fails part way, as on a full disk
    const failed = bash(`ulimit -f 2\n${appendLedgerScript(f, { outcome: "success", release: "r2", note: "x".repeat(5000) }).text}`);
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toContain(`the ledger line could not be written to ${f}: the write failed (exit status`);
    expect(readFileSync(f, "utf8")).toBe(before);
    expect(bash(appendLedgerScript(f, { outcome: "success", release: "r3" }).text).status).toBe(0);
    expect(parseLedger(readFileSync(f, "utf8")).entries.map((e) => e.release)).toEqual(["r1", "r3"]);
  });

  it("says 'disk full on <mount>' when the file system is full (/dev/full answers ENOSPC)", () => {
    const r = bash(appendLedgerScript("/dev/full", { outcome: "success" }).text);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^the ledger line could not be written to \/dev\/full: disk full on \/dev\S*$/m);
  });
});

describe("reading the ledger", () => {
  it("numbers the lines from the file's end when only its tail was read, and reports each damaged line", () => {
    const dir = tmp("ledger-");
    const f = path.join(dir, "ledger.jsonl");
    const lines = Array.from({ length: 8 }, (_, i) => JSON.stringify({ outcome: "success", release: `r${i + 1}` }));
    lines[5] = '{"outcome":"success","release":"r6"'; // cut
    lines[6] = '{"outcome":"success","release":7}'; // a release that is not a string
    writeFileSync(f, `${lines.join("\n")}\n["not", "an", "object"]`);
    const out = execFileSync("bash", ["-c", readLedgerScript(f, 5).text], { encoding: "utf8" });
    expect(out.split("\n")[0]).toBe("slipway:ledger-lines 9");
    expect(out.endsWith('["not", "an", "object"]\nslipway:ledger-end\n')).toBe(true);
    // inside a script's other output (marks, a compose probe's lines), only the block counts
    const { entries, damaged } = parseLedger(`slipway:current r8\nsome other output\n${out}slipway:on-disk r7 r8\n`);
    expect(entries.map((e) => e.release)).toEqual(["r5", "r8"]);
    expect(damaged.map((d) => d.line)).toEqual([6, 7, 9]);
    expect(damaged[0]!.why).toMatch(/^not JSON/);
    expect(damaged[1]!.why).toMatch(/^release: /);
    expect(damagedWarnings("web", f, damaged.slice(0, 1))).toEqual([`[web] ${f} line 6 is damaged and was skipped (${damaged[0]!.why}): "{\\"outcome\\":\\"success\\",\\"release\\":\\"r6\\""`]);
    // a ledger that does not exist yet reads as empty
    expect(execFileSync("bash", ["-c", readLedgerScript(path.join(dir, "none.jsonl")).text], { encoding: "utf8" })).toBe("");
  });

  it("keeps every field of a line, and refuses a line a newer slipway wrote", () => {
    const { entries, damaged } = parseLedger(`{"outcome":"success","release":"r1","digests":{"web":"sha256:1"}}\n{"v":${LEDGER_VERSION + 1},"outcome":"success"}\n`);
    expect(entries).toEqual([{ outcome: "success", release: "r1", digests: { web: "sha256:1" } }]);
    expect(damaged[0]!.why).toContain(`ledger version ${LEDGER_VERSION + 1}`);
  });

});
