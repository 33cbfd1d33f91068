// The lab's own ssh calls (readiness, faults, tests): OpenSSH client, host key PINNED through the
// lab's known_hosts file (the lab generated the host keys, so it knows them).
import { host, type LabHost, type LabState } from "./state.js";
import { run, type RunResult } from "./run.js";

export interface SshOptions {
  timeoutMs?: number;
  connectTimeoutS?: number;
  input?: string;
  /** run the client behind the WAN (in the lab's delayed network namespace) */
  wan?: boolean;
}

export function sshArgv(lab: Pick<LabState, "clientKey" | "knownHosts" | "wan">, h: LabHost, user: string, command: string, o: SshOptions = {}): string[] {
  const argv = [
    "ssh",
    "-F", "/dev/null",
    "-i", lab.clientKey,
    "-o", "IdentitiesOnly=yes",
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${lab.knownHosts}`,
    "-o", `ConnectTimeout=${o.connectTimeoutS ?? 2}`,
    "-o", "LogLevel=ERROR",
    "-p", String(h.port),
    `${user}@${h.address}`,
    "--",
    command,
  ];
  if (o.wan) {
    if (!lab.wan) throw new Error("the lab has no WAN link (up --wan-delay MS)");
    return [...lab.wan.exec, ...argv];
  }
  return argv;
}

/** Run `command` (a shell command line) on a lab host as `user`; resolves with the exit code. */
export function ssh(lab: LabState, h: LabHost, user: string, command: string, o: SshOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = sshArgv(lab, h, user, command, o);
  return run(cmd!, args, { allowFail: true, timeoutMs: o.timeoutMs ?? 60_000, input: o.input });
}

/** Run a script as root on a lab host (stdin: `input`); throws with its stderr unless it exits 0; returns stdout trimmed. */
export async function rootOn(lab: LabState, hostName: string, script: string, input?: string): Promise<string> {
  const r = await ssh(lab, host(lab, hostName), "root", script, { input, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`${hostName}: ${script.split("\n")[0]} -> exit ${r.code}\n${r.stderr.trim()}`);
  return r.stdout.trim();
}
