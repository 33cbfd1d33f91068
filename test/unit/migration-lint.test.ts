import { describe, expect, it } from "vitest";
import { formatFinding, LINT_RULES, lintMigrationSql, type LintFinding, type LintRule } from "../../src/lint/migrations.js";

// files that set a lock timeout first, so each case shows only the rule under test
const TIMEOUT = "SET lock_timeout = '5s';\n";
const lint = (sql: string, o?: Parameters<typeof lintMigrationSql>[2]) => lintMigrationSql(sql, "001_x.sql", o);
const rules = async (sql: string, o?: Parameters<typeof lintMigrationSql>[2]) => (await lint(TIMEOUT + sql, o)).map((f) => f.rule);

// [rule, SQL that breaks it, SQL that does not]
const cases: [LintRule, string, string][] = [
  ["ban-drop-table", "DROP TABLE trades;", "DROP VIEW trades_v;"],
  ["ban-drop-column", "ALTER TABLE trades DROP COLUMN price;", "ALTER TABLE trades DROP CONSTRAINT price_check;"],
  ["ban-drop-schema", "DROP SCHEMA legacy CASCADE;", "CREATE SCHEMA legacy;"],
  ["ban-truncate", "TRUNCATE trades;", "DELETE FROM trades WHERE ts < now() - interval '1 year';"],
  ["unqualified-delete", "DELETE FROM trades;", "DELETE FROM trades WHERE id = 1;"],
  ["unqualified-update", "UPDATE trades SET qty = 0;", "UPDATE trades SET qty = 0 WHERE qty IS NULL;"],
  ["renaming-table", "ALTER TABLE trades RENAME TO deals;", "ALTER INDEX trades_pkey RENAME TO deals_pkey;"],
  ["renaming-column", "ALTER TABLE trades RENAME COLUMN px TO price;", "ALTER VIEW trades_v RENAME COLUMN px TO price;"],
  ["changing-column-type", "ALTER TABLE trades ALTER COLUMN qty TYPE bigint;", "ALTER TABLE trades ALTER COLUMN qty SET DEFAULT 0;"],
  ["adding-not-nullable-field", "ALTER TABLE trades ADD COLUMN venue text NOT NULL;", "ALTER TABLE trades ADD COLUMN venue text NOT NULL DEFAULT 'x';"],
  ["setting-not-nullable-field", "ALTER TABLE trades ALTER COLUMN venue SET NOT NULL;", "ALTER TABLE trades ALTER COLUMN venue DROP NOT NULL;"],
  [
    "adding-foreign-key-constraint",
    "ALTER TABLE trades ADD CONSTRAINT fk FOREIGN KEY (acc) REFERENCES accounts (id);",
    "ALTER TABLE trades ADD CONSTRAINT fk FOREIGN KEY (acc) REFERENCES accounts (id) NOT VALID;",
  ],
  ["constraint-missing-not-valid", "ALTER TABLE trades ADD CONSTRAINT pos CHECK (qty > 0);", "ALTER TABLE trades ADD CONSTRAINT pos CHECK (qty > 0) NOT VALID;"],
  ["require-concurrent-index-creation", "CREATE INDEX trades_ts ON trades (ts);", "CREATE TABLE t2 (ts int);\nCREATE INDEX t2_ts ON t2 (ts);"],
  ["require-concurrent-index-deletion", "DROP INDEX trades_ts;", "-- slipway:no-transaction\nDROP INDEX CONCURRENTLY trades_ts;"],
  ["concurrently-in-transaction", "CREATE INDEX CONCURRENTLY trades_ts ON trades (ts);", "-- slipway:no-transaction\nCREATE INDEX CONCURRENTLY trades_ts ON trades (ts);"],
];

