// The migration lint's corpus (test/fixtures/migration-lint): for every rule a file that must be
// flagged and a safe variant that must not, plus files for positions, allow comments, exemptions and
// syntax errors. Each file says what it expects in its first lines (`-- expect: <rule> <line>:<col>`
// [allowed], or `-- expect: none`): exactly those findings, at exactly those places, named by the file.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatFinding, LINT_RULES, lintMigrationSql, type LintRule } from "../../src/lint/migrations.js";

const DIR = "test/fixtures/migration-lint";
const files = readdirSync(DIR).filter((f) => f.endsWith(".sql")).sort();
const expected = (sql: string) =>
  [...sql.matchAll(/^-- expect: (.+)$/gm)]
    .map((m) => m[1]!.trim())
    .filter((e) => e !== "none")
    .sort();

describe("the migration lint corpus", () => {
  it("has a flagged file and a safe variant for every rule, and at least 40 files", () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
    for (const rule of Object.keys(LINT_RULES) as LintRule[]) {
      const bad = files.filter((f) => f.endsWith(`_${rule}.bad.sql`));
      const safe = files.filter((f) => f.endsWith(`_${rule}.safe.sql`));
      expect([rule, bad.length, safe.length]).toEqual([rule, 1, 1]);
      expect(expected(readFileSync(path.join(DIR, bad[0]!), "utf8")).some((e) => e.startsWith(`${rule} `))).toBe(true);
    }
  });

  it.each(files)("%s", async (name) => {
    const file = path.posix.join(DIR, name);
    const sql = readFileSync(file, "utf8");
    const findings = await lintMigrationSql(sql, file);
    expect(findings.map((f) => `${f.rule} ${f.line}:${f.col}${f.allowed !== undefined ? " allowed" : ""}`).sort()).toEqual(expected(sql));
    for (const f of findings) expect(formatFinding(f).startsWith(`${file}:${f.line}:${f.col}: `)).toBe(true);
    if (name.endsWith(".safe.sql")) expect(findings).toEqual([]);
  });
});
