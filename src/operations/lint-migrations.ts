// Every SQL migration of an environment's databases, linted with PostgreSQL's own parser
// (src/lint/migrations.ts), with the severities the environment file sets (migrations.lint). Used by
// `slipway lint-migrations`, the plan action (its summary, its pull-request comment, annotations at
// the SQL lines) and apply-migrations (which refuses a pending file with an error-level finding
// before it applies anything).
import path from "node:path";
import type { LoadedEnvironment } from "../config/load.js";
import { inWorkspace } from "../config/paths.js";
import { formatFinding, isBlocking, type LintFinding, type MigrationClass } from "../lint/rules.js";

export { isBlocking };
import { readMigrations } from "./migrations.js";

export interface DatabaseLint {
  database: string;
  dir: string;
  /** per file (e.g. 006_add_venue.sql, version 006): its findings and its class */
  files: LintedMigration[];
  /** alembic: why its revisions were not linted (no alembic on the runner, an env.py without offline mode) */
  notLinted?: string;
}

export interface LintedMigration {
  name: string;
  version: string;
  findings: LintFinding[];
  class: MigrationClass;
  /** why it is contract (or unknown): "line N: message" */
  because: string[];
  /** its `-- slipway:allow` reasons, "rule: reason" */
  allowed: string[];
}

/**
 * The findings of one database's migrations: SQL files, or the SQL alembic generates for the
 * revisions after `from` (all of them without; src/operations/alembic-lint.ts).
 */
export async function lintDatabase(loaded: LoadedEnvironment, database: string, o: { from?: string } = {}): Promise<DatabaseLint | undefined> {
  const m = loaded.env.databases[database]?.migrations;
  if (!m) return undefined;
  const dir = inWorkspace(m.dir);
  if (m.engine === "alembic") {
    const { lintAlembicRevisions } = await import("./alembic-lint.js");
    const r = await lintAlembicRevisions(dir, m.dir, { from: o.from, severities: m.lint });
    return { database, dir: m.dir, files: r.files, ...(r.notLinted ? { notLinted: r.notLinted } : {}) };
  }
  // the parser (a WASM module, loaded on first use) only where there are SQL migrations to lint
  const { classifyMigrationSql, lintMigrationSql } = await import("../lint/migrations.js");
  const files = await Promise.all(
    readMigrations(dir).map(async (f) => {
      // findings name the file as the repository does (the annotation's file)
      const file = path.posix.join(m.dir, f.name);
      const findings = await lintMigrationSql(f.sql, file, { severities: m.lint, noTransaction: f.noTransaction });
      return { name: f.name, version: f.version, findings, ...(await classifyMigrationSql(f.sql, file)) };
    }),
  );
  return { database, dir: m.dir, files };
}

export async function lintEnvironment(loaded: LoadedEnvironment): Promise<DatabaseLint[]> {
  const out: DatabaseLint[] = [];
  for (const name of Object.keys(loaded.env.databases)) {
    const r = await lintDatabase(loaded, name);
    if (r) out.push(r);
  }
  return out;
}

export const allFindings = (lints: DatabaseLint[]): LintFinding[] => lints.flatMap((l) => l.files.flatMap((f) => f.findings));

/** The lint as lines for a terminal or a log: each finding, then a count. */
export function lintReport(lints: DatabaseLint[]): string {
  const findings = allFindings(lints);
  const errors = findings.filter(isBlocking).length;
  const files = lints.reduce((n, l) => n + l.files.length, 0);
  const skipped = lints.filter((l) => l.notLinted).map((l) => `${l.database}: alembic revisions not linted: ${l.notLinted}`);
  return [...findings.map(formatFinding), ...skipped, `${files} migration file(s) linted: ${errors} error(s), ${findings.length - errors} warning(s) or allowed`].join("\n");
}