describe("lintMigrationSql: each rule", () => {
  it.each(cases)("%s: flags the bad statement, not the safe one", async (rule, bad, good) => {
    expect(await rules(bad)).toContain(rule);
    expect(await rules(good)).not.toContain(rule);
  });

  it("require-lock-timeout: once per file, at the first ACCESS EXCLUSIVE statement on an existing table", async () => {
    const sql = "CREATE TABLE n (id int);\nALTER TABLE n ADD COLUMN x int;\nALTER TABLE trades ADD COLUMN y int;\nDROP INDEX i;\n";
    const found = (await lint(sql)).filter((f) => f.rule === "require-lock-timeout");
    expect(found.map((f) => [f.line, f.message])).toEqual([
      [3, "ALTER TABLE trades with no lock_timeout set: while it waits for its ACCESS EXCLUSIVE lock, every query on the table queues behind it"],
    ]);
    for (const set of ["SET lock_timeout = '2s';", "SET LOCAL lock_timeout TO 2000;"]) {
      expect((await lint(`${set}\n${sql}`)).map((f) => f.rule)).not.toContain("require-lock-timeout");
    }
    // 0 disables the timeout; SET LOCAL outside a transaction lasts for nothing
    expect((await lint(`SET lock_timeout = 0;\n${sql}`)).map((f) => f.rule)).toContain("require-lock-timeout");
    expect((await lint(`-- slipway:no-transaction\nSET LOCAL lock_timeout = '2s';\n${sql}`)).map((f) => f.rule)).toContain("require-lock-timeout");
    expect((await lint("TRUNCATE t;")).map((f) => f.rule)).toEqual(["ban-truncate", "require-lock-timeout"]);
    expect((await lint("ALTER TABLE t RENAME COLUMN a TO b;")).map((f) => f.rule)).toEqual(["renaming-column", "require-lock-timeout"]);
    expect(await lint("CREATE INDEX CONCURRENTLY i ON t (x);\nSELECT 1;\n", { noTransaction: true })).toEqual([]);
  });

  it("exempts tables created earlier in the file from the index, not-null, constraint and lock-timeout rules", async () => {
    const sql = [
      "CREATE TABLE fills (id bigint, acc int);",
      "CREATE INDEX fills_acc ON fills (acc);",
      "ALTER TABLE fills ADD COLUMN venue text NOT NULL, ALTER COLUMN id SET NOT NULL;",
      "ALTER TABLE public.fills ADD CONSTRAINT fk FOREIGN KEY (acc) REFERENCES accounts (id), ADD CHECK (acc > 0);",
    ].join("\n");
    expect(await lint(sql)).toEqual([]);
    // the same statements on a table created before this file are all flagged
    expect((await lint(sql.replace("CREATE TABLE fills", "CREATE TABLE other"))).map((f) => f.rule)).toEqual([
      "require-concurrent-index-creation",
      "adding-not-nullable-field",
      "setting-not-nullable-field",
      "require-lock-timeout",
      "adding-foreign-key-constraint",
      "constraint-missing-not-valid",
    ]);
  });

  it("names the object, the inline foreign key and the new column", async () => {
    const msgs = (await lint(TIMEOUT + "ALTER TABLE s.trades ADD COLUMN acc int NOT NULL REFERENCES accounts (id), ALTER COLUMN px TYPE numeric(12,4);\nDROP TABLE a, s.b;")).map((f) => f.message);
    expect(msgs).toEqual([
      "ALTER TABLE s.trades ADD COLUMN acc NOT NULL without DEFAULT: fails if the table has any rows",
      "ALTER TABLE s.trades ADD COLUMN acc REFERENCES accounts: validates every row while blocking writes to both tables",
      "ALTER TABLE s.trades ALTER COLUMN px TYPE numeric: may rewrite the table under an ACCESS EXCLUSIVE lock",
      "DROP TABLE a: deletes the table and every row in it",
      "DROP TABLE s.b: deletes the table and every row in it",
    ]);
  });

  it("counts an explicit BEGIN … COMMIT in a no-transaction file as a transaction", async () => {
    const sql = "-- slipway:no-transaction\nBEGIN;\nCREATE INDEX CONCURRENTLY i ON t (x);\nCOMMIT;\nDROP INDEX CONCURRENTLY j;\n";
    expect((await lint(sql)).map((f) => [f.rule, f.line])).toEqual([["concurrently-in-transaction", 3]]);
  });
});

describe("positions", () => {
  it("points at the first character of each statement, past blank lines and comments", async () => {
    const sql = [
      "-- 007: trades cleanup", // 1
      "SET lock_timeout = '3s';", // 2
      "", // 3
      "/* old data, archived", // 4
      "   to S3 */   DROP TABLE trades_2019;", // 5
      "  -- the next one", // 6
      "", // 7
      "\tDELETE FROM fills; UPDATE fills", // 8
      "  SET qty = 0;", // 9
      "SELECT 'é😀'; TRUNCATE x;", // 10: columns count characters, not UTF-8 bytes
    ].join("\n");
    const found = (await lint(sql)).map((f) => `${f.line}:${f.col} ${f.rule}`);
    expect(found).toEqual(["5:15 ban-drop-table", "8:2 unqualified-delete", "8:21 unqualified-update", "10:14 ban-truncate"]);
  });

  it("a syntax error is the file's only finding, at PostgreSQL's position, and cannot be turned off", async () => {
    const sql = "DROP TABLE a;\n-- é\nSELECT 'é',, 1;\n";
    const expected = { rule: "syntax-error", severity: "error", line: 3, col: 12, message: 'syntax error at or near ","' };
    expect(await lint(sql)).toEqual([expect.objectContaining(expected)]);
    expect(await lint(sql, { severities: { "syntax-error": "off" } })).toEqual([expect.objectContaining(expected)]);
    expect(await lint("SELECT 1;\nSELECT (1")).toEqual([expect.objectContaining({ line: 2, col: 10, message: "syntax error at end of input" })]);
  });

  it("an empty or comment-only file has no findings", async () => {
    expect(await lint("")).toEqual([]);
    expect(await lint("-- nothing yet\n/* really */\n")).toEqual([]);
  });
});

