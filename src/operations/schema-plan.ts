// What a pull request does to the schema, known without database access: the migrations its deploy
// will run (the files after the migration head the environment's last deploy recorded), and which
// releases stay safe targets for a code-only rollback once it is deployed (no contract migration
// after their head). Pure: the deploys come from GitHub's deployments (or a ledger), the files from
// the lint of the checkout.
import type { DatabaseLint, LintedMigration } from "./lint-migrations.js";

export interface DeployedRelease {
  release: string;
  sha: string;
  /** the migration head(s) after its deploy: one version per database with migrations, space-separated */
  migrationHead?: string;
  rollback?: boolean;
}

export interface RollbackTarget {
  release: string;
  sha: string;
  /** the contract (or unclassified) migrations a code-only rollback to it would cross; undefined: its head is unknown */
  crosses?: string[];
}

export interface SchemaPlan {
  /** the head the pending files are counted from, and the release that recorded it */
  from?: { head: string; release: string };
  /** per SQL database, the files the deploy will apply, in order; undefined when that is not known */
  pending?: { database: string; files: LintedMigration[] }[];
  /** why pending is not known */
  unknown?: string;
  targets: RollbackTarget[];
}

/** A recorded head split per database (the environment's databases with migrations, in file order). */
function headOf(head: string, databases: string[], database: string): string | undefined {
  const parts = head.split(" ");
  return parts.length === databases.length ? parts[databases.indexOf(database)] : undefined;
}

/** The files after `head`: by version number (SQL), else after the revision named (alembic, in apply order); undefined when unknown. */
function after(lint: DatabaseLint, head: string): LintedMigration[] | undefined {
  const numeric = (v: string) => /^\d+$/.test(v);
  if (numeric(head) && lint.files.every((f) => numeric(f.version))) return lint.files.filter((f) => BigInt(f.version) > BigInt(head));
  const i = lint.files.findIndex((f) => f.version === head);
  return i < 0 ? undefined : lint.files.slice(i + 1);
}

/**
 * `deployed`: the environment's deploys that were live, newest first. `databases`: the names of its
 * databases with migrations, in file order (the order heads are recorded in).
 */
export function schemaPlan(lints: DatabaseLint[], databases: string[], deployed: DeployedRelease[], o: { targets?: number } = {}): SchemaPlan {
  const deploys = deployed.filter((d) => !d.rollback);
  const headAt = (i: number) => deploys.slice(i).find((d) => d.migrationHead)?.migrationHead;
  const plan: SchemaPlan = { targets: [] };
  const latest = deploys.findIndex((d) => d.migrationHead);
  if (deploys.length === 0) {
    plan.pending = lints.map((l) => ({ database: l.database, files: l.files }));
  } else if (latest < 0) plan.unknown = "no deploy of this environment recorded a migration head (deploy-*'s migration-head input)";
  else {
    const head = deploys[latest]!.migrationHead!;
    plan.from = { head, release: deploys[latest]!.release };
    const per = lints.map((l) => {
      const h = headOf(head, databases, l.database);
      return { database: l.database, files: h === undefined ? undefined : after(l, h) };
    });
    if (per.some((p) => p.files === undefined)) plan.unknown = `the recorded head '${head}' does not name a known version for each database with migrations (${databases.join(", ")})`;
    else plan.pending = per.map((p) => ({ database: p.database, files: p.files! }));
  }
  const seen = new Set<string>();
  deploys.forEach((d, i) => {
    if (seen.has(d.release) || plan.targets.length >= (o.targets ?? 5)) return;
    seen.add(d.release);
    const head = headAt(i);
    const since = head === undefined ? undefined : lints.map((l) => {
      const h = headOf(head, databases, l.database);
      return h === undefined ? undefined : after(l, h);
    });
    const crosses = since?.every((x) => x !== undefined) ? since.flatMap((x) => x!.filter((f) => f.class !== "expand").map((f) => f.name)) : undefined;
    plan.targets.push({ release: d.release, sha: d.sha, crosses });
  });
  return plan;
}
