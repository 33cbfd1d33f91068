import { describe, expect, it } from "vitest";
import { loadEnvironment } from "../../src/config/load.js";
import { parseNameStatus, planComment, planMarker, relevantChanges } from "../../src/github/plan-comment.js";

const changed = parseNameStatus(
  ["M\tenvironments/nas.yml", "A\texamples/nas-collectors/schema/007_funding_rates.sql", "M\texamples/nas-collectors/app/docker-compose-lifecycle.yml", "R100\tdocs/old.md\tdocs/new.md", "M\tsrc/cli/main.ts", "M\t.github/workflows/deploy.yml", ""].join("\n"),
);

describe("plan comment", () => {
  it("parses git diff --name-status (a rename counts as its new path)", () => {
    expect(changed).toEqual([
      { status: "M", path: "environments/nas.yml" },
      { status: "A", path: "examples/nas-collectors/schema/007_funding_rates.sql" },
      { status: "M", path: "examples/nas-collectors/app/docker-compose-lifecycle.yml" },
      { status: "R", path: "docs/new.md" },
      { status: "M", path: "src/cli/main.ts" },
      { status: "M", path: ".github/workflows/deploy.yml" },
    ]);
  });

  it("lists the changed files that concern the environment: its file, migrations, compose files, deploy workflows", () => {
    expect(relevantChanges(loadEnvironment("nas"), changed)).toEqual([
      ["environment file", ["environments/nas.yml (changed)"]],
      ["deploy workflows", [".github/workflows/deploy.yml (changed)"]],
      ["migrations of crypto (examples/nas-collectors/schema)", ["examples/nas-collectors/schema/007_funding_rates.sql (new)"]],
      ["release of collectors (examples/nas-collectors/app)", ["examples/nas-collectors/app/docker-compose-lifecycle.yml (changed)"]],
      // named relative to the release
      ["compose files of collectors", ["examples/nas-collectors/app/docker-compose-lifecycle.yml (changed)"]],
    ]);
    expect(relevantChanges(loadEnvironment("production"), changed)).toEqual([["deploy workflows", [".github/workflows/deploy.yml (changed)"]]]);
  });

  it("starts with the environment's hidden marker and carries the plan", () => {
    const md = planComment(loadEnvironment("nas"), changed, { sha: "a84d88e7554fc1fa", runUrl: "https://github.com/o/r/actions/runs/1" });
    expect(md.startsWith(`${planMarker("nas")}\n### slipway plan: \`nas\`\n`)).toBe(true);
    expect(planMarker("nas")).toBe("<!-- slipway-plan:nas -->");
    expect(md).toContain("<sub>commit a84d88e · [run](https://github.com/o/r/actions/runs/1)</sub>");
    expect(md).toContain("| migrations of crypto (examples/nas-collectors/schema) | examples/nas-collectors/schema/007_funding_rates.sql (new) |");
    expect(md).toContain("Plan for environment nas:");
    expect(planComment(loadEnvironment("recio"), [])).toContain("This pull request changes nothing that `recio` deploys.");
  });
});
