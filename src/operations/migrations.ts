// Numbered SQL migrations, Flyway-style: discovered from a directory in the repository,
// checksummed, and planned against the database's history table (pure: no I/O but reading files).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

export interface MigrationFile {
  version: string; // "006"
  /** numeric value for ordering and comparisons */
  order: bigint;
  name: string; // "006_instrument_metadata_table.sql"
  description: string; // "instrument metadata table"
  checksum: string; // sha256 hex of the file bytes
  sql: string;
  /** `-- slipway:no-transaction` marker: applied alone, outside a transaction */
  noTransaction: boolean;
}

export interface AppliedMigration {
  version: string;
  name: string;
  checksum: string;
  success: boolean;
}

export const NO_TRANSACTION_MARKER = /^\s*--\s*slipway:no-transaction\s*$/m;
const FILE_PATTERN = /^(\d+)(?:[._-]+(.*))?\.sql$/;

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MigrationError";
  }
}

export function readMigrations(dir: string): MigrationFile[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    throw new MigrationError(`migrations directory not found: ${dir}`);
  }
  const files: MigrationFile[] = [];
  const ignored: string[] = [];
  for (const name of entries.sort()) {
    const m = FILE_PATTERN.exec(name);
    if (!m) {
      if (name.endsWith(".sql")) ignored.push(name);
      continue;
    }
    const bytes = readFileSync(path.join(dir, name));
    const sql = bytes.toString("utf8");
    files.push({
      version: m[1]!,
      order: BigInt(m[1]!),
      name,
      description: (m[2] ?? "").replace(/[_-]+/g, " ").trim(),
      checksum: createHash("sha256").update(bytes).digest("hex"),
      sql,
      noTransaction: NO_TRANSACTION_MARKER.test(sql),
    });
  }
  if (ignored.length) throw new MigrationError(`${dir}: SQL files without a version number: ${ignored.join(", ")} (name them like 006_add_table.sql)`);
  files.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
  for (let i = 1; i < files.length; i++)
    if (files[i]!.order === files[i - 1]!.order) throw new MigrationError(`${dir}: two migrations have version ${files[i]!.version}: ${files[i - 1]!.name} and ${files[i]!.name}`);
  return files;
}

export interface MigrationPlan {
  pending: MigrationFile[];
  applied: AppliedMigration[];
  /** the latest applied version before this run */
  head: string | null;
}

/** Compare the files with the history; refuse drift, failed leftovers and (unless allowed) out-of-order files. */
export function planMigrations(files: MigrationFile[], history: AppliedMigration[], opts: { outOfOrder: boolean }): MigrationPlan {
  const byVersion = new Map(files.map((f) => [f.order, f]));
  const problems: string[] = [];
  const failed = history.filter((h) => !h.success);
  for (const h of failed)
    problems.push(`migration ${h.name} failed earlier and was not transactional: repair the database by hand, then delete its row (success = false) from the history table`);
  for (const h of history.filter((h) => h.success)) {
    const f = byVersion.get(BigInt(h.version));
    if (!f) problems.push(`migration ${h.name} is applied in the database but its file is missing from the repository`);
    else if (f.checksum !== h.checksum)
      problems.push(`migration ${f.name} was changed after it was applied: checksum in the database ${h.checksum}, file now ${f.checksum}. Never edit an applied migration; add a new one`);
  }
  const appliedVersions = new Set(history.filter((h) => h.success).map((h) => BigInt(h.version)));
  const head = history.filter((h) => h.success).reduce<bigint | null>((m, h) => (m === null || BigInt(h.version) > m ? BigInt(h.version) : m), null);
  const pending = files.filter((f) => !appliedVersions.has(f.order));
  if (!opts.outOfOrder && head !== null) {
    const below = pending.filter((f) => f.order < head);
    if (below.length)
      problems.push(
        `new migration${below.length > 1 ? "s" : ""} ${below.map((f) => f.name).join(", ")} ${below.length > 1 ? "are" : "is"} numbered below the last applied version ${String(head)}; renumber ${below.length > 1 ? "them" : "it"} or set migrations.out-of-order: true`,
      );
  }
  if (problems.length) throw new MigrationError(problems.join("\n"));
  const headName = head === null ? null : (history.find((h) => BigInt(h.version) === head)?.version ?? null);
  return { pending, applied: history, head: headName };
}
