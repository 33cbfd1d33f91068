// A step's process: its own process group (a timeout or a cancel reaches every child), lines
// handed over as they come, and GitHub's cancel sequence (SIGINT, SIGTERM 7.5 s later, SIGKILL
// 2.5 s after that; actions/runner's behaviour).
import { spawn } from "node:child_process";

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
}

export function execProcess(
  argv: string[],
  o: { cwd: string; env: Record<string, string>; timeoutMs?: number; signal?: AbortSignal; onLine: (line: string) => void },
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: o.cwd, env: o.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let timedOut = false;
    let cancelled = false;
    const timers: NodeJS.Timeout[] = [];
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // already gone
      }
    };
    const stop = () => {
      kill("SIGINT");
      timers.push(setTimeout(() => kill("SIGTERM"), 7500), setTimeout(() => kill("SIGKILL"), 10_000));
    };
    if (o.timeoutMs !== undefined && Number.isFinite(o.timeoutMs))
      timers.push(
        setTimeout(() => {
          timedOut = true;
          stop();
        }, o.timeoutMs),
      );
    const onAbort = () => {
      cancelled = true;
      stop();
    };
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener("abort", onAbort, { once: true });
    for (const stream of [child.stdout, child.stderr]) {
      let rest = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop()!;
        for (const l of lines) o.onLine(l.replace(/\r$/, ""));
      });
      stream.on("end", () => rest && o.onLine(rest));
    }
    child.on("error", (e) => o.onLine(`##[error]${argv[0]} could not start: ${e.message}`));
    child.on("close", (code, signal) => {
      timers.forEach(clearTimeout);
      o.signal?.removeEventListener("abort", onAbort);
      resolve({ code, signal, timedOut, cancelled });
    });
  });
}
