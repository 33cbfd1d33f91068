// The rules of the migration lint (src/lint/migrations.ts), with what the environment file may set
// for each (migrations.lint): kept apart from the linter so that the schema does not load the parser.
export type LintRule =
  | "syntax-error"
  | "ban-drop-table"
  | "ban-drop-column"
  | "ban-drop-schema"
  | "ban-truncate"
  | "unqualified-delete"
  | "unqualified-update"
  | "renaming-table"
  | "renaming-column"
  | "changing-column-type"
  | "adding-not-nullable-field"
  | "setting-not-nullable-field"
  | "adding-foreign-key-constraint"
  | "constraint-missing-not-valid"
  | "require-concurrent-index-creation"
  | "require-concurrent-index-deletion"
  | "concurrently-in-transaction"
  | "require-lock-timeout";

export type LintSeverity = "error" | "warn" | "off";

export interface LintFinding {
  rule: LintRule;
  severity: "error" | "warn";
  file: string;
  line: number;
  col: number;
  message: string;
  why: string;
  instead: string;
  /** the reason of a `-- slipway:allow <rule> <reason>` comment: the finding is kept, shown as allowed, and never an error */
  allowed?: string;
}

export const LINT_RULES: Record<LintRule, { default: "error" | "warn"; title: string; why: string; instead: string }> = {
  "syntax-error": {
    default: "error",
    title: "SQL that PostgreSQL cannot parse",
    why: "PostgreSQL rejects the file, so the migration fails at deploy time.",
    instead: "Fix the SQL; run it against a scratch database first.",
  },
  "ban-drop-table": {
    default: "error",
    title: "DROP TABLE",
    why: "The rows are gone for good, and code still running the previous release fails on the missing table.",
    instead: "Stop using the table in one release, back it up, then drop it in a later migration with -- slipway:allow ban-drop-table <reason>.",
  },
  "ban-drop-column": {
    default: "error",
    title: "DROP COLUMN",
    why: "The column's data is gone for good, and code still running the previous release fails on the missing column.",
    instead: "Stop reading and writing the column in one release, then drop it in a later migration with -- slipway:allow ban-drop-column <reason>.",
  },
  "ban-drop-schema": {
    default: "error",
    title: "DROP SCHEMA",
    why: "Every table in the schema (with CASCADE) and its data are gone for good.",
    instead: "Drop the schema's objects one by one in reviewed migrations, or add -- slipway:allow ban-drop-schema <reason>.",
  },
  "ban-truncate": {
    default: "error",
    title: "TRUNCATE",
    why: "Every row of the table is gone for good, under an ACCESS EXCLUSIVE lock.",
    instead: "DELETE the rows you mean with a WHERE clause, or add -- slipway:allow ban-truncate <reason>.",
  },
  "unqualified-delete": {
    default: "error",
    title: "DELETE without WHERE",
    why: "It deletes every row of the table, which is rarely what a migration means.",
    instead: "Add a WHERE clause naming the rows to delete (WHERE true if you really mean all of them).",
  },
  "unqualified-update": {
    default: "error",
    title: "UPDATE without WHERE",
    why: "It overwrites every row of the table and locks them all until the migration commits.",
    instead: "Add a WHERE clause naming the rows to change; backfill large tables in batches.",
  },
  "renaming-table": {
    default: "warn",
    title: "Renaming a table",
    why: "Code still running the previous release queries the old name and fails until the new release is live.",
    instead: "Create the new table (or a view with the new name), move readers and writers over, then drop the old one later.",
  },
  "renaming-column": {
    default: "warn",
    title: "Renaming a column",
    why: "Code still running the previous release uses the old column name and fails until the new release is live.",
    instead: "Add the new column, write to both and backfill, move readers over, then drop the old column later.",
  },
  "changing-column-type": {
    default: "warn",
    title: "Changing a column's type",
    why: "Most type changes rewrite the table and its indexes under an ACCESS EXCLUSIVE lock, and old code may not handle the new type.",
    instead: "Add a column of the new type, backfill it in batches, switch the code over, then drop the old column.",
  },
  "adding-not-nullable-field": {
    default: "warn",
    title: "Adding a NOT NULL column without a DEFAULT",
    why: "It fails on any table that already has rows, and old code inserting rows without the column breaks.",
    instead: "Add the column with a DEFAULT (PostgreSQL 11+ does not rewrite the table), or add it nullable and backfill.",
  },
  "setting-not-nullable-field": {
    default: "warn",
    title: "SET NOT NULL on an existing column",
    why: "PostgreSQL scans the whole table to check it under an ACCESS EXCLUSIVE lock, blocking reads and writes.",
    instead: "ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT it, then SET NOT NULL (it reuses the validated check).",
  },
  "adding-foreign-key-constraint": {
    default: "warn",
    title: "Adding a foreign key without NOT VALID",
    why: "PostgreSQL checks every existing row while blocking writes to both tables.",
    instead: "ADD CONSTRAINT … FOREIGN KEY … NOT VALID, then ALTER TABLE … VALIDATE CONSTRAINT in a later statement.",
  },
  "constraint-missing-not-valid": {
    default: "warn",
    title: "Adding a CHECK constraint without NOT VALID",
    why: "PostgreSQL scans every existing row under an ACCESS EXCLUSIVE lock, blocking reads and writes.",
    instead: "ADD CONSTRAINT … CHECK (…) NOT VALID, then ALTER TABLE … VALIDATE CONSTRAINT in a later statement.",
  },
  "require-concurrent-index-creation": {
    default: "warn",
    title: "CREATE INDEX without CONCURRENTLY",
    why: "Building the index blocks every write to the table until it is done.",
    instead: "CREATE INDEX CONCURRENTLY in a file marked -- slipway:no-transaction.",
  },
  "require-concurrent-index-deletion": {
    default: "warn",
    title: "DROP INDEX without CONCURRENTLY",
    why: "It takes an ACCESS EXCLUSIVE lock on the index's table, blocking reads and writes while it waits and runs.",
    instead: "DROP INDEX CONCURRENTLY in a file marked -- slipway:no-transaction.",
  },
  "concurrently-in-transaction": {
    default: "warn",
    title: "CONCURRENTLY inside a transaction",
    why: "PostgreSQL refuses CREATE/DROP INDEX CONCURRENTLY inside a transaction block, so the migration fails.",
    instead: "Put the statement in its own file with a -- slipway:no-transaction line (and no BEGIN around it).",
  },
  "require-lock-timeout": {
    default: "warn",
    title: "ACCESS EXCLUSIVE lock with no lock_timeout",
    why: "While the statement waits for its lock behind a long query, every other query on the table queues behind it.",
    instead: "Start the file with SET lock_timeout = '5s' (SET LOCAL in a transactional file) and retry the deploy if it times out.",
  },
};

