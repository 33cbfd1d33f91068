// One lab host: an overlayfs clone of the cached base (plus the NAS layer for a NAS), customised
// before boot (name, address, host key, client key), booted by systemd-nspawn under run-host.sh.
import { createHash } from "node:crypto";
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import path from "node:path";
import type { Image } from "./image.js";
import { CGROUP_NAME, SH_DIR } from "./paths.js";
import { Fatal, pidAlive, run, waitFor } from "./run.js";
import { ssh } from "./ssh.js";
import type { HostKind, LabHost, LabState } from "./state.js";

export const DEPLOY_UID = 1000;
export const SRV_SIZE_MB = 256;

export interface HostSpec {
  name: string;
  kind: HostKind;
  /** third octet of 10.77.N.0/24 */
  net: number;
}

/** droplet-1..N on 10.77.1..N, nas-1..M on 10.77.101..100+M */
export function hostSpecs(droplets: number, nas: number): HostSpec[] {
  if (droplets < 0 || nas < 0 || droplets > 99 || nas > 99 || droplets + nas === 0) throw new Error("want 0-99 droplets and 0-99 NAS hosts, at least one host");
  return [
    ...Array.from({ length: droplets }, (_, i) => ({ name: `droplet-${i + 1}`, kind: "droplet" as const, net: i + 1 })),
    ...Array.from({ length: nas }, (_, i) => ({ name: `nas-${i + 1}`, kind: "nas" as const, net: 101 + i })),
  ];
}

/** SHA256 fingerprint of an OpenSSH public key line, as ssh-keygen -l prints it. */
export function fingerprint(pubLine: string): string {
  const blob = pubLine.trim().split(/\s+/)[1];
  if (!blob) throw new Error(`not a public key: ${pubLine}`);
  return "SHA256:" + createHash("sha256").update(Buffer.from(blob, "base64")).digest("base64").replace(/=+$/, "");
}

const write = (file: string, text: string, mode = 0o644) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text, { mode });
};

