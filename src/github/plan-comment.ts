// The pull-request comment of plan.yml, one per environment: the plan (what slipway does on which
// host) and which of the pull request's changed files concern this environment. Pure: the changed
// files come from `git diff --name-status`; nothing here needs a host or a secret.
import path from "node:path";
import type { LoadedEnvironment } from "../config/load.js";
import { formatPlan } from "../operations/plan.js";
import { mdTable } from "../report/summary.js";
import { isBlocking, type LintFinding } from "../lint/rules.js";
import type { SchemaPlan } from "../operations/schema-plan.js";

export const planMarker = (environment: string) => `<!-- slipway-plan:${environment} -->`;

export interface ChangedFile {
  status: string;
  path: string;
}

/** `git diff --name-status` lines: "M\tpath", "A\tpath", "R100\told\tnew" (the new path counts). */
export function parseNameStatus(text: string): ChangedFile[] {
  return text
    .split("\n")
    .map((l) => l.split("\t"))
    .filter((f) => f.length >= 2 && f[0])
    .map((f) => ({ status: f[0]!.charAt(0), path: f[f.length - 1]! }));
}

const under = (dir: string, file: string) => dir !== "." && (file === dir || file.startsWith(`${dir.replace(/\/+$/, "")}/`));
const statusWord: Record<string, string> = { A: "new", M: "changed", D: "deleted", R: "renamed", C: "copied" };

/** What each changed file means for this environment: [what, files] rows. */
export function relevantChanges(loaded: LoadedEnvironment, changed: ChangedFile[]): [string, string[]][] {
  const rows: [string, (f: string) => boolean][] = [
    ["environment file", (f) => f === loaded.file],
    ["deploy workflows", (f) => /^\.github\/workflows\/(deploy|rollback)\.ya?ml$/.test(f)],
  ];
  for (const [name, d] of Object.entries(loaded.env.databases)) if (d.migrations) rows.push([`migrations of ${name} (${d.migrations.dir})`, (f) => under(d.migrations!.dir, f)]);
  for (const [name, s] of Object.entries(loaded.env.services)) {
    if (s.release) rows.push([`release of ${name} (${s.release})`, (f) => under(s.release!, f)]);
    // compose files are named relative to the release
    if (s.kind === "compose") rows.push([`compose files of ${name}`, (f) => s.files.some((c) => path.posix.join(s.release ?? ".", c) === f)]);
    if (s.kind === "systemd" && s["unit-file"]) rows.push([`unit file of ${name}`, (f) => f === s["unit-file"]]);
  }
  return rows
    .map(([what, test]): [string, string[]] => [what, changed.filter((c) => test(c.path)).map((c) => `${c.path} (${statusWord[c.status] ?? c.status})`)])
    .filter(([, files]) => files.length > 0);
}

const MAX = 60_000; // GitHub refuses comments over 65536 characters

/** The migration lint as a table: each finding of the files (allowed ones say why), or that there is none. */
export function lintSection(findings: LintFinding[], files: number, notLinted: string[] = []): string {
  const skipped = notLinted.map((n) => `> [!WARNING]\n> ${n}\n\n`).join("");
  if (!files) return skipped;
  if (!findings.length) return `**Migration lint:** ${files} migration file(s), no finding.\n\n${skipped}`;
  const icon = (f: LintFinding) => (f.allowed !== undefined ? "☑️ allowed" : f.severity === "error" ? "❌ error" : "⚠️ warning");
  const rows = findings.map((f) => [`${f.file}:${f.line}`, `\`${f.rule}\``, icon(f), f.allowed !== undefined ? `${f.message} — ${f.allowed}` : `${f.message}. ${f.instead}`]);
  const errors = findings.filter(isBlocking).length;
  return `**Migration lint** (PostgreSQL's parser): ${errors ? `${errors} error(s): apply-migrations refuses a pending file with one` : "no error"}\n\n${mdTable(["where", "rule", "", "what"], rows)}\n${skipped}`;
}

