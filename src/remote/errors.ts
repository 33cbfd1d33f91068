// Errors of remote commands: they carry the host, the step, the exit code and the last output lines.

export class RemoteError extends Error {
  constructor(
    readonly host: string,
    readonly step: string,
    message: string,
  ) {
    super(message);
    this.name = "RemoteError";
  }
}

export class RemoteCommandError extends RemoteError {
  constructor(
    host: string,
    step: string,
    readonly code: number | null,
    readonly tail: string[],
    reason: string,
  ) {
    super(host, step, `[${host}] step "${step}" ${reason}${tail.length ? `; last output:\n  ${tail.join("\n  ")}` : " (no output)"}`);
    this.name = "RemoteCommandError";
  }
}