/** Mount the clone and its /srv, generate the host key and write the host's own files. */
export async function prepareHost(labDir: string, spec: HostSpec, img: Image, clientPub: string): Promise<LabHost> {
  const dir = path.join(labDir, "hosts", spec.name);
  const merged = path.join(dir, "merged");
  const srv = path.join(dir, "srv");
  for (const d of ["upper", "work", "merged", "srv", ...(spec.kind === "nas" ? ["docker"] : [])]) mkdirSync(path.join(dir, d), { recursive: true });
  const lower = spec.kind === "nas" ? `${img.nasLayer}:${img.rootfs}` : img.rootfs;
  await run("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${lower},upperdir=${dir}/upper,workdir=${dir}/work`, merged]);
  await run("mount", ["-t", "tmpfs", "-o", `size=${SRV_SIZE_MB}m,mode=0755`, "slipway-lab-srv", srv]);
  // the NAS's /var/lib/docker: not on overlayfs (nested overlay2), and on tmpfs because importing
  // the base image onto disk costs 5-17 s of fsyncs at every boot; in RAM it is a few seconds
  if (spec.kind === "nas") await run("mount", ["-t", "tmpfs", "-o", "size=8g,mode=0710", "slipway-lab-docker", path.join(dir, "docker")]);

  const key = path.join(dir, "ssh_host_ed25519_key");
  rmSync(key, { force: true });
  rmSync(`${key}.pub`, { force: true });
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", spec.name, "-f", key]);
  const pub = readFileSync(`${key}.pub`, "utf8");
  write(path.join(merged, "etc/ssh/ssh_host_ed25519_key"), readFileSync(key, "utf8"), 0o600);
  write(path.join(merged, "etc/ssh/ssh_host_ed25519_key.pub"), pub);

  const address = `10.77.${spec.net}.2`;
  const gateway = `10.77.${spec.net}.1`;
  write(path.join(merged, "etc/hostname"), `${spec.name}\n`);
  write(path.join(merged, "etc/hosts"), `127.0.0.1 localhost\n127.0.1.1 ${spec.name}\n::1 localhost ip6-localhost ip6-loopback\n`);
  write(path.join(merged, "etc/machine-id"), createHash("md5").update(`${spec.name}${Date.now()}${Math.random()}`).digest("hex") + "\n", 0o444);
  write(
    path.join(merged, "etc/systemd/network/10-host0.network"),
    `[Match]\nName=host0\n[Network]\nAddress=${address}/24\nGateway=${gateway}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n`,
  );
  write(path.join(merged, "root/.ssh/authorized_keys"), clientPub, 0o600);
  const deployKeys = path.join(merged, "home/deploy/.ssh/authorized_keys");
  write(deployKeys, clientPub, 0o600);
  chownSync(deployKeys, DEPLOY_UID, DEPLOY_UID);
  if (spec.kind === "nas") {
    // nested dockerd mounts the machine's cgroup v1 hierarchies: keep its containers inside this
    // host's cgroup, so freezing the host freezes them and `down` finds their cgroup directories
    write(path.join(merged, "etc/docker/daemon.json"), JSON.stringify({ "cgroup-parent": `/${CGROUP_NAME}/${spec.name}/docker` }) + "\n");
  }
  return {
    name: spec.name,
    kind: spec.kind,
    address,
    gateway,
    port: 22,
    users: ["root", "deploy"],
    hostKeyFingerprint: fingerprint(pub),
    knownHostsLine: `${address} ${pub.trim().split(/\s+/).slice(0, 2).join(" ")}`,
    pid: 0,
    veth: `ve-${spec.name}`.slice(0, 15),
    dir,
    srv,
    srvSizeMb: SRV_SIZE_MB,
    freezer: `/sys/fs/cgroup/freezer/${CGROUP_NAME}/${spec.name}`,
  };
}

/** Start run-host.sh (detached, its own session) and record its pid. */
export function startHost(h: LabHost, img: Image): number {
  const args = [
    "-D", path.join(h.dir, "merged"),
    "--boot", "--register=no", "--keep-unit", "--console=read-only", "--link-journal=no", "--timezone=off",
    "-M", h.name, "--network-veth", "--resolv-conf=off",
    `--bind=${h.srv}:/srv`,
  ];
  if (h.kind === "nas") {
    // nested docker: recipe 04c (all capabilities, keyring/bpf syscalls, /var/lib/docker not on overlayfs)
    args.push("--capability=all", "--system-call-filter=add_key keyctl bpf", `--bind=${h.dir}/docker:/var/lib/docker`, `--bind-ro=${img.imageTar}:/var/lib/slipway-lab/image.tar`);
  }
  const log = openSync(path.join(h.dir, "nspawn.log"), "a");
  const child = spawn(path.join(SH_DIR, "run-host.sh"), [h.name, h.veth, `${h.gateway}/24`, "--", ...args], { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${h.name}`);
  writeFileSync(path.join(h.dir, "run-host.pid"), `${child.pid}\n`);
  h.pid = child.pid;
  return child.pid;
}

/** ssh answers with the pinned key and systemd reports `running` (NAS: and lab-postgres is healthy). */
export async function waitReady(lab: LabState, h: LabHost, timeoutMs = 90_000): Promise<number> {
  const t0 = Date.now();
  const check =
    h.kind === "nas"
      ? `s=$(systemctl is-system-running --wait); echo "$s"; [ "$s" = running ] && [ "$(docker inspect -f '{{.State.Health.Status}}' lab-postgres)" = healthy ] && echo ok`
      : `s=$(systemctl is-system-running --wait); echo "$s"; [ "$s" = running ] && echo ok`;
  await waitFor(`${h.name} to be ready`, timeoutMs, async () => {
    if (h.pid && !pidAlive(h.pid)) throw new Fatal(`${h.name} died: ${tail(path.join(h.dir, "nspawn.log"))}`);
    const r = await ssh(lab, h, "root", `PATH=/usr/local/bin:$PATH; ${check}`, { timeoutMs: 60_000, connectTimeoutS: 1 });
    if (r.stdout.includes("ok")) return true;
    if (/degraded|maintenance|stopping/.test(r.stdout)) {
      const failed = await ssh(lab, h, "root", "systemctl --failed --no-legend", { timeoutMs: 10_000 });
      throw new Fatal(`${h.name} is ${r.stdout.trim()}: ${failed.stdout.trim()}`);
    }
    return undefined;
  }, 150);
  return Date.now() - t0;
}

export function tail(file: string, lines = 20): string {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-lines).join("\n") : "";
}
