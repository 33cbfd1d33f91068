// Faults for reliability tests: each has an undo. All act from the machine, so they work even when
// the host's network is cut or the host is frozen.
import { appendFileSync, existsSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pidAlive, run, waitFor } from "./run.js";
import { ssh } from "./ssh.js";
import { host as hostOf, type LabHost, type LabState } from "./state.js";
import { waitReady } from "./host.js";

export const FAULT_KINDS = ["network", "freeze", "reboot", "disk-full", "db"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const CUT_COMMENT = "slipway-lab-cut";
const FILL_FILE = ".slipway-lab-fill";

/** pid (on the machine) of the host's systemd: the child of systemd-nspawn, itself run-host's child. */
export function containerInitPid(h: LabHost): number {
  const children = (pid: number) =>
    readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  for (const nspawn of children(h.pid)) {
    if (!readFileSync(`/proc/${nspawn}/comm`, "utf8").startsWith("systemd-nspawn")) continue;
    const init = children(nspawn)[0];
    if (init) return init;
  }
  throw new Error(`${h.name}: no running container`);
}

/** Cut the host off the network: silently DROP everything but loopback inside its namespace (peers see timeouts, not resets). */
export async function cutNetwork(h: LabHost) {
  const ns = ["-t", String(containerInitPid(h)), "-n", "iptables"];
  for (const [chain, dir] of [["INPUT", "-i"], ["OUTPUT", "-o"]] as const)
    await run("nsenter", [...ns, "-I", chain, "!", dir, "lo", "-m", "comment", "--comment", CUT_COMMENT, "-j", "DROP"]);
}

export async function restoreNetwork(h: LabHost) {
  const ns = ["-t", String(containerInitPid(h)), "-n", "iptables"];
  for (const [chain, dir] of [["INPUT", "-i"], ["OUTPUT", "-o"]] as const)
    while ((await run("nsenter", [...ns, "-D", chain, "!", dir, "lo", "-m", "comment", "--comment", CUT_COMMENT, "-j", "DROP"], { allowFail: true })).code === 0);
}

const PRIVATE_COMMENT = "slipway-lab-private";

/** The host's sshd answers only `peer` (a bastion): like a NAS on a LAN that only a droplet of the VPC reaches. */
export async function sshOnlyFrom(h: LabHost, peer: string, only = true) {
  const rule = ["INPUT", "-p", "tcp", "--dport", String(h.port), "!", "-s", peer, "-m", "comment", "--comment", PRIVATE_COMMENT, "-j", "DROP"];
  const ns = ["-t", String(containerInitPid(h)), "-n", "iptables"];
  if (only) await run("nsenter", [...ns, "-I", ...rule]);
  else while ((await run("nsenter", [...ns, "-D", ...rule], { allowFail: true })).code === 0);
}

/** Freeze every process of the host (cgroup v1 freezer: its systemd, services and docker containers). */
export async function freeze(h: LabHost, frozen = true) {
  const want = frozen ? "FROZEN" : "THAWED";
  writeFileSync(path.join(h.freezer, "freezer.state"), want);
  await waitFor(`${h.name} to be ${want}`, 10_000, async () => (readFileSync(path.join(h.freezer, "freezer.state"), "utf8").trim() === want ? true : undefined), 20);
}

export const isFrozen = (h: LabHost) => readFileSync(path.join(h.freezer, "freezer.state"), "utf8").trim() !== "THAWED";

/** Reboot (systemctl reboot inside; run-host.sh boots it again) and wait until ssh and systemd are back. */
export async function reboot(lab: LabState, h: LabHost, timeoutMs = 90_000): Promise<void> {
  const before = containerInitPid(h);
  // /run is a fresh tmpfs on every boot: the marker tells the old boot from the new one
  await ssh(lab, h, "root", "touch /run/slipway-lab-boot && systemctl reboot --no-block", { timeoutMs: 15_000 });
  await waitFor(`${h.name} to go down`, timeoutMs, async () => {
    try {
      return containerInitPid(h) !== before ? true : undefined;
    } catch {
      return true; // between two boots
    }
  });
  if (!pidAlive(h.pid)) throw new Error(`${h.name}: run-host.sh exited instead of rebooting`);
  await waitReady(lab, h, timeoutMs);
  const r = await ssh(lab, h, "root", "test ! -e /run/slipway-lab-boot");
  if (r.code !== 0) throw new Error(`${h.name} did not reboot`);
}

/** Fill the host's deploy filesystem (/srv, a size-limited tmpfs) to the last block. */
export function fillDisk(h: LabHost) {
  const f = path.join(h.srv, FILL_FILE);
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  for (;;) {
    try {
      appendFileSync(f, chunk);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
      break;
    }
  }
  // the last partial MB
  const free = statfsSync(h.srv).bavail * statfsSync(h.srv).bsize;
  if (free > 0) {
    try {
      appendFileSync(f, Buffer.alloc(free, 0x5a));
    } catch {
      // full now
    }
  }
}

export function unfillDisk(h: LabHost) {
  rmSync(path.join(h.srv, FILL_FILE), { force: true });
}

export const isDiskFull = (h: LabHost) => existsSync(path.join(h.srv, FILL_FILE)) && statfsSync(h.srv).bavail === 0;

/** Stop (or start) the host's database: the postgresql service on a droplet, the lab-postgres container on a NAS. */
export async function stopDatabase(lab: LabState, h: LabHost, stopped = true) {
  const cmd =
    h.kind === "nas"
      ? stopped
        ? "/usr/local/bin/docker stop -t 10 lab-postgres"
        : "/usr/local/bin/docker start lab-postgres && for i in $(seq 300); do [ \"$(/usr/local/bin/docker inspect -f '{{.State.Health.Status}}' lab-postgres)\" = healthy ] && exit 0; sleep 0.1; done; exit 1"
      : stopped
        ? "systemctl stop postgresql@15-main postgresql"
        : "systemctl start postgresql@15-main postgresql && for i in $(seq 300); do pg_isready -q && exit 0; sleep 0.1; done; exit 1";
  const r = await ssh(lab, h, "root", cmd, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${h.name}: database ${stopped ? "stop" : "start"} failed: ${r.stderr.trim() || r.stdout.trim()}`);
}

/** The CLI's entry: apply (or undo) one fault; resolves with the time it took in ms. */
export async function fault(lab: LabState, kind: FaultKind, hostName: string, o: { undo?: boolean } = {}): Promise<number> {
  const h = hostOf(lab, hostName);
  const t0 = Date.now();
  const undo = o.undo ?? false;
  switch (kind) {
    case "network":
      await (undo ? restoreNetwork(h) : cutNetwork(h));
      break;
    case "freeze":
      await freeze(h, !undo);
      break;
    case "reboot":
      if (!undo) await reboot(lab, h);
      break;
    case "disk-full":
      if (undo) unfillDisk(h);
      else fillDisk(h);
      break;
    case "db":
      await stopDatabase(lab, h, !undo);
      break;
  }
  return Date.now() - t0;
}
