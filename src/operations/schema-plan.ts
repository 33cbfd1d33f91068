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
function headOf(head: string, databases: string[], database: string): bigint | undefined {
  const parts = head.split(" ");
  const v = parts.length === databases.length ? parts[databases.indexOf(database)] : undefined;
  return v !== undefined && /^\d+$/.test(v) ? BigInt(v) : undefined;
}

const after = (lint: DatabaseLint, head: bigint) => lint.files.filter((f) => BigInt(f.version) > head);

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
    const per = lints.map((l) => ({ database: l.database, head: headOf(head, databases, l.database), lint: l }));
    if (per.some((p) => p.head === undefined)) plan.unknown = `the recorded head '${head}' does not name one version per database with migrations (${databases.join(", ")})`;
    else plan.pending = per.map((p) => ({ database: p.database, files: after(p.lint, p.head!) }));
  }
  const seen = new Set<string>();
  deploys.forEach((d, i) => {
    if (seen.has(d.release) || plan.targets.length >= (o.targets ?? 5)) return;
    seen.add(d.release);
    const head = headAt(i);
    const heads = head === undefined ? undefined : lints.map((l) => ({ lint: l, head: headOf(head, databases, l.database) }));
    const crosses = heads && heads.every((h) => h.head !== undefined) ? heads.flatMap((h) => after(h.lint, h.head!).filter((f) => f.class !== "expand").map((f) => f.name)) : undefined;
    plan.targets.push({ release: d.release, sha: d.sha, crosses });
  });
  return plan;
}
