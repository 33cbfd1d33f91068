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

/** Poll the service from the machine every 50 ms while fn runs; the longest stretch without an answer. */
export async function probe<T>(url: string, fn: () => Promise<T>): Promise<{ value: T; maxGapMs: number; failures: number; polls: number; served: string[] }> {
  let stop = false;
  const served: string[] = []; // each body that answered, in order, once per change: which release served
  let lastOk = Date.now();
  let maxGapMs = 0;
  let failures = 0;
  let polls = 0;
  const loop = (async () => {
    while (!stop) {
      polls++;
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
        const body = await r.text();
        if (r.ok && served.at(-1) !== body) served.push(body);
        if (r.ok) {
          maxGapMs = Math.max(maxGapMs, Date.now() - lastOk);
          lastOk = Date.now();
        } else failures++;
      } catch {
        failures++;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await new Promise((r) => setTimeout(r, 200));
  const value = await fn(); // the action runs in a child process while this process keeps polling
  stop = true;
  await loop;
  maxGapMs = Math.max(maxGapMs, Date.now() - lastOk);
  return { value, maxGapMs, failures, polls, served };
}
