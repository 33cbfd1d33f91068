// slipway as a user's workflow reaches it: `uses: OWNER/slipway/actions/<name>@v0` and
// `uses: OWNER/slipway/.github/workflows/<file>@v0` resolve to a git repository built from this
// checkout's working tree (the action.yml files and committed bundles, the reusable workflows), with
// the major tag the release script moves. The local workflow runner reads it by `git archive` at the
// ref the workflow names, so the reference a user writes is the one exercised.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SLIPWAY_OWNER, slipwayMajor } from "../../src/config/json-schema.js";
import { ROOT } from "./runner.js";

export const SLIPWAY_REPO = `${SLIPWAY_OWNER}/slipway`;
export const MAJOR_TAG = `v${slipwayMajor}`;

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

export class SlipwayRepo {
  private constructor(readonly dir: string) {}

  /** A repository holding what a versioned reference needs, tagged with the major tag. */
  static create(): SlipwayRepo {
    const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-repo-"));
    for (const action of readdirSync(path.join(ROOT, "actions")))
      for (const part of ["action.yml", "dist"]) cpSync(path.join(ROOT, "actions", action, part), path.join(dir, "actions", action, part), { recursive: true });
    cpSync(path.join(ROOT, ".github", "workflows"), path.join(dir, ".github", "workflows"), { recursive: true });
    cpSync(path.join(ROOT, "environments", "schema.json"), path.join(dir, "environments", "schema.json"));
    git(dir, "init", "-q", "-b", "main");
    git(dir, "config", "user.email", "slipway@example.com");
    git(dir, "config", "user.name", "slipway");
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", "slipway");
    git(dir, "tag", MAJOR_TAG);
    return new SlipwayRepo(dir);
  }

  /** The runner's registry of `owner/repo` -> local clone. */
  get actionRepos(): Record<string, string> {
    return { [SLIPWAY_REPO]: this.dir };
  }

  /** A release of slipway with `files` replaced (e.g. a broken reusable workflow): committed, and the major tag moved to it. */
  release(files: Record<string, string>): void {
    for (const [file, text] of Object.entries(files)) writeFileSync(path.join(this.dir, file), text);
    git(this.dir, "add", "-A");
    git(this.dir, "commit", "-q", "--allow-empty", "-m", `release ${Object.keys(files).join(", ") || "unchanged"}`);
    git(this.dir, "tag", "-f", MAJOR_TAG);
  }

  /** Back to this checkout's files. */
  restore(): void {
    cpSync(path.join(ROOT, ".github", "workflows"), path.join(this.dir, ".github", "workflows"), { recursive: true });
    this.release({});
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
