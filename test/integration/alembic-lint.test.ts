// alembic revisions through the migration lint: the real alembic on this machine prints the SQL of
// the pending revisions offline (no database), cut per revision and parsed by PostgreSQL's parser;
// classified expand / contract like SQL files; without alembic, or with an env.py that cannot run
// offline, the revisions are reported as not linted, saying why.
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { lintAlembicRevisions, splitRevisions } from "../../src/operations/alembic-lint.js";

const ETF = path.resolve("examples/etf-service/app");

function projectWith(revision: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-alembic-lint-"));
  cpSync(ETF, dir, { recursive: true, filter: (src) => !src.includes("__pycache__") && !src.startsWith(path.join(ETF, "etf")) });
  writeFileSync(path.join(dir, "alembic", "versions", "0003_drop_source.py"), revision);
  return dir;
}

describe("alembic revisions, linted from their offline SQL", () => {
  it("splitRevisions: one piece per revision, each with its own BEGIN; the version table's creation belongs to none", () => {
    const sql = "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL);\n\nBEGIN;\n\n-- Running upgrade  -> 0001\n\nCREATE TABLE a (id int);\n\nCOMMIT;\n\nBEGIN;\n\n-- Running upgrade 0001 -> 0002\n\nDROP TABLE a;\n\nCOMMIT;\n";
    const parts = splitRevisions(sql);
    expect(parts.map((p) => p.revision)).toEqual(["0001", "0002"]);
    expect(parts[0]!.sql).toMatch(/^BEGIN;\n[\s\S]*CREATE TABLE a \(id int\);\n\nCOMMIT;\n*$/);
    expect(parts[1]!.sql).toMatch(/^BEGIN;\n[\s\S]*DROP TABLE a;\n\nCOMMIT;\n*$/);
    expect(parts.map((p) => p.sql).join("")).not.toContain("alembic_version (version_num");
  });

  it("the seed's revisions (from the base): expand, each finding at its revision file's upgrade()", async () => {
    const r = await lintAlembicRevisions(ETF, "app", {});
    expect(r.notLinted).toBeUndefined();
    expect(r.files.map((f) => [f.name, f.version, f.class])).toEqual([["0001_etf.py", "0001", "expand"], ["0002_etf_updates.py", "0002", "expand"]]);
    // 0002 creates an index on the table it creates: nothing to say; from 0001 on, only 0002 is pending
    expect((await lintAlembicRevisions(ETF, "app", { from: "0001" })).files.map((f) => f.version)).toEqual(["0002"]);
  });

  it("a revision that drops a column is contract, and its finding points at the .py file with the SQL line", async () => {
    const dir = projectWith(`"""drop etf_updates.source"""
revision = "0003"
down_revision = "0002"
from alembic import op


def upgrade():
    op.drop_column("etf_updates", "source")


def downgrade():
    pass
`);
    const r = await lintAlembicRevisions(dir, "app", { from: "0002" });
    expect(r.files).toHaveLength(1);
    const [f] = r.files;
    expect(f).toMatchObject({ name: "0003_drop_source.py", version: "0003", class: "contract" });
    const drop = f!.findings.find((x) => x.rule === "ban-drop-column")!;
    expect(drop).toMatchObject({ file: "app/alembic/versions/0003_drop_source.py", line: 7, col: 1, severity: "error" });
    expect(drop.message).toMatch(/^ALTER TABLE etf_updates DROP COLUMN source: deletes the column and its data \(revision 0003, line \d+ of its SQL from alembic upgrade --sql\)$/);
    // severities from the environment file apply as to SQL files
    const off = await lintAlembicRevisions(dir, "app", { from: "0002", severities: { "ban-drop-column": "off", "require-lock-timeout": "off" } });
    expect(off.files[0]!.findings).toEqual([]);
    expect(off.files[0]!.class).toBe("contract");
  });

  it("not linted, saying why: no alembic on the runner; an env.py that only runs online", async () => {
    const saved = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      expect(await lintAlembicRevisions(ETF, "app", {})).toEqual({ files: [], notLinted: "alembic is not installed on the runner (apt-get install alembic, or pip install alembic)" });
    } finally {
      process.env.PATH = saved;
    }
    const online = projectWith('revision = "0003"\ndown_revision = "0002"\ndef upgrade():\n    pass\n');
    writeFileSync(path.join(online, "alembic", "env.py"), 'import os\nfrom sqlalchemy import create_engine\nfrom alembic import context\nwith create_engine(os.environ["DATABASE_URL"]).connect() as c:\n    context.configure(connection=c)\n    context.run_migrations()\n');
    const r = await lintAlembicRevisions(online, "app", { from: "0002" });
    expect(r.files).toEqual([]);
    expect(r.notLinted).toMatch(/^`alembic upgrade 0002:head --sql` failed in .* \(KeyError: 'DATABASE_URL'\); env\.py needs an offline branch \(context\.is_offline_mode\(\)\)$/);
  });
});
