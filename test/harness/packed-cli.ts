// slipway as a newcomer installs it: `npm pack` of this checkout installed offline into an empty
// directory (nothing of this repository's node_modules), its `slipway` bin run with PATH and HOME
// only. It packs the working tree's dist/cli: run `npm run build` after changing src/cli.
import { execFileSync, spawnSync } from "node:child_process";
import path from "node:path";
import { ROOT } from "./runner.js";

export interface PackedCli {
  bin: string;
  packed: { filename: string; size: number; entryCount: number; files: { path: string }[] };
  /** what packing and installing took, ms */
  timings: Record<string, number>;
  /** runs the installed bin in `cwd`; `env` adds variables (e.g. a secret) to PATH and HOME */
  run(cwd: string, args: string[], env?: Record<string, string>): { status: number | null; stdout: string; stderr: string };
}

/** Packs and installs into directories made by `temp` (removed with them). */
export function installPackedCli(temp: (prefix: string) => string): PackedCli {
  const timings: Record<string, number> = {};
  const timed = <T>(what: string, f: () => T): T => {
    const t0 = performance.now();
    try {
      return f();
    } finally {
      timings[what] = Math.round(performance.now() - t0);
    }
  };
  const out = temp("slipway-pack-");
  const packed = timed("npm pack", () => JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", out], { cwd: ROOT, encoding: "utf8" }))[0]);
  const prefix = temp("slipway-install-"); // empty: no package.json, no node_modules
  // offline: the package has no dependencies to fetch
  timed("npm install", () => execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", path.join(out, packed.filename)], { cwd: prefix, encoding: "utf8" }));
  const bin = path.join(prefix, "node_modules/.bin/slipway");
  return {
    bin,
    packed,
    timings,
    run: (cwd, args, env = {}) => {
      const r = spawnSync(bin, args, { cwd, encoding: "utf8", timeout: 60_000, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
  };
}
