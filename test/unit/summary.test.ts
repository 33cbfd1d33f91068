import { describe, expect, it } from "vitest";
import { formatDuration, hostsStepsTable, mdTable, mdTimeline, type StepSpan } from "../../src/report/summary.js";

const t0 = Date.UTC(2026, 10, 23, 11, 45, 0);
const steps: StepSpan[] = [
  { host: "collector-1", step: "lock", startMs: t0, endMs: t0 + 120 },
  { host: "collector-1", step: "upload", startMs: t0 + 120, endMs: t0 + 2520 },
  { host: "trader-1", step: "lock", startMs: t0 + 10, endMs: t0 + 90 },
  { host: "collector-1", step: "restart: wait stable", startMs: t0 + 2520, endMs: t0 + 65_520 },
];

describe("mdTimeline", () => {
  it("is a mermaid gantt with a section per host and each step from its start to its end (epoch ms)", () => {
    expect(mdTimeline(steps, "deploy production")).toBe(
      [
        "```mermaid",
        "gantt",
        "  title deploy production",
        "  dateFormat x",
        "  axisFormat %H:%M:%S",
        "  section collector-1",
        `  lock (120 ms) :${t0}, ${t0 + 120}`,
        `  upload (2.4 s) :${t0 + 120}, ${t0 + 2520}`,
        `  restart wait stable (1 min 03 s) :${t0 + 2520}, ${t0 + 65_520}`,
        "  section trader-1",
        `  lock (80 ms) :${t0 + 10}, ${t0 + 90}`,
        "```",
        "",
      ].join("\n"),
    );
  });

  it("keeps mermaid's separators out of names and never draws an empty bar", () => {
    const md = mdTimeline([{ host: "h#1", step: "a:b;c\nd", startMs: 5, endMs: 5 }]);
    expect(md).toContain("  section h 1\n");
    expect(md).toContain("  a b c d (0 ms) :5, 6\n");
  });

  it("is empty without steps", () => {
    expect(mdTimeline([])).toBe("");
  });
});

describe("hostsStepsTable", () => {
  it("has a row per host, a column per step (first-seen order), durations and each host's wall time", () => {
    expect(hostsStepsTable(steps)).toBe(
      mdTable(
        ["host", "lock", "upload", "restart: wait stable", "total"],
        [
          ["collector-1", "120 ms", "2.4 s", "1 min 03 s", "1 min 06 s"],
          ["trader-1", "80 ms", "–", "–", "80 ms"],
        ],
      ),
    );
  });

  it("sums a step that ran twice on a host", () => {
    const table = hostsStepsTable([
      { host: "h", step: "exec", startMs: 0, endMs: 100 },
      { host: "h", step: "exec", startMs: 200, endMs: 450 },
    ]);
    expect(table.split("\n")[2]).toBe("| h | 350 ms | 450 ms |");
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0 ms"],
    [999, "999 ms"],
    [1000, "1.0 s"],
    [59_949, "59.9 s"],
    [60_000, "1 min 00 s"],
    [3_725_000, "62 min 05 s"],
    [-5, "0 ms"],
  ])("%d ms is %s", (ms, text) => expect(formatDuration(ms)).toBe(text));
});
