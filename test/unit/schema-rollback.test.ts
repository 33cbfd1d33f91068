// Expand / contract: each migration classified from the lint's parse (src/lint/migrations.ts
// classifyMigrationSql), recorded by the deploy that applied it, and a rollback that would give old
// code a schema it cannot use refused before anything changes (src/operations/rollback.ts).
import { describe, expect, it } from "vitest";
import { classifyMigrationSql } from "../../src/lint/migrations.js";
import { migrationSession } from "../../src/commands/postgres.js";
import { parseAppliedMigrations, type AppliedMigrationRecord } from "../../src/ledger/ledger.js";
import { contractsSince, refusalMessage, type LedgerEntry } from "../../src/operations/rollback.js";
import type { MigrationFile } from "../../src/operations/migrations.js";
import { schemaPlan } from "../../src/operations/schema-plan.js";
import { schemaSection } from "../../src/github/plan-comment.js";

const cls = async (sql: string) => (await classifyMigrationSql(sql, "007_x.sql")).class;

describe("classifyMigrationSql", () => {
  it.each([
    ["ALTER TABLE trades DROP COLUMN note;", "contract"],
    ["DROP TABLE trades;", "contract"],
    ["DROP SCHEMA legacy CASCADE;", "contract"],
    ["ALTER TABLE trades RENAME TO deals;", "contract"],
    ["ALTER TABLE trades RENAME COLUMN px TO price;", "contract"],
    ["ALTER TABLE trades ALTER COLUMN qty TYPE bigint;", "contract"],
    ["CREATE TABLE venues (id int);", "expand"],
    ["ALTER TABLE trades ADD COLUMN venue text;", "expand"],
    ["CREATE INDEX trades_ts ON trades (ts);", "expand"],
    ["DELETE FROM trades WHERE ts < now() - interval '1 year';", "expand"], // data, not schema: old code still runs
    ["TRUNCATE trades;", "expand"],
    ["ALTER TABLE trades DROP COLUMN;", "unknown"], // does not parse
  ])("%s → %s", async (sql, expected) => {
    expect(await cls(sql)).toBe(expected);
  });

  it("ignores the environment's severities and allow comments: an allowed DROP is still contract, with its reason kept", async () => {
    const c = await classifyMigrationSql("SET lock_timeout = '5s';\n-- slipway:allow ban-drop-column note moved to trade_notes in 006\nALTER TABLE trades DROP COLUMN note;\n", "007_drop_note.sql");
    expect(c).toEqual({ class: "contract", because: ["line 3: ALTER TABLE trades DROP COLUMN note: deletes the column and its data"], allowed: ["ban-drop-column: note moved to trade_notes in 006"] });
  });
});

describe("the history row records the class and the allow reasons", () => {
  const file = (name: string, sql: string): MigrationFile => ({ version: name.slice(0, 3), order: BigInt(name.slice(0, 3)), name, description: "", checksum: "c", sql, noTransaction: false });
  it("adds the columns to an existing history table and fills them per file; a value is a literal, never SQL", () => {
    const notes = new Map([["007_drop.sql", { class: "contract", allowed: ["ban-drop-column: it's gone'); DROP TABLE x; --"] }]]);
    const s = migrationSession([file("007_drop.sql", "ALTER TABLE t DROP COLUMN c;"), file("008_add.sql", "select 1;")], { table: "slipway_schema_history", lockTimeoutSec: 5, appliedBy: "run", expectedHistory: "", notes });
    expect(s.sql).toContain('ALTER TABLE "slipway_schema_history" ADD COLUMN IF NOT EXISTS class text, ADD COLUMN IF NOT EXISTS lint_allowed text;');
    expect(s.sql).toContain("true, 'contract', 'ban-drop-column: it''s gone''); DROP TABLE x; --');");
    expect(s.sql).toMatch(/'008_add\.sql'.*true, NULL, NULL\);/);
  });
});

