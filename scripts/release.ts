// npm run release -- X.Y.Z [--skip-build]
// Cuts a release on a clean tree: checks that the committed bundles match the sources (check:dist),
// sets the version (package.json and package-lock.json), moves CHANGELOG.md's Unreleased notes under
// "## [X.Y.Z] - <date>", rebuilds (the CLI bundle carries the version, schema.json's $id the major),
// commits, tags vX.Y.Z and moves the major tag vX to it (the actions/toolkit convention: `uses: …@vX`
// follows compatible releases). It never pushes: it prints the commands that publish.
// --skip-build skips check:dist and the build (a checkout without node_modules, e.g. the test's clone).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

const VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
const UNRELEASED = /^## \[?Unreleased\]?[^\n]*\n/im;

/** -1, 0 or 1 as a is older, equal or newer than b (X.Y.Z only). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return Math.sign(pa[i]! - pb[i]!);
  return 0;
}

/** package.json or package-lock.json with its version (and the lockfile's root package's) set. */
export function withVersion(json: string, version: string): string {
  const doc = JSON.parse(json) as { version?: string; packages?: Record<string, { version?: string }> };
  doc.version = version;
  if (doc.packages?.[""]) doc.packages[""].version = version;
  return JSON.stringify(doc, null, 2) + "\n";
}

/** The changelog with the Unreleased notes under a new version heading, and an empty Unreleased above it. */
export function releaseChangelog(text: string, version: string, date: string): string {
  const head = UNRELEASED.exec(text);
  if (!head) throw new Error("CHANGELOG.md has no '## [Unreleased]' section");
  if (new RegExp(`^## \\[?${version.replace(/\./g, "\\.")}\\]?`, "m").test(text)) throw new Error(`CHANGELOG.md already has a section for ${version}`);
  const start = head.index + head[0].length;
  const next = text.slice(start).search(/^## /m);
  const end = next === -1 ? text.length : start + next;
  const notes = text.slice(start, end).trim();
  if (!notes) throw new Error("CHANGELOG.md's Unreleased section is empty: say what this release changes first");
  return `${text.slice(0, start)}\n## [${version}] - ${date}\n\n${notes}\n\n${text.slice(end)}`.replace(/\n{3,}/g, "\n\n").replace(/\n*$/, "\n");
}

const git = (...args: string[]) => execFileSync("git", args, { encoding: "utf8" }).trim();
const npm = (...args: string[]) => execFileSync("npm", args, { stdio: "inherit" });

function release(version: string, skipBuild: boolean): void {
  if (!VERSION.test(version)) throw new Error(`'${version}' is not a version X.Y.Z`);
  const dirty = git("status", "--porcelain");
  if (dirty) throw new Error(`the working tree is not clean; commit or stash first:\n${dirty}`);
  const tag = `v${version}`;
  if (git("tag", "--list", tag)) throw new Error(`tag ${tag} exists already`);
  const current = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
  if (compareVersions(version, current) <= 0) throw new Error(`${version} is not newer than package.json's ${current}`);
  const changelog = releaseChangelog(readFileSync("CHANGELOG.md", "utf8"), version, new Date().toISOString().slice(0, 10));

  // what was tested is what gets released: the committed bundles must match the sources
  if (!skipBuild) npm("run", "check:dist");
  try {
    writeFileSync("package.json", withVersion(readFileSync("package.json", "utf8"), version));
    writeFileSync("package-lock.json", withVersion(readFileSync("package-lock.json", "utf8"), version));
    writeFileSync("CHANGELOG.md", changelog);
    // the CLI bundle carries the version (a second check:dist here would only rebuild the same files)
    if (!skipBuild) npm("run", "build");
    git("add", "-A");
    git("commit", "-q", "-m", `Release ${tag}`);
  } catch (e) {
    // the tree was clean when we started, so this only undoes what the release changed
    git("reset", "-q", "--hard", "HEAD");
    throw e;
  }
  const major = `v${version.split(".")[0]}`;
  git("tag", "-a", tag, "-m", `slipway ${version}`);
  git("tag", "-f", major, tag + "^{}");
  const branch = git("rev-parse", "--abbrev-ref", "HEAD");
  console.log(`released ${tag} (commit ${git("rev-parse", "--short", "HEAD")}); ${major} now points at it. Nothing is pushed; to publish:
  git push origin ${branch} ${tag}
  git push --force origin ${major}
  npm publish`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const version = args.find((a) => !a.startsWith("--"));
  if (!version) {
    console.error("usage: npm run release -- X.Y.Z [--skip-build]");
    process.exit(2);
  }
  try {
    release(version, args.includes("--skip-build"));
  } catch (e) {
    console.error(`release: ${(e as Error).message}`);
    process.exit(1);
  }
}
