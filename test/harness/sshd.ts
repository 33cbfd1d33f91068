// A real OpenSSH sshd on 127.0.0.1 (random free port, fresh host and client keys, temp dir),
// after lab-recipes/01-sshd-root.sh: root and a non-root user, key-only.
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fingerprint } from "../../src/remote/hostkey.js";
import type { RemoteTarget } from "../../src/remote/connection.js";

export const TEST_USER = "slipwaytest";

export interface Sshd {
  dir: string;
  port: number;
  pid: number;
  hostKeyFingerprint: string;
  knownHostsLine: string;
  clientKeyPath: string;
  clientKey: string;
  target(user?: string, overrides?: Partial<RemoteTarget>): RemoteTarget;
  stop(): void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

function ensureUser(user: string): void {
  try {
    execFileSync("id", [user], { stdio: "ignore" });
  } catch {
    execFileSync("useradd", ["-m", "-s", "/bin/bash", user]);
  }
  // Debian's useradd leaves the account locked ('!'); sshd with UsePAM no refuses locked accounts
  execFileSync("usermod", ["-p", "*", user]);
}

export async function startSshd(): Promise<Sshd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "slipway-sshd-"));
  chmodSync(dir, 0o755); // StrictModes-free, but sshd still needs to read the key dir as root
  const port = await freePort();
  const keygen = (file: string, type = "ed25519") => execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", file, "-C", "slipway-test"]);
  keygen(path.join(dir, "host_ed25519"));
  keygen(path.join(dir, "client_key"));
  ensureUser(TEST_USER);
  mkdirSync(path.join(dir, "authkeys"), { mode: 0o755 });
  const pub = readFileSync(path.join(dir, "client_key.pub"), "utf8");
  for (const u of ["root", TEST_USER]) writeFileSync(path.join(dir, "authkeys", u), pub, { mode: 0o644 });
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  mkdirSync(path.join(dir, "root-home"), { mode: 0o700 });
  const config = path.join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${dir}/host_ed25519`,
      `PidFile ${dir}/sshd.pid`,
      `AuthorizedKeysFile ${dir}/authkeys/%u`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      "UsePAM no",
      "StrictModes no",
      "UseDNS no",
      "MaxSessions 50",
      "MaxStartups 50:30:100",
      "Subsystem sftp internal-sftp",
      // bash run by sshd sources ~/.bashrc; a developer's or runner's root bashrc (pyenv init:
      // 0.5 s a command here) would make every exec slow and concurrent checks time out. The lab's
      // hosts are clean installs; this sshd gives root a clean home as well
      "Match User root",
      `  SetEnv HOME=${dir}/root-home`,
      "",
    ].join("\n"),
  );
  execFileSync("/usr/sbin/sshd", ["-t", "-f", config]);
  // -D: stay in the foreground so we own the PID; -E: log to a file (no syslog here)
  const child = spawn("/usr/sbin/sshd", ["-D", "-f", config, "-E", path.join(dir, "sshd.log")], { stdio: "ignore", detached: false });
  await waitForPort(port);
  const hostPub = readFileSync(path.join(dir, "host_ed25519.pub"), "utf8").trim().split(/\s+/);
  const keyBlob = Buffer.from(hostPub[1] ?? "", "base64");
  const clientKey = readFileSync(path.join(dir, "client_key"), "utf8");
  const sshd: Sshd = {
    dir,
    port,
    pid: child.pid!,
    hostKeyFingerprint: fingerprint(keyBlob),
    knownHostsLine: `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}`,
    clientKeyPath: path.join(dir, "client_key"),
    clientKey,
    target: (user = "root", overrides = {}) => ({
      name: "loopback",
      address: "127.0.0.1",
      port,
      user,
      pins: { fingerprints: [sshd.hostKeyFingerprint], knownHosts: [] },
      privateKey: clientKey,
      connectTimeoutMs: 10_000,
      commandTimeoutMs: 60_000,
      keepaliveMs: 5_000,
      ...overrides,
    }),
    stop() {
      try {
        process.kill(child.pid!, "SIGTERM");
      } catch {
        /* already gone */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return sshd;
}

export async function waitForPort(port: number, host = "127.0.0.1", timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
