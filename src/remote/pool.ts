// One pooled connection per host per run. Targets are built from the environment file and the
// secrets; a jump host is connected once and shared by every host behind it.
import { readFileSync } from "node:fs";
import { durationMs, type Environment } from "../config/schema.js";
import type { Secrets } from "../config/secrets.js";
import type { Log } from "../report/log.js";
import type { Remote, RemoteTarget } from "./connection.js";
import { openTcp } from "./tcp.js";

export function remoteTarget(env: Environment, hostName: string, secrets: Secrets): RemoteTarget {
  const host = env.hosts[hostName];
  if (!host) throw new Error(`unknown host '${hostName}' (hosts: ${Object.keys(env.hosts).join(", ")})`);
  const asList = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const identityFile = host["identity-file"] ?? (host["ssh-key-secret"] ? undefined : env.ssh["identity-file"]);
  const privateKey = identityFile
    ? readFileSync(identityFile, "utf8")
    : secrets.get(host["ssh-key-secret"] ?? env.ssh["key-secret"], `ssh to ${hostName}`);
  return {
    name: hostName,
    address: host.address,
    port: host.port,
    user: host.user,
    pins: { fingerprints: asList(host["host-key"]), knownHosts: asList(host["known-hosts"]) },
    privateKey,
    jump: host.jump ? remoteTarget(env, host.jump, secrets) : undefined,
    connectTimeoutMs: durationMs(env.ssh["connect-timeout"]),
    commandTimeoutMs: durationMs(env.ssh["command-timeout"]),
    keepaliveMs: durationMs(env.ssh.keepalive),
  };
}

export class RemotePool {
  private readonly connections = new Map<string, Promise<Remote>>();

  constructor(
    private readonly targetOf: (host: string) => RemoteTarget,
    private readonly log: Log,
  ) {}

  static forEnvironment(env: Environment, secrets: Secrets, log: Log): RemotePool {
    return new RemotePool((h) => remoteTarget(env, h, secrets), log);
  }

  /** The connection to `host`, opened on first use. A failed connect is not cached. */
  get(host: string): Promise<Remote> {
    let conn = this.connections.get(host);
    if (!conn) {
      const target = this.targetOf(host);
      // the SSH stack (node-ssh, ssh2) loads on first use: actions that fail early start faster
      conn = (async () => {
        const tcp = target.jump ? undefined : openTcp(target.address, target.port); // its handshake runs while ssh2 loads
        try {
          const { Remote } = await import("./connection.js");
          return await Remote.connect(target, this.log, target.jump ? await this.get(target.jump.name) : undefined, tcp);
        } catch (e) {
          tcp?.sock.destroy();
          throw e;
        }
      })();
      this.connections.set(host, conn);
      conn.catch(() => this.connections.delete(host));
    }
    return conn;
  }

  /** Exec calls and connections per host (benchmarks and the summary show them). */
  async stats(): Promise<{ host: string; execs: number }[]> {
    const out: { host: string; execs: number }[] = [];
    for (const [host, conn] of this.connections) {
      const remote = await conn.catch(() => undefined);
      if (remote) out.push({ host, execs: remote.execCount });
    }
    return out;
  }

  async closeAll(): Promise<void> {
    const all = [...this.connections.values()];
    this.connections.clear();
    // hosts behind a jump host close before it
    const remotes = (await Promise.all(all.map((c) => c.catch(() => undefined)))).filter((r): r is Remote => !!r);
    remotes.sort((a, b) => Number(!!b.target.jump) - Number(!!a.target.jump));
    for (const r of remotes) await r.close();
  }
}