/** One file's lint result in a cell: errors, warnings and allowed findings by rule and line, or clean. */
function lintCell(findings: LintFinding[]): string {
  if (!findings.length) return "✅ clean";
  const icon = (f: LintFinding) => (f.allowed !== undefined ? "☑️" : isBlocking(f) ? "❌" : "⚠️");
  return findings.map((f) => `${icon(f)} \`${f.rule}\` line ${f.line}${f.allowed !== undefined ? ` (allowed: ${f.allowed})` : ""}`).join("<br>");
}

/**
 * The schema side of the pull request: the migration files its deploy will run (counted from the
 * head the last deploy recorded with its GitHub deployment), and the releases a code-only rollback
 * can still go back to once it is deployed.
 */
export function schemaSection(plan: SchemaPlan | { unknown: string; targets?: undefined; pending?: undefined; from?: undefined }): string {
  let md = "";
  if (plan.pending) {
    const files = plan.pending.flatMap((p) => p.files.map((f) => ({ db: p.database, ...f })));
    const since = plan.from ? `after migration head ${plan.from.head}, recorded by the deploy of ${plan.from.release}` : "no deploy recorded yet: every file";
    md += files.length
      ? `**Migrations this deploy will run** (${since}), in order:\n\n${mdTable(["database", "file", "class", "lint"], files.map((f) => [f.db, f.name, f.class === "expand" ? "expand" : `**${f.class}**`, lintCell(f.findings)]))}\n`
      : `**Migrations this deploy will run:** none (${since}).\n\n`;
  } else md += `**Migrations this deploy will run:** not known: ${plan.unknown}. apply-migrations decides against the database during the deploy.\n\n`;
  if (plan.targets?.length) {
    const rows = plan.targets.map((t) => [
      t.release,
      t.sha.slice(0, 7),
      t.crosses === undefined ? "❔ unknown (no migration head recorded)" : t.crosses.length ? `⚠️ only with restore-db: crosses ${t.crosses.join(", ")}` : "✅ code-only rollback is safe",
    ]);
    md += `**Rollback targets once this is deployed:**\n\n${mdTable(["release", "commit", "rollback"], rows)}\n`;
  }
  return md;
}

export function planComment(loaded: LoadedEnvironment, changed: ChangedFile[], o: { sha?: string; runUrl?: string; lint?: string; schema?: string } = {}): string {
  const rows = relevantChanges(loaded, changed);
  const files = (fs: string[]) => (fs.length > 8 ? [...fs.slice(0, 8), `… ${fs.length - 8} more`] : fs).join("<br>");
  const plan = formatPlan(loaded.name, loaded.env).replace(/```/g, "`\u200b``");
  let md = `${planMarker(loaded.name)}\n### slipway plan: \`${loaded.name}\`\n\n`;
  if (o.sha || o.runUrl) md += `<sub>${[o.sha ? `commit ${o.sha.slice(0, 7)}` : "", o.runUrl ? `[run](${o.runUrl})` : ""].filter(Boolean).join(" · ")}</sub>\n\n`;
  md += rows.length
    ? `**This pull request changes for \`${loaded.name}\`:**\n\n${mdTable(["what", "files"], rows.map(([w, fs]) => [w, files(fs)]))}\n`
    : `This pull request changes nothing that \`${loaded.name}\` deploys.\n\n`;
  md += o.schema ?? "";
  md += o.lint ?? "";
  md += `<details><summary>What a deploy of ${loaded.name} does</summary>\n\n\`\`\`text\n${plan}\n\`\`\`\n\n</details>\n\n`;
  md += `<sub>Pending migrations are counted from the migration head the last deploy recorded with its GitHub deployment (a pull-request job holds no database credentials); apply-migrations checks them against the database during the deploy.</sub>\n`;
  return md.length > MAX ? `${md.slice(0, MAX)}\n\n… (truncated)\n` : md;
}
