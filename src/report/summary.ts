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
