// alembic revisions linted like SQL migrations: the SQL `alembic upgrade <from>:head --sql` prints in
// offline mode (no database: the project's env.py needs alembic's usual offline branch) is cut per
// revision at alembic's "-- Running upgrade A -> B" comments, and each piece goes through the same
// parser, rules and classification. Run on the runner, in migrations.dir; without alembic there (or
// with an env.py that cannot run offline) the caller says the revisions were not linted, and why.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { LintRule, LintSeverity } from "../lint/rules.js";
import type { LintedMigration } from "./lint-migrations.js";

export interface RevisionSql {
  revision: string;
  sql: string;
}

/** alembic's offline SQL, one piece per revision (the transaction's BEGIN travels with its revision; the version table's creation with none). */
export function splitRevisions(sql: string): RevisionSql[] {
  const out: RevisionSql[] = [];
  let carry: string[] = [];
  for (const line of sql.split("\n")) {
    const m = /^-- Running upgrade \S* -> (\S+)/.exec(line);
    if (m) {
      // a BEGIN just before the marker opens this revision's transaction
      const begin = carry.filter((l) => l.trim() !== "").at(-1)?.trim() === "BEGIN;";
      if (out.length && !begin) out.at(-1)!.sql += carry.join("\n");
      else if (out.length) out.at(-1)!.sql += carry.slice(0, carry.lastIndexOf("BEGIN;")).join("\n");
      out.push({ revision: m[1]!.replace(/,$/, ""), sql: begin ? "BEGIN;\n" : "" });
      carry = [];
      continue;
    }
    carry.push(line);
  }
  if (out.length) out.at(-1)!.sql += carry.join("\n");
  return out;
}

/** The revision files under dir: revision id -> [path relative to dir, the line of `def upgrade`]. */
function revisionFiles(dir: string): Map<string, { file: string; line: number }> {
  const found = new Map<string, { file: string; line: number }>();
  const walk = (d: string, depth: number) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && depth < 3 && !e.name.startsWith(".") && e.name !== "__pycache__") walk(p, depth + 1);
      else if (e.isFile() && e.name.endsWith(".py")) {
        const text = readFileSync(p, "utf8");
        const id = /^revision\s*(?::\s*str\s*)?=\s*['"]([^'"]+)['"]/m.exec(text)?.[1];
        if (id) found.set(id, { file: path.relative(dir, p), line: Math.max(1, text.split("\n").findIndex((l) => /^def upgrade\b/.test(l)) + 1) });
      }
    }
  };
  walk(dir, 0);
  return found;
}

/** `alembic upgrade <from>:head --sql` in dir: its stdout, or why it could not run. */
function offlineSql(dir: string, from: string | undefined): Promise<{ sql?: string; why?: string }> {
  const args = ["upgrade", from ? `${from}:head` : "head", "--sql"];
  return new Promise((resolve) =>
    // no .pyc files left in the user's checkout
    execFile("alembic", args, { cwd: dir, timeout: 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } }, (err, stdout, stderr) => {
      if (!err) return resolve({ sql: stdout });
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return resolve({ why: "alembic is not installed on the runner (apt-get install alembic, or pip install alembic)" });
      const last = stderr.trim().split("\n").filter(Boolean).slice(-1)[0] ?? err.message;
      resolve({ why: `\`alembic ${args.join(" ")}\` failed in ${dir} (${last.slice(0, 300)}); env.py needs an offline branch (context.is_offline_mode())` });
    }),
  );
}

/**
 * The revisions after `from` (all of them without), linted and classified, in the order alembic
 * applies them; or why they were not. `repoDir` is migrations.dir as the repository names it.
 */
export async function lintAlembicRevisions(dir: string, repoDir: string, o: { from?: string; severities?: Partial<Record<LintRule, LintSeverity>> }): Promise<{ files: LintedMigration[]; notLinted?: string }> {
  const got = await offlineSql(dir, o.from);
  if (got.sql === undefined) return { files: [], notLinted: got.why };
  const { classifyMigrationSql, lintMigrationSql } = await import("../lint/migrations.js");
  const files = revisionFiles(dir);
  return {
    files: await Promise.all(
      splitRevisions(got.sql).map(async (r) => {
        const at = files.get(r.revision);
        const file = at ? path.posix.join(repoDir, at.file.split(path.sep).join("/")) : `${repoDir} (revision ${r.revision})`;
        // positions in the generated SQL mean nothing in the .py file: each finding points at its upgrade() and says where in the SQL
        const findings = (await lintMigrationSql(r.sql, file, { severities: o.severities })).map((f) => ({ ...f, line: at?.line ?? 1, col: 1, message: `${f.message} (revision ${r.revision}, line ${f.line} of its SQL from alembic upgrade --sql)` }));
        return { name: at ? path.basename(at.file) : `revision ${r.revision}`, version: r.revision, findings, ...(await classifyMigrationSql(r.sql, file)) };
      }),
    ),
  };
}
