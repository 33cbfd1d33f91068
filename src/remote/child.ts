// A local child process that a stream comes from or goes to (tar on the runner).
import type { ChildProcess } from "node:child_process";

/** tar -c flags that make the same tree give the same bytes (and digest): sorted entries, owners normalised */
export const REPRODUCIBLE_TAR = ["--sort=name", "--owner=0", "--group=0", "--numeric-owner"];

/** Resolves when `child` exits 0; otherwise rejects naming `what`, its exit code and its stderr. */
export function processExit(child: ChildProcess, what: string): Promise<void> {
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject); // could not start (no tar on PATH)
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}): ${err.trim()}`))));
  });
}
