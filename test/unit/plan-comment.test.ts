import { describe, expect, it } from "vitest";
import { loadEnvironment } from "../../src/config/load.js";
import { lintSection, parseNameStatus, planComment, planMarker, relevantChanges } from "../../src/github/plan-comment.js";

const NAS = "test/fixtures/environments/nas.yml";
const changed = parseNameStatus(
  ["M\ttest/fixtures/environments/nas.yml", "A\texamples/nas-collectors/schema/007_funding_rates.sql", "M\texamples/nas-collectors/app/docker-compose-lifecycle.yml", "R100\tdocs/old.md\tdocs/new.md", "M\tsrc/cli/main.ts", "M\t.github/workflows/deploy.yml", ""].join("\n"),
);

describe("plan comment", () => {
  it("parses git diff --name-status (a rename counts as its new path)", () => {
    expect(changed).toEqual([
      { status: "M", path: "test/fixtures/environments/nas.yml" },
      { status: "A", path: "examples/nas-collectors/schema/007_funding_rates.sql" },
      { status: "M", path: "examples/nas-collectors/app/docker-compose-lifecycle.yml" },
      { status: "R", path: "docs/new.md" },
      { status: "M", path: "src/cli/main.ts" },
      { status: "M", path: ".github/workflows/deploy.yml" },
    ]);
  });

  it("lists the changed files that concern the environment: its file, migrations, compose files, deploy workflows", () => {
    expect(relevantChanges(loadEnvironment(NAS), changed)).toEqual([
      ["environment file", ["test/fixtures/environments/nas.yml (changed)"]],
      ["deploy workflows", [".github/workflows/deploy.yml (changed)"]],
      ["migrations of crypto (examples/nas-collectors/schema)", ["examples/nas-collectors/schema/007_funding_rates.sql (new)"]],
      ["release of collectors (examples/nas-collectors/app)", ["examples/nas-collectors/app/docker-compose-lifecycle.yml (changed)"]],
      // named relative to the release
      ["compose files of collectors", ["examples/nas-collectors/app/docker-compose-lifecycle.yml (changed)"]],
    ]);
    expect(relevantChanges(loadEnvironment("test/fixtures/environments/production.yml"), changed)).toEqual([["deploy workflows", [".github/workflows/deploy.yml (changed)"]]]);
  });

  it("starts with the environment's hidden marker and carries the plan", () => {
    const md = planComment(loadEnvironment(NAS), changed, { sha: "a84d88e7554fc1fa", runUrl: "https://github.com/o/r/actions/runs/1" });
    expect(md.startsWith(`${planMarker("nas")}\n### slipway plan: \`nas\`\n`)).toBe(true);
    expect(planMarker("nas")).toBe("<!-- slipway-plan:nas -->");
    expect(md).toContain("<sub>commit a84d88e · [run](https://github.com/o/r/actions/runs/1)</sub>");
    expect(md).toContain("| migrations of crypto (examples/nas-collectors/schema) | examples/nas-collectors/schema/007_funding_rates.sql (new) |");
    expect(md).toContain("Plan for environment nas:");
    expect(planComment(loadEnvironment("test/fixtures/environments/recio.yml"), [])).toContain("This pull request changes nothing that `recio` deploys.");
  });

  it("shows the migration lint as a table: errors, warnings, allowed findings with their reason", () => {
    const base = { file: "m/002.sql", line: 3, col: 1, why: "w.", instead: "Do it in two deploys." };
    const md = lintSection(
      [
        { ...base, rule: "ban-drop-column", severity: "error", message: "DROP COLUMN trades.venue: deletes the column" },
        { ...base, line: 7, rule: "require-lock-timeout", severity: "warn", message: "ALTER TABLE trades without lock_timeout" },
        { ...base, line: 9, rule: "ban-drop-table", severity: "error", message: "DROP TABLE old", allowed: "archived (ticket 42)" },
      ],
      2,
    );
    expect(md).toContain("**Migration lint** (PostgreSQL's parser): 1 error(s): apply-migrations refuses a pending file with one");
    expect(md).toContain("| m/002.sql:3 | `ban-drop-column` | ❌ error | DROP COLUMN trades.venue: deletes the column. Do it in two deploys. |");
    expect(md).toContain("| m/002.sql:7 | `require-lock-timeout` | ⚠️ warning |");
    expect(md).toContain("| m/002.sql:9 | `ban-drop-table` | ☑️ allowed | DROP TABLE old — archived (ticket 42) |");
    expect(lintSection([], 3)).toBe("**Migration lint:** 3 migration file(s), no finding.\n\n");
    expect(lintSection([], 0, ["The alembic revisions of goldfinch were not linted: alembic is not installed on the runner"])).toBe("> [!WARNING]\n> The alembic revisions of goldfinch were not linted: alembic is not installed on the runner\n\n");
    expect(lintSection([], 0)).toBe("");
  });
});
