// Expand / contract: each migration classified from the lint's parse (src/lint/migrations.ts
// classifyMigrationSql), recorded by the deploy that applied it, and a rollback that would give old
// code a schema it cannot use refused before anything changes (src/operations/rollback.ts).
import { describe, expect, it } from "vitest";
import { classifyMigrationSql } from "../../src/lint/migrations.js";
import { migrationSession } from "../../src/commands/postgres.js";
import { parseAppliedMigrations, type AppliedMigrationRecord } from "../../src/ledger/ledger.js";
import { contractsSince, refusalMessage, type LedgerEntry } from "../../src/operations/rollback.js";
import type { MigrationFile } from "../../src/operations/migrations.js";

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
