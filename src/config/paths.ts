// Paths given in inputs and environment files are relative to the workspace (the repository
// checkout; the runner's working directory).
import path from "node:path";

/**
 * An absolute path for `p`, relative paths taken from the workspace. (Written without
 * path.resolve(variable): ncc would take that for an asset reference and bundle the whole tree.)
 */
export function inWorkspace(p: string, base = workspace()): string {
  return path.isAbsolute(p) ? path.normalize(p) : path.join(base, p);
}

export function workspace(): string {
  return process.env.GITHUB_WORKSPACE || process.cwd();
}