describe("-- slipway:allow", () => {
  const drop = (comment: string) => lint(`${TIMEOUT}${comment}DROP TABLE trades_2019;\n`);

  it("above the statement (through other comment lines) or at the end of its first line: kept, allowed, never an error", async () => {
    for (const [comment, line] of [
      ["-- slipway:allow ban-drop-table archived to S3 in #42\n-- reviewed\n", 4],
      ["-- slipway:allow ban-drop-table archived to S3 in #42\n", 3],
    ] as const) {
      const [f] = await drop(comment);
      expect(f).toMatchObject({ rule: "ban-drop-table", severity: "error", allowed: "archived to S3 in #42" });
      expect(formatFinding(f!)).toBe(`001_x.sql:${line}:1: allowed [ban-drop-table] DROP TABLE trades_2019: deletes the table and every row in it (archived to S3 in #42)`);
    }
    const [f] = await lint(`${TIMEOUT}DROP TABLE t; -- slipway:allow ban-drop-table empty since v2\n`);
    expect(f!.allowed).toBe("empty since v2");
  });

  it("does not reach past a blank line, another rule, or another statement", async () => {
    expect((await drop("-- slipway:allow ban-drop-table ok\n\n"))[0]!.allowed).toBeUndefined();
    expect((await drop("-- slipway:allow ban-truncate ok\n"))[0]!.allowed).toBeUndefined();
    expect((await drop("-- slipway:allow ban-drop-table ok\nSELECT 1;\n"))[0]!.allowed).toBeUndefined();
  });

  it("without a reason: the finding stands, with its severity, and says a reason is required", async () => {
    const [f] = await drop("-- slipway:allow ban-drop-table\n");
    expect(f).toMatchObject({ rule: "ban-drop-table", severity: "error" });
    expect(f!.allowed).toBeUndefined();
    expect(f!.message).toBe("DROP TABLE trades_2019: deletes the table and every row in it (-- slipway:allow ban-drop-table needs a reason after the rule name)");
  });
});

describe("severities and no-transaction", () => {
  it("off removes a rule, error and warn override the default", async () => {
    const sql = `${TIMEOUT}DROP TABLE t;\nCREATE INDEX i ON u (x);\n`;
    const sev = async (o?: Parameters<typeof lintMigrationSql>[2]) => (await lint(sql, o)).map((f) => `${f.rule}:${f.severity}`);
    expect(await sev()).toEqual(["ban-drop-table:error", "require-concurrent-index-creation:warn"]);
    expect(await sev({ severities: { "ban-drop-table": "off", "require-concurrent-index-creation": "error" } })).toEqual(["require-concurrent-index-creation:error"]);
    expect(await sev({ severities: { "ban-drop-table": "warn" } })).toEqual(["ban-drop-table:warn", "require-concurrent-index-creation:warn"]);
  });

  it("detects the -- slipway:no-transaction line, and the option overrides it", async () => {
    const idx = "CREATE INDEX CONCURRENTLY i ON t (x);\n";
    expect(await lint(`-- slipway:no-transaction\n${idx}`)).toEqual([]);
    expect(await lint(`--   slipway:no-transaction  \n${TIMEOUT}${idx}`)).toEqual([]);
    expect((await lint(`-- not slipway:no-transaction here\n${idx}`)).map((f) => f.rule)).toEqual(["concurrently-in-transaction"]);
    expect((await lint(`-- slipway:no-transaction\n${idx}`, { noTransaction: false })).map((f) => f.rule)).toEqual(["concurrently-in-transaction"]);
    expect(await lint(idx, { noTransaction: true })).toEqual([]);
  });
});

describe("formatFinding and LINT_RULES", () => {
  it("formats an open finding with why and instead", async () => {
    const [f] = await lint(`${TIMEOUT}  CREATE INDEX i ON trades (ts);`);
    expect(formatFinding(f as LintFinding)).toBe(
      "001_x.sql:2:3: warn [require-concurrent-index-creation] CREATE INDEX i ON trades without CONCURRENTLY: blocks writes to the table while it builds" +
        " — Building the index blocks every write to the table until it is done; instead: CREATE INDEX CONCURRENTLY in a file marked -- slipway:no-transaction.",
    );
  });

  it("data-loss rules and syntax errors default to error, the rest to warn", () => {
    const errors = Object.entries(LINT_RULES).filter(([, r]) => r.default === "error").map(([k]) => k);
    expect(errors.sort()).toEqual(["ban-drop-column", "ban-drop-schema", "ban-drop-table", "ban-truncate", "syntax-error", "unqualified-delete", "unqualified-update"]);
    for (const r of Object.values(LINT_RULES)) expect(r.why.length * r.instead.length * r.title.length).toBeGreaterThan(0);
  });
});
