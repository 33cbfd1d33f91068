// Where progress and remote output go: GitHub's log commands in an action, the terminal in the CLI.
// Every sink redacts registered secrets before writing.
import type { Secrets } from "../config/secrets.js";

export interface Log {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** A collapsible section (a ::group:: in GitHub logs, an indented block on a terminal). */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
  /** A problem at a place in a file of the repository: an annotation on that line in GitHub, `file:line:col: message` elsewhere. */
  annotate(level: "warn" | "error", message: string, where: { file: string; line: number; col: number }): void;
}

export interface LogSink {
  write(level: "info" | "warn" | "error", message: string): void;
  startGroup?(title: string): void;
  endGroup?(): void;
  annotate?(level: "warn" | "error", message: string, where: { file: string; line: number; col: number }): void;
}

export function createLog(sink: LogSink, secrets?: Secrets): Log {
  const clean = (m: string) => (secrets ? secrets.redact(m) : m);
  let depth = 0;
  return {
    info: (m) => sink.write("info", clean(m)),
    warn: (m) => sink.write("warn", clean(m)),
    error: (m) => sink.write("error", clean(m)),
    annotate: (level, m, where) => (sink.annotate ? sink.annotate(level, clean(m), where) : sink.write(level, clean(`${where.file}:${where.line}:${where.col}: ${m}`))),
    async group(title, fn) {
      // GitHub groups do not nest: inner groups are plain lines
      const open = depth === 0 && sink.startGroup !== undefined;
      if (open) sink.startGroup!(clean(title));
      else sink.write("info", clean(`▸ ${title}`));
      depth++;
      try {
        return await fn();
      } finally {
        depth--;
        if (open) sink.endGroup!();
      }
    },
  };
}

/** A log that keeps lines in memory (tests, summaries). */
export function memoryLog(secrets?: Secrets): Log & { lines: string[] } {
  const lines: string[] = [];
  const log = createLog({ write: (level, m) => lines.push(level === "info" ? m : `${level}: ${m}`) }, secrets);
  return Object.assign(log, { lines });
}

export function terminalLog(secrets?: Secrets, stream: NodeJS.WritableStream = process.stderr): Log {
  return createLog(
    {
      write: (level, m) => stream.write((level === "info" ? "" : `${level}: `) + m + "\n"),
      startGroup: (t) => stream.write(`── ${t}\n`),
      endGroup: () => undefined,
    },
    secrets,
  );
}
