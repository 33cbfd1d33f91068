// Shared by the lab tests: the running lab and ssh to its hosts (host keys pinned).
import { readState, host, type LabState } from "../../src/lab/state.js";
import { ssh } from "../../src/lab/ssh.js";

export function lab(): LabState {
  const s = readState();
  if (!s) throw new Error("no lab: the global setup should have started one");
  return s;
}

/** Run a command on a lab host; the result's stdout is trimmed. */
export async function on(hostName: string, user: string, command: string, o: { input?: string; timeoutMs?: number; wan?: boolean } = {}) {
  const s = lab();
  const r = await ssh(s, host(s, hostName), user, command, o);
  return { ...r, stdout: r.stdout.trim() };
}
