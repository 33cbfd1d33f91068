// Tear the lab down, also when its processes were killed without `down` (stale pid files, mounts,
// veths, cgroups): everything is found from the lab directory, the cgroup tree and name patterns,
// not only from lab.json.
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CGROUP_NAME } from "./paths.js";
import { pidAlive, run, sleep, waitFor } from "./run.js";
import { wanDown } from "./wan.js";

const CG = "/sys/fs/cgroup";
const LAB_VETH = /^ve-(droplet|nas)-\d+$/;

/** Every directory of the lab's cgroup tree, deepest first, in every hierarchy. */
function cgroupDirs(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch (e) {
      // a host's own systemd removes its cgroups while it powers off: gone is fine
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(d, e.name));
    out.push(d);
  };
  for (const h of existsSync(CG) ? readdirSync(CG) : []) {
    const root = path.join(CG, h, CGROUP_NAME);
    if (existsSync(root)) walk(root);
  }
  return out;
}

function cgroupPids(): number[] {
  const pids = new Set<number>();
  for (const d of cgroupDirs()) {
    try {
      for (const l of readFileSync(path.join(d, "cgroup.procs"), "utf8").split("\n")) if (l.trim()) pids.add(Number(l));
    } catch {
      // removed meanwhile
    }
  }
  return [...pids];
}

function thawAll() {
  const root = path.join(CG, "freezer", CGROUP_NAME);
  if (!existsSync(root)) return;
  for (const d of readdirSync(root)) {
    try {
      writeFileSync(path.join(root, d, "freezer.state"), "THAWED");
    } catch {
      // not a cgroup directory
    }
  }
}

/** Mount points under dir, deepest first (from /proc/self/mountinfo, octal escapes decoded). */
export function mountsUnder(dir: string): string[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => unescape(l.split(" ")[4] ?? ""))
    .filter((m) => m === dir || m.startsWith(dir + "/"))
    .sort((a, b) => b.length - a.length);
}

function pidFiles(labDir: string): number[] {
  const hostsDir = path.join(labDir, "hosts");
  const files = existsSync(hostsDir) ? readdirSync(hostsDir).map((h) => path.join(hostsDir, h, "run-host.pid")) : [];
  return files.filter(existsSync).map((f) => Number(readFileSync(f, "utf8"))).filter((p) => p > 0);
}

/** Stop every lab host and remove all traces on the machine; keeps only .lab/keys. */
export async function teardown(labDir: string, log: (s: string) => void = () => {}): Promise<void> {
  thawAll(); // a frozen host cannot power off
  // 1. clean poweroff: SIGTERM to each run-host.sh (forwarded to nspawn), in parallel
  const supervisors = pidFiles(labDir).filter(pidAlive);
  for (const p of supervisors) process.kill(p, "SIGTERM");
  try {
    await waitFor("the hosts to power off", 8000, async () => (supervisors.some(pidAlive) ? undefined : true), 50);
  } catch {
    log("hosts did not power off in time: killing them");
  }
  // 2. whatever is left in the lab's cgroups (also processes of a lab whose pid files are gone)
  for (let i = 0; i < 50; i++) {
    const left = cgroupPids();
    if (left.length === 0) break;
    for (const p of left) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // exited
      }
    }
    await sleep(100);
  }
  await wanDown(labDir);
  // 3. mounts (overlay clones, /srv tmpfs) - lazily if something still holds one. A killed nspawn
  //    leaves its image lock file, named after the clone root's device and inode.
  for (const m of mountsUnder(labDir)) {
    try {
      const st = statSync(m);
      rmSync(`/run/systemd/nspawn/locks/inode-${st.dev}:${st.ino}`, { force: true });
    } catch {
      // not a directory we can stat
    }
    const r = await run("umount", [m], { allowFail: true });
    if (r.code !== 0) await run("umount", ["-l", m], { allowFail: true });
  }
  // 4. veths normally vanish with their namespace; remove any that did not
  for (const l of (await run("ip", ["-o", "link", "show"])).stdout.split("\n")) {
    const name = l.split(": ")[1]?.split("@")[0];
    if (name && LAB_VETH.test(name)) await run("ip", ["link", "del", name], { allowFail: true });
  }
  // 5. cgroup directories (nspawn payloads, nested docker's containers), deepest first
  for (let i = 0; i < 20; i++) {
    for (const d of cgroupDirs()) {
      try {
        rmdirSync(d);
      } catch {
        // still has processes or children: next round
      }
    }
    if (cgroupDirs().length === 0) break;
    await sleep(100);
  }
  // nspawn cannot remove its propagation directory when /run is not a tmpfs
  const hostsDir = path.join(labDir, "hosts");
  for (const h of existsSync(hostsDir) ? readdirSync(hostsDir) : []) rmSync(`/run/systemd/nspawn/propagate/${h}`, { recursive: true, force: true });
  // 6. state files (never through a mount that is still there: it could reach the cached image)
  const stuck = mountsUnder(labDir);
  if (stuck.length) throw new Error(`cannot unmount ${stuck.join(", ")}`);
  const files = ["hosts", "wan", "lab.json", "lab.yml", "known_hosts"].map((f) => path.join(labDir, f)).filter(existsSync);
  if (files.length) await run("rm", ["-rf", "--one-file-system", ...files]);
}

/** Anything of a lab present on the machine (for `up` to decide on recovery, and for tests). */
export async function leftovers(labDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const m of mountsUnder(labDir)) out.push(`mount ${m}`);
  for (const d of cgroupDirs()) out.push(`cgroup ${d}`);
  for (const p of pidFiles(labDir).filter(pidAlive)) out.push(`process ${p}`);
  for (const l of (await run("ip", ["-o", "link", "show"])).stdout.split("\n")) {
    const name = l.split(": ")[1]?.split("@")[0];
    if (name && LAB_VETH.test(name)) out.push(`link ${name}`);
  }
  if ((await run("ip", ["netns", "list"])).stdout.includes("slipway-wan")) out.push("netns slipway-wan");
  return out;
}
