// Markdown for the job summary (GITHUB_STEP_SUMMARY) and the CLI's report.

const cell = (v: unknown) => String(v ?? "").replace(/\|/g, "\\|").replace(/\n/g, " ");

export function mdTable(headers: string[], rows: unknown[][]): string {
  if (rows.length === 0) return "";
  return [`| ${headers.map(cell).join(" | ")} |`, `|${headers.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n") + "\n";
}

export function mdDetails(summary: string, body: string): string {
  return `<details><summary>${cell(summary)}</summary>\n\n\`\`\`\n${body.replace(/```/g, "`\u200b``")}\n\`\`\`\n\n</details>\n`;
}

export const bytes = (n: number) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

export interface StepSpan {
  host: string;
  step: string;
  startMs: number;
  endMs: number;
}

/** mermaid's gantt syntax treats ':' ';' '#' and line breaks specially: keep names plain */
const ganttName = (s: string) => s.replace(/[:;#\r\n]+/g, " ").replace(/\s+/g, " ").trim() || "-";

/** A mermaid gantt of the steps, one section per host (in order of first appearance), on wall-clock time. */
export function mdTimeline(steps: StepSpan[], title?: string): string {
  if (steps.length === 0) return "";
  const hosts = [...new Set(steps.map((s) => s.host))];
  const lines = ["```mermaid", "gantt", ...(title ? [`  title ${ganttName(title)}`] : []), "  dateFormat x", "  axisFormat %H:%M:%S"];
  for (const host of hosts) {
    lines.push(`  section ${ganttName(host)}`);
    for (const s of steps.filter((x) => x.host === host).sort((a, b) => a.startMs - b.startMs)) {
      const start = Math.round(s.startMs);
      lines.push(`  ${ganttName(s.step)} (${formatDuration(s.endMs - s.startMs)}) :${start}, ${Math.max(Math.round(s.endMs), start + 1)}`);
    }
  }
  return lines.join("\n") + "\n```\n";
}

/** "340 ms", "2.4 s", "1 min 05 s" */
export function formatDuration(ms: number): string {
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(1)} s`;
  const s = Math.round(v / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

/** Hosts × steps: each cell the step's duration on that host (summed if it ran more than once), and each host's wall time. */
export function hostsStepsTable(steps: StepSpan[]): string {
  const hosts = [...new Set(steps.map((s) => s.host))];
  const names = [...new Set(steps.map((s) => s.step))];
  return mdTable(
    ["host", ...names, "total"],
    hosts.map((h) => {
      const mine = steps.filter((s) => s.host === h);
      const cells = names.map((n) => {
        const runs = mine.filter((s) => s.step === n);
        return runs.length ? formatDuration(runs.reduce((t, s) => t + (s.endMs - s.startMs), 0)) : "–";
      });
      return [h, ...cells, formatDuration(Math.max(...mine.map((s) => s.endMs)) - Math.min(...mine.map((s) => s.startMs)))];
    }),
  );
}