/**
 * expand: the previous release's code still works on the schema after the migration (additive
 * changes, data changes). contract: it may not — a table, column or schema is gone or renamed, or a
 * column changed type; rolling code back past it needs the database back too. unknown: the file does
 * not parse, so nothing is known (treated as contract wherever it matters).
 */
export type MigrationClass = "expand" | "contract" | "unknown";

/** The rules whose statements make a migration a contract one (whatever severity the environment sets). */
export const CONTRACT_RULES: ReadonlySet<LintRule> = new Set<LintRule>(["ban-drop-table", "ban-drop-column", "ban-drop-schema", "renaming-table", "renaming-column", "changing-column-type"]);

/** A finding that stops apply-migrations: error-level and not allowed by a `-- slipway:allow` comment. */
export const isBlocking = (f: LintFinding) => f.severity === "error" && f.allowed === undefined;

/** One finding as a line: "file:line:col: error|warn [rule] message — why; instead: …", or "… allowed [rule] message (reason)". */
export function formatFinding(f: LintFinding): string {
  const where = `${f.file}:${f.line}:${f.col}`;
  if (f.allowed !== undefined) return `${where}: allowed [${f.rule}] ${f.message} (${f.allowed})`;
  return `${where}: ${f.severity} [${f.rule}] ${f.message} — ${f.why.replace(/\.$/, "")}; instead: ${f.instead}`;
}
