// The WAN link (recipe 07): a network namespace for the runner side, joined to the machine by a
// delayed TUN link (wan_bridge.py; this kernel has no netem). The machine routes between that link
// and the hosts' veths, so `ip netns exec slipway-wan <cmd>` reaches every host with RTT = 2 x delay.
import { openSync, closeSync, existsSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { spawn } from "node:child_process";
import path from "node:path";
import { IPT_COMMENT, SH_DIR, WAN_HOST_IF, WAN_HOST_IP, WAN_NETNS, WAN_RUNNER_IP } from "./paths.js";
import { pidAlive, run, waitFor } from "./run.js";
import type { LabWan } from "./state.js";

const FORWARD_RULES = [
  ["-s", `${WAN_RUNNER_IP}/32`],
  ["-d", `${WAN_RUNNER_IP}/32`],
].map((m) => ["FORWARD", ...m, "-m", "comment", "--comment", IPT_COMMENT, "-j", "ACCEPT"]);

export async function wanUp(labDir: string, delayMs: number): Promise<LabWan> {
  const dir = path.join(labDir, "wan");
  mkdirSync(dir, { recursive: true });
  // `ip netns add` makes /run/netns a mount point when it is the first namespace: remember, to undo it
  if (!existsSync("/run/netns")) writeFileSync(path.join(dir, "netns-dir-created"), "");
  await run("ip", ["netns", "add", WAN_NETNS]);
  const log = openSync(path.join(dir, "bridge.log"), "a");
  // /usr/bin/python3: the machine's python (a pyenv shim on PATH may not be usable by root scripts)
  const child = spawn("/usr/bin/python3", [path.join(SH_DIR, "wan_bridge.py"), "-", WAN_HOST_IF, WAN_HOST_IP, WAN_NETNS, "wan0", WAN_RUNNER_IP, String(delayMs)], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  child.unref();
  writeFileSync(path.join(dir, "bridge.pid"), `${child.pid}\n`);
  await waitFor("the WAN bridge", 10_000, async () => (readFileSync(path.join(dir, "bridge.log"), "utf8").includes("wan bridge up") ? true : undefined), 50);
  await run("ip", ["-n", WAN_NETNS, "route", "add", "10.77.0.0/16", "dev", "wan0"]);
  // the machine forwards between the WAN link and the veths; remember the old setting for `down`
  writeFileSync(path.join(dir, "ip_forward"), readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8"));
  writeFileSync("/proc/sys/net/ipv4/ip_forward", "1\n");
  for (const r of FORWARD_RULES) await run("iptables", ["-I", ...r]);
  return { netns: WAN_NETNS, delayMs, runnerAddress: WAN_RUNNER_IP, bridgePid: child.pid!, exec: ["ip", "netns", "exec", WAN_NETNS] };
}

/** Undo wanUp (also after a crash): bridge, namespace, iptables rules, ip_forward. */
export async function wanDown(labDir: string) {
  const dir = path.join(labDir, "wan");
  const pidFile = path.join(dir, "bridge.pid");
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, "utf8"));
    try {
      process.kill(pid, "SIGTERM");
      await waitFor("the WAN bridge to stop", 5000, async () => (pidAlive(pid) ? undefined : true), 50);
    } catch {
      // already gone
    }
  }
  const ns = await run("ip", ["netns", "list"]);
  if (ns.stdout.split("\n").some((l) => l.split(" ")[0] === WAN_NETNS)) await run("ip", ["netns", "del", WAN_NETNS]);
  const marker = path.join(dir, "netns-dir-created");
  if (existsSync(marker) && existsSync("/run/netns") && readdirSync("/run/netns").length === 0) {
    await run("umount", ["/run/netns"], { allowFail: true });
    rmdirSync("/run/netns");
    rmSync(marker, { force: true });
  }
  // every rule carrying the lab's comment, whatever its exact form
  const rules = (await run("iptables", ["-S"], { allowFail: true })).stdout.split("\n").filter((l) => l.startsWith("-A ") && l.includes(`--comment ${IPT_COMMENT}`));
  for (const r of rules) await run("iptables", ["-D", ...r.slice(3).split(" ")], { allowFail: true });
  const fwd = path.join(dir, "ip_forward");
  if (existsSync(fwd)) writeFileSync("/proc/sys/net/ipv4/ip_forward", readFileSync(fwd, "utf8"));
}
