// Where the lab keeps things. State of a running lab: <repo>/.lab (SLIPWAY_LAB_DIR overrides).
// Cached images, shared by every clone on the machine: /var/cache/slipway-lab (SLIPWAY_LAB_CACHE).
import path from "node:path";
import { fileURLToPath } from "node:url";

export const SRC_DIR = path.dirname(fileURLToPath(import.meta.url));
export const SH_DIR = path.join(SRC_DIR, "sh");
export const REPO_DIR = path.resolve(SRC_DIR, "../..");

export const labDir = () => path.resolve(process.env.SLIPWAY_LAB_DIR ?? path.join(REPO_DIR, ".lab"));
export const cacheDir = () => path.resolve(process.env.SLIPWAY_LAB_CACHE ?? "/var/cache/slipway-lab");

/** The one network namespace "behind the WAN" (runner side of the delayed link). */
export const WAN_NETNS = "slipway-wan";
export const WAN_RUNNER_IP = "10.99.0.2";
export const WAN_HOST_IP = "10.99.0.1";
export const WAN_HOST_IF = "slw-wan0";
/** Name of the lab's cgroup directory in every v1 hierarchy (and the unified one). */
export const CGROUP_NAME = "slipway-lab";
/** Comment on every iptables rule the lab adds on the machine, so `down` finds them all. */
export const IPT_COMMENT = "slipway-lab";
