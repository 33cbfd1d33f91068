// The runner-side twin of Remote.run: a script fed to bash -euo pipefail on stdin, for databases
// the runner reaches itself (managed PostgreSQL). Same wrapping, same errors.
import { spawn } from "node:child_process";
import type { Shell } from "../commands/quote.js";
import type { RunOptions, RunResult } from "./connection.js";
import { RemoteCommandError } from "./errors.js";

export function runLocal(body: Shell, opts: RunOptions & { env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  const started = Date.now();
  const secs = Math.max(1, Math.ceil((opts.timeoutMs ?? 600_000) / 1000));
  return new Promise((resolve, reject) => {
    const child = spawn("timeout", ["--kill-after=5", String(secs), "bash", "--norc", "--noprofile", "-euo", "pipefail", "-s"], { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    if (opts.output) child.stdout.pipe(opts.output, { end: false });
    else child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const stdout = Buffer.concat(out).toString("utf8");
      const tail = (stdout + stderr).trim().split("\n").slice(-30);
      const result = { code: code ?? -1, stdout, stderr, tail, durationMs: Date.now() - started };
      if (opts.check !== false && code !== 0) reject(new RemoteCommandError("runner", opts.step, code, tail, code === 124 ? `timed out after ${secs}s` : `failed with exit code ${code}`));
      else resolve(result);
    });
    child.stdin.end(`__slipway_main() {\n${body.text}\n}\n__slipway_main </dev/null\n`);
  });
}
