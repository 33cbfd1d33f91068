// The release script's pure parts (the whole script runs in a throwaway clone: test/integration/release.test.ts).
import { describe, expect, it } from "vitest";
import { compareVersions, releaseChangelog, withVersion } from "../../scripts/release.js";

const changelog = `# Changelog

Intro.

## [Unreleased]

### Added
- a thing

## [0.1.0] - 2026-11-23

- the first
`;

describe("release script", () => {
  it("compares X.Y.Z numerically", () => {
    expect(compareVersions("0.10.0", "0.9.9")).toBe(1);
    expect(compareVersions("1.2.3", "1.2.3")).toBe(0);
    expect(compareVersions("1.2.3", "2.0.0")).toBe(-1);
  });

  it("sets the version of package.json and of the lockfile's root package", () => {
    const lock = JSON.stringify({ name: "x", version: "0.1.0", packages: { "": { version: "0.1.0" }, "node_modules/a": { version: "0.1.0" } } });
    expect(JSON.parse(withVersion(lock, "0.2.0"))).toEqual({ name: "x", version: "0.2.0", packages: { "": { version: "0.2.0" }, "node_modules/a": { version: "0.1.0" } } });
    expect(withVersion('{"version":"1.0.0"}', "1.0.1")).toBe('{\n  "version": "1.0.1"\n}\n');
  });

  it("moves the Unreleased notes under the new version and leaves an empty Unreleased", () => {
    expect(releaseChangelog(changelog, "0.2.0", "2026-12-03")).toBe(`# Changelog

Intro.

## [Unreleased]

## [0.2.0] - 2026-12-03

### Added
- a thing

## [0.1.0] - 2026-11-23

- the first
`);
  });

  it("refuses an empty Unreleased section, a version already there, and a changelog without Unreleased", () => {
    const released = releaseChangelog(changelog, "0.2.0", "2026-12-03");
    expect(() => releaseChangelog(released, "0.3.0", "2026-12-03")).toThrow(/Unreleased section is empty/);
    expect(() => releaseChangelog(changelog, "0.1.0", "2026-12-03")).toThrow(/already has a section for 0.1.0/);
    expect(() => releaseChangelog("# Changelog\n", "0.2.0", "2026-12-03")).toThrow(/no '## \[Unreleased\]'/);
  });
});