describe("parseAppliedMigrations (deploy-*'s migrations input)", () => {
  it("reads apply-migrations' output, and names the input on anything else", () => {
    expect(parseAppliedMigrations("", "the migrations input")).toEqual([]);
    expect(parseAppliedMigrations('[{"database":"app","name":"007_x.sql","class":"contract"}]', "the migrations input")).toEqual([{ database: "app", name: "007_x.sql", class: "contract" }]);
    expect(() => parseAppliedMigrations("007_x.sql", "the migrations input")).toThrow(/^the migrations input is not JSON .*pass apply-migrations' migrations output as it is/);
    expect(() => parseAppliedMigrations('[{"database":"app","name":"007_x.sql","class":"shrink"}]', "the migrations input")).toThrow(/not a list of applied migrations \(0\.class: /);
  });
});

describe("contractsSince", () => {
  const m = (name: string, c: AppliedMigrationRecord["class"]): AppliedMigrationRecord => ({ database: "app", name, class: c });
  const v1: LedgerEntry = { outcome: "success", release: "v1", migrationHead: "005" };
  it("names the contract migrations the deploys after the target applied; expand ones and the target's own do not count", () => {
    const entries: LedgerEntry[] = [{ outcome: "success", release: "v0", migrations: [m("004_drop.sql", "contract")] }, v1, { outcome: "success", release: "v2", migrationHead: "006", migrations: [m("006_add.sql", "expand")] }, { outcome: "success", release: "v3", migrationHead: "007", migrations: [m("007_drop.sql", "contract")] }];
    expect(contractsSince(entries, v1)).toEqual([m("007_drop.sql", "contract")]);
    expect(contractsSince(entries, entries[2]!)).toEqual([m("007_drop.sql", "contract")]);
    expect(contractsSince(entries, entries[3]!)).toEqual([]);
  });

  it("a rollback line changes no schema; an unknown class counts as contract", () => {
    const entries: LedgerEntry[] = [v1, { outcome: "success", release: "v2", migrations: [m("006_x.sql", "unknown")] }, { outcome: "rollback", release: "v1", abandoned: "v2", migrations: [m("999_never.sql", "contract")] }];
    expect(contractsSince(entries, v1)).toEqual([m("006_x.sql", "unknown")]);
  });

  it("deploys that recorded only a head: the files between the target's head and the latest, classified by the caller", () => {
    const entries: LedgerEntry[] = [v1, { outcome: "success", release: "v2", migrationHead: "007" }, { outcome: "success", release: "v3" }];
    const asked: [string | undefined, string][] = [];
    const between = (from: string | undefined, to: string) => (asked.push([from, to]), [m("006_add.sql", "expand"), m("007_drop.sql", "contract")]);
    expect(contractsSince(entries, v1, between)).toEqual([m("007_drop.sql", "contract")]);
    expect(asked).toEqual([["005", "007"]]);
    // the same head on both sides: nothing between, not asked
    expect(contractsSince([v1, { outcome: "success", release: "v2", migrationHead: "005" }], v1, between)).toEqual([]);
    expect(asked).toHaveLength(1);
  });

  it("the refusal names the host, the service, the release, each migration and both ways on", () => {
    expect(refusalMessage("droplet-1", "api", "v1", [m("007_drop.sql", "contract"), m("008_x.sql", "unknown")])).toBe(
      "[droplet-1] refusing to roll api back to v1: the database has 2 contract migration(s) applied after that release: 007_drop.sql (app), 008_x.sql (app, could not be classified). The code of v1 was written for the schema before them and may fail on it. Nothing was changed. Roll back with restore-db (code and database go back together), or roll back the code alone with allow-contract set to the reason (it is recorded in the ledger).",
    );
  });
});

describe("schemaPlan: pending migrations and rollback targets at pull-request time", () => {
  const f = (name: string, c: "expand" | "contract" | "unknown" = "expand") => ({ name, version: name.slice(0, 3), findings: [], class: c, because: [], allowed: [] });
  const lint = (database: string, ...files: ReturnType<typeof f>[]) => ({ database, dir: "migrations", files });
  const app = lint("app", f("001_a.sql"), f("002_drop.sql", "contract"), f("003_b.sql"), f("004_c.sql"));

  it("pending: the files after the head of the newest deploy that recorded one; a rollback records none and moves nothing", () => {
    const p = schemaPlan([app], ["app"], [{ release: "rb", sha: "s0", rollback: true }, { release: "r3", sha: "s3" }, { release: "r2", sha: "s2", migrationHead: "002" }, { release: "r1", sha: "s1", migrationHead: "001" }]);
    expect(p.from).toEqual({ head: "002", release: "r2" });
    expect(p.pending!.map((x) => [x.database, x.files.map((y) => y.name)])).toEqual([["app", ["003_b.sql", "004_c.sql"]]]);
    expect(p.targets.map((t) => [t.release, t.crosses])).toEqual([["r3", []], ["r2", []], ["r1", ["002_drop.sql"]]]);
  });

  it("no deploy yet: every file is pending; deploys without a head: not known, saying why", () => {
    expect(schemaPlan([app], ["app"], []).pending![0]!.files).toHaveLength(4);
    const p = schemaPlan([app], ["app"], [{ release: "r1", sha: "s1" }]);
    expect(p.pending).toBeUndefined();
    expect(p.unknown).toBe("no deploy of this environment recorded a migration head (deploy-*'s migration-head input)");
    expect(p.targets).toEqual([{ release: "r1", sha: "s1", crosses: undefined }]);
  });

  it("a contract migration in the pull request leaves no safe target; heads are per database, in file order", () => {
    const other = lint("other", f("010_x.sql"), f("011_rename.sql", "contract"));
    const p = schemaPlan([app, other], ["app", "alembic-db", "other"], [{ release: "r2", sha: "s2", migrationHead: "004 abc123 010" }, { release: "r1", sha: "s1", migrationHead: "002 abc123 010" }]);
    expect(p.pending!.map((x) => x.files.map((y) => y.name))).toEqual([[], ["011_rename.sql"]]);
    expect(p.targets.map((t) => t.crosses)).toEqual([["011_rename.sql"], ["011_rename.sql"]]);
    expect(schemaPlan([app], ["app", "other"], [{ release: "r1", sha: "s1", migrationHead: "002" }]).unknown).toBe("the recorded head '002' does not name a known version for each database with migrations (app, other)");
  });

  it("the comment section: the files with class and lint, and each target's verdict", () => {
    const md = schemaSection(schemaPlan([app], ["app"], [{ release: "r1", sha: "1234567890", migrationHead: "001" }]));
    expect(md).toContain("**Migrations this deploy will run** (after migration head 001, recorded by the deploy of r1), in order:");
    expect(md).toContain("| app | 002_drop.sql | **contract** | ✅ clean |");
    expect(md).toContain("| r1 | 1234567 | ⚠️ only with restore-db: crosses 002_drop.sql |");
    expect(schemaSection({ unknown: "no github-token to read the environment's deployments with" })).toBe("**Migrations this deploy will run:** not known: no github-token to read the environment's deployments with. apply-migrations decides against the database during the deploy.\n\n");
  });
});
