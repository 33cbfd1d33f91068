// `down` leaves nothing on the machine, also after a lab with a WAN link; `up` recovers from a lab
// whose processes were killed without `down`. Runs its own labs, then restores the shared one.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leftovers } from "../../src/lab/cleanup.js";
import { down, status, up } from "../../src/lab/lab.js";
import { labDir } from "../../src/lab/paths.js";
import { pidAlive, run } from "../../src/lab/run.js";
import { ssh } from "../../src/lab/ssh.js";
import { holdHosts } from "./host-locks.js";

holdHosts("*");

/** What a lab could leave behind: mounts, links, namespaces, iptables, cgroups, sysctl, processes. */
async function snapshot() {
  const cgroups: string[] = [];
  const walk = (d: string, depth: number) => {
    cgroups.push(d);
    if (depth < 6) for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name), depth + 1);
  };
  walk("/sys/fs/cgroup", 0);
  // the lab's processes: its supervisors and bridge, and anything in its cgroups (other tests on the
  // machine run their own sshd/postgres, which are none of the lab's business)
  const procs = readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p) && pidAlive(Number(p)))
    .map((p) => {
      try {
        return `${readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ")} ${readFileSync(`/proc/${p}/cgroup`, "utf8").replace(/\n/g, " ")}`;
      } catch {
        return "";
      }
    })
    .filter((c) => /systemd-nspawn|run-host\.sh|wan_bridge|\/slipway-lab/.test(c));
  const nspawnRun = (d: string): string[] => {
    try {
      return readdirSync(d, { recursive: true }).map(String).sort();
    } catch {
      return [];
    }
  };
  return {
    mounts: readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ").slice(4, 5).join()).sort(),
    links: (await run("ip", ["-o", "link", "show"])).stdout.split("\n").map((l) => l.split(": ")[1]).filter(Boolean).sort(),
    addresses: (await run("ip", ["-o", "addr", "show"])).stdout.split("\n").map((l) => l.split(/\s+/).slice(1, 4).join(" ")).sort(),
    netns: (await run("ip", ["netns", "list"])).stdout.trim(),
    iptables: (await run("iptables", ["-S"])).stdout,
    iptablesNat: (await run("iptables", ["-t", "nat", "-S"])).stdout,
    cgroups: cgroups.sort(),
    ipForward: readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8"),
    nspawnRun: nspawnRun("/run/systemd/nspawn"),
    procs: procs.sort(),
  };
}

// read once this file holds the whole lab (another file may be rebooting or freezing a host before)
let sharedWasUp = false;
beforeAll(async () => {
  sharedWasUp = (await status()).up;
});

describe("cleanup", () => {
  afterAll(async () => {
    // give the other test files the lab the global setup promised
    if (sharedWasUp && !(await status()).up) await up({ droplets: 2, nas: 1 });
  });

  it("down leaves nothing behind, WAN link included, and the WAN link delays traffic", async () => {
    await down();
    const before = await snapshot();
    const s = await up({ droplets: 2, nas: 1, wanDelayMs: 50 });
    expect((await leftovers(labDir())).length).toBeGreaterThan(0); // the probe sees a lab when there is one
    // behind the WAN: TCP connect + ssh banner takes 2 round trips of 100 ms
    const banner = `s=$(date +%s%N); exec 3<>/dev/tcp/${s.hosts[0]!.address}/22; read -r l <&3; echo $(( ($(date +%s%N)-s)/1000000 )) "$l"`;
    const wan = await run("ip", ["netns", "exec", s.wan!.netns, "bash", "-c", banner]);
    const direct = await run("bash", ["-c", banner]);
    const ms = (r: { stdout: string }) => Number(r.stdout.split(" ")[0]);
    expect(wan.stdout).toContain("SSH-2.0-OpenSSH");
    expect(ms(wan)).toBeGreaterThanOrEqual(190);
    expect(ms(direct)).toBeLessThan(100);
    const viaWan = await ssh(s, s.hosts[0]!, "deploy", "echo $SSH_CLIENT", { wan: true });
    expect(viaWan.stdout).toMatch(/^10\.99\.0\.2 /);

    await down();
    expect(await leftovers(labDir())).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it("up recovers from a lab whose processes were killed without down", async () => {
    const before = await snapshot();
    const s = await up({ droplets: 1, nas: 1 });
    // kill -9 the supervisors and their systemd-nspawn children, by pid
    for (const h of s.hosts) {
      const kids = readFileSync(`/proc/${h.pid}/task/${h.pid}/children`, "utf8").trim().split(/\s+/).map(Number);
      process.kill(h.pid, "SIGKILL");
      for (const k of kids) process.kill(k, "SIGKILL");
    }
    await new Promise((r) => setTimeout(r, 500));
    const stale = await leftovers(labDir());
    expect(stale.some((l) => l.startsWith("mount "))).toBe(true);
    expect((await status()).up).toBe(false);

    const again = await up({ droplets: 1, nas: 1 });
    expect(again.hosts.map((h) => h.name)).toEqual(["droplet-1", "nas-1"]);
    expect((await status()).up).toBe(true);
    await down();
    expect(await snapshot()).toEqual(before);
  });
});
