// scripts/release.ts run for real in a throwaway clone of this repository (--skip-build: the clone
// has no node_modules; the build and dist checks are npm run build / check:dist, tested elsewhere):
// it refuses a dirty tree, then commits, tags vX.Y.Z, moves vX, pushes nothing.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../harness/runner.js";
import { tempDirs } from "../harness/temp.js";

const temp = tempDirs();
const tsx = path.join(ROOT, "node_modules/.bin/tsx");
const identity = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.invalid", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.invalid" };
let clone: string;
const git = (...args: string[]) => execFileSync("git", args, { cwd: clone, encoding: "utf8", env: { ...process.env, ...identity } }).trim();
const release = (...args: string[]) => spawnSync(tsx, [path.join(ROOT, "scripts/release.ts"), ...args, "--skip-build"], { cwd: clone, encoding: "utf8", env: { ...process.env, ...identity }, timeout: 60_000 });
const version = () => (JSON.parse(readFileSync(path.join(clone, "package.json"), "utf8")) as { version: string }).version;

beforeAll(() => {
  clone = path.join(temp("slipway-release-"), "slipway");
  execFileSync("git", ["clone", "-q", "--no-hardlinks", ROOT, clone]);
  // the clone is the last commit: give it this checkout's changelog (with notes under Unreleased)
  writeFileSync(path.join(clone, "CHANGELOG.md"), readFileSync(path.join(ROOT, "CHANGELOG.md"), "utf8"));
  git("add", "CHANGELOG.md");
  git("commit", "-q", "--allow-empty", "-m", "changelog");
});

describe("npm run release", () => {
  it("refuses a dirty tree and a version that is not newer", () => {
    writeFileSync(path.join(clone, "stray.txt"), "x");
    const dirty = release("9.0.0");
    expect(dirty.status).toBe(1);
    expect(dirty.stderr).toContain("the working tree is not clean");
    expect(dirty.stderr).toContain("stray.txt");
    execFileSync("rm", [path.join(clone, "stray.txt")]);
    const old = release(version());
    expect(old.status).toBe(1);
    expect(old.stderr).toContain("is not newer than package.json's");
    expect(git("status", "--porcelain")).toBe("");
  });

  it("sets the version, moves the changelog's notes, commits, tags vX.Y.Z and moves vX; pushes nothing", () => {
    const [major, minor] = version().split(".").map(Number);
    const next = `${major}.${minor! + 1}.0`;
    const r = release(next);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`git push --force origin v${major}`);
    expect(version()).toBe(next);
    const lock = JSON.parse(readFileSync(path.join(clone, "package-lock.json"), "utf8"));
    expect([lock.version, lock.packages[""].version]).toEqual([next, next]);
    const changelog = readFileSync(path.join(clone, "CHANGELOG.md"), "utf8");
    expect(changelog).toMatch(new RegExp(`## \\[Unreleased\\]\\n\\n## \\[${next.replace(/\./g, "\\.")}\\] - \\d{4}-\\d{2}-\\d{2}\\n\\n### Added\\n`));
    expect(git("status", "--porcelain")).toBe("");
    expect(git("log", "-1", "--format=%s")).toBe(`Release v${next}`);
    const head = git("rev-parse", "HEAD");
    expect(git("rev-parse", `v${next}^{commit}`)).toBe(head);
    expect(git("rev-parse", `v${major}^{commit}`)).toBe(head);
    expect(git("ls-remote", "--tags", "origin", `v${next}`, `v${major}`)).toBe(""); // nothing pushed

    // the next release moves the major tag; an empty Unreleased section is refused first
    expect(release(`${major}.${minor! + 1}.1`).stderr).toContain("Unreleased section is empty");
    writeFileSync(path.join(clone, "CHANGELOG.md"), changelog.replace("## [Unreleased]\n", "## [Unreleased]\n\n### Fixed\n- a fix\n"));
    git("commit", "-q", "-am", "notes");
    expect(release(`${major}.${minor! + 1}.1`).status).toBe(0);
    expect(git("rev-parse", `v${major}^{commit}`)).toBe(git("rev-parse", "HEAD"));
    expect(git("rev-parse", `v${next}^{commit}`)).toBe(head);
  });
});
