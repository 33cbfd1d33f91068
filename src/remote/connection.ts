// One SSH connection to one host (node-ssh over ssh2): host key pinned, keepalive, jump host,
// scripts fed to `bash -euo pipefail` on stdin, output streamed line by line, uploads and downloads
// as streams that never hold a whole file in memory.
import { spawn } from "node:child_process";
import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import type { Socket } from "node:net";
import path from "node:path";
import { PassThrough, Readable, Transform, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { NodeSSH } from "node-ssh";
import type { Client, ClientChannel } from "ssh2";
import { Shell, sh } from "../commands/quote.js";
import type { Log } from "../report/log.js";
import { processExit, REPRODUCIBLE_TAR } from "./child.js";
import { RemoteCommandError, RemoteError } from "./errors.js";
import { openTcp, type Tcp } from "./tcp.js";
import { hostKeyRefusal, matchesPin, type HostKeyError, type HostKeyPins } from "./hostkey.js";

export { RemoteCommandError, RemoteError };

export interface RemoteTarget {
  name: string;
  address: string;
  port: number;
  user: string;
  pins: HostKeyPins;
  /** private key (PEM/OpenSSH text); never logged */
  privateKey: string;
  jump?: RemoteTarget;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  keepaliveMs: number;
}

export interface RunOptions {
  /** what this script does, for logs and errors: "install unit", "pg_dump" */
  step: string;
  timeoutMs?: number;
  /** do not echo output lines into the log */
  quiet?: boolean;
  /** throw on a non-zero exit (default true) */
  check?: boolean;
  /** stream stdout here (with backpressure) instead of capturing it; the log and tail get stderr */
  output?: Writable;
  /** each stdout line as it arrives (a script's progress marks) */
  onLine?: (line: string) => void;
  /** a file streamed to the script on fd 3, right after the script text on the same stdin */
  payload?: { path: string };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** last lines of stdout+stderr, interleaved as received */
  tail: string[];
  durationMs: number;
}

const TAIL_LINES = 30;
const MAX_CAPTURE = 16 * 1024 * 1024;
/** `timeout` (coreutils) exits 124 when it had to stop the command */
const TIMEOUT_EXIT = 124;

export class Remote {
  /** remote exec calls made on this connection (benchmarks count them) */
  execCount = 0;
  private closed = false;
  /** set when the connection dropped (keepalive timeout, reset, host gone) */
  private lost = false;
  /** commands in flight: ended at once when the connection drops, so nothing waits for a dead host */
  private readonly inFlight = new Set<() => void>();

  private constructor(
    readonly target: RemoteTarget,
    private readonly ssh: NodeSSH,
    private readonly log: Log,
    private readonly jump?: Remote,
  ) {
    ssh.connection?.on("close", () => {
      this.lost = true;
      for (const end of [...this.inFlight]) end();
    });
  }

  get name(): string {
    return this.target.name;
  }

  private get client(): Client {
    const c = this.ssh.connection;
    if (!c || this.closed) throw new RemoteError(this.name, "connect", `[${this.name}] connection is closed`);
    if (this.lost) throw new RemoteError(this.name, "connect", `[${this.name}] the connection to the host was lost`);
    return c;
  }

  /** Connect (through `jump` when the target has one), over `tcp` when it was opened already. */
  static async connect(target: RemoteTarget, log: Log, jump?: Remote, tcp?: Tcp): Promise<Remote> {
    let refusal: HostKeyError | undefined;
    const ssh = new NodeSSH();
    let sock: Readable | Socket;
    const failed = (why: string) => new RemoteError(target.name, "connect", `cannot connect to host ${target.name} (${target.user}@${target.address}:${target.port}${target.jump ? ` via ${target.jump.name}` : ""}): ${why}`);
    if (target.jump) {
      if (!jump) throw new Error(`host ${target.name} needs its jump host ${target.jump.name} connected first`);
      sock = await jump.forward(target.address, target.port);
    } else {
      tcp ??= openTcp(target.address, target.port);
      const early = tcp.early();
      if (early) throw failed(early.message);
      sock = tcp.sock;
    }
    try {
      await ssh.connect({
        host: target.address,
        port: target.port,
        username: target.user,
        privateKey: target.privateKey,
        // straight to the key: ssh2 would first try "none", a round trip that can only fail here
        authHandler: [{ type: "publickey", username: target.user, key: target.privateKey }] as never,
        readyTimeout: target.connectTimeoutMs,
        keepaliveInterval: target.keepaliveMs,
        keepaliveCountMax: 3,
        // AES-GCM runs in Node's native crypto; ssh2's default first choice, chacha20-poly1305,
        // needs its native addon for speed, which the bundles deliberately do not ship
        algorithms: { cipher: ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr", "chacha20-poly1305@openssh.com"] as never },
        sock: sock as never,
        hostVerifier: ((key: Buffer) => {
          if (matchesPin(key, target.pins)) return true;
          refusal = hostKeyRefusal(target.name, target.address, target.port, key, target.pins);
          return false;
        }) as never,
      });
    } catch (err) {
      ssh.dispose();
      sock.destroy();
      if (refusal) throw refusal;
      // a refusal that came while ssh2 was being set up is the real reason, not ssh2's timeout
      throw failed(tcp?.early()?.message ?? (err as Error).message);
    }
    const remote = new Remote(target, ssh, log, jump);
    // a keepalive timeout or reset ends the connection; running commands then fail with "connection lost"
    ssh.connection?.on("error", () => undefined);
    return remote;
  }

  /** A TCP stream to address:port opened from this host (for jump hosts and tunnels). */
  forward(address: string, port: number): Promise<ClientChannel> {
    return new Promise((resolve, reject) =>
      this.client.forwardOut("127.0.0.1", 0, address, port, (err, stream) =>
        err ? reject(new RemoteError(this.name, "forward", `[${this.name}] cannot open a tunnel to ${address}:${port}: ${err.message}`)) : resolve(stream),
      ),
    );
  }

  /**
   * Run a script with `bash -euo pipefail`, fed on stdin (never in argv). The script is wrapped in
   * a function so bash reads all of it before running any of it, and its commands see /dev/null
   * on stdin instead of the rest of the script. A server-side `timeout` stops a hung script.
   */
  async run(body: Shell, opts: RunOptions): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? this.target.commandTimeoutMs;
    const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
    const command = sh`timeout --kill-after=5 ${secs} ${BASH} -s`;
    if (body.text.includes("\0")) throw new RemoteError(this.name, opts.step, `[${this.name}] step "${opts.step}": the script contains a NUL byte`);
    // bash reads a script from a pipe a byte at a time, so what follows the last line (a payload)
    // is left on stdin for the function's fd 3
    const wrapped = `__slipway_main() {\n${body.text}\n}\n__slipway_main ${opts.payload ? "3<&0 " : ""}</dev/null\n`;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let captured = 0;
    const tail: string[] = [];
    const lines = (which: "out" | "err") => {
      let partial = "";
      return (chunk: Buffer) => {
        const buf = which === "out" ? stdout : stderr;
        if (captured < MAX_CAPTURE) {
          buf.push(chunk);
          captured += chunk.length;
        }
        const parts = (partial + chunk.toString("utf8")).split("\n");
        partial = parts.pop() ?? "";
        for (const line of parts) emit(line, which);
      };
      function emit(line: string, which: "out" | "err") {
        if (which === "out") opts.onLine?.(line);
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        if (!opts.quiet) logLine(line);
      }
    };
    const logLine = (line: string) => this.log.info(`[${this.name}] ${line}`);
    const started = Date.now();
    const payload = opts.payload;
    const input = payload
      ? Readable.from(
          (async function* () {
            yield Buffer.from(wrapped);
            yield* createReadStream(payload.path);
          })(),
        )
      : new PassThrough().end(wrapped);
    const onOut = lines("out");
    const onErr = lines("err");
    const output = opts.output;
    const { code, signal } = await this.execRaw(command, opts.step, timeoutMs + 10_000, (ch) => {
      // pipe() pauses the channel when the destination is full: ssh2 then stops widening its
      // window, so the host stops sending instead of the data piling up in memory
      if (output) ch.pipe(output, { end: false });
      else ch.on("data", onOut);
      ch.stderr.on("data", onErr);
      // a script that stops early (lock held) leaves the payload unread: its exit code tells why
      if (payload) pipeline(input, ch).catch(() => undefined);
      else input.pipe(ch);
    });
    const result: RunResult = {
      code: code ?? -1,
      stdout: Buffer.concat(stdout).toString("utf8"),
      stderr: Buffer.concat(stderr).toString("utf8"),
      tail: [...tail],
      durationMs: Date.now() - started,
    };
    // flush the last partial lines into the tail
    for (const rest of [result.stdout, result.stderr]) {
      const last = rest.endsWith("\n") ? "" : rest.slice(rest.lastIndexOf("\n") + 1);
      if (last) {
        result.tail.push(last);
        if (!opts.quiet) logLine(last);
      }
    }
    if (result.tail.length > TAIL_LINES) result.tail.splice(0, result.tail.length - TAIL_LINES);
    if (opts.check !== false && code !== 0) {
      const reason =
        code === null
          ? `lost its connection${signal ? ` (signal ${signal})` : ""} before the command finished`
          : code === TIMEOUT_EXIT || code === 137
            ? `timed out after ${secs}s and was stopped (exit ${code})`
            : `failed with exit code ${code}`;
      throw new RemoteCommandError(this.name, opts.step, code, result.tail, reason);
    }
    return result;
  }

  /**
   * Low-level: run a short command line (quoted words only, no secrets) with streams attached.
   * Resolves with the exit code; null means the connection ended without one.
   */
  private execRaw(command: Shell, step: string, timeoutMs: number, attach: (ch: ClientChannel) => void): Promise<{ code: number | null; signal?: string }> {
    this.execCount++;
    return new Promise((resolve, reject) => {
      // the connection dropped before the command could start or end: fail now, not at the timeout
      const dropped = () => {
        this.inFlight.delete(dropped);
        reject(new RemoteCommandError(this.name, step, null, [], "lost its connection to the host"));
      };
      this.inFlight.add(dropped);
      this.client.exec(command.text, (err, ch) => {
        if (err) {
          this.inFlight.delete(dropped);
          return reject(new RemoteError(this.name, step, `[${this.name}] step "${step}": cannot start a command: ${err.message}`));
        }
        let code: number | null = null;
        let signal: string | undefined;
        const timer = setTimeout(() => {
          ch.destroy();
          reject(new RemoteCommandError(this.name, step, null, [], `did not answer within ${Math.round(timeoutMs / 1000)}s; the channel was closed`));
        }, timeoutMs);
        timer.unref(); // never what keeps the action alive
        ch.on("exit", (c: number | null, s?: string) => {
          code = c;
          signal = s ?? undefined;
        });
        ch.on("close", () => {
          clearTimeout(timer);
          this.inFlight.delete(dropped);
          resolve({ code, signal });
        });
        attach(ch);
      });
    });
  }

  /** Stream `input` into a remote command and/or its stdout into `output`; throws on failure. */
  async stream(command: Shell, step: string, io: { input?: Readable; output?: Writable; timeoutMs?: number }): Promise<void> {
    const errTail: string[] = [];
    let failure: Error | undefined;
    const { code } = await this.execRaw(command, step, io.timeoutMs ?? this.target.commandTimeoutMs, (ch) => {
      ch.stderr.on("data", (d: Buffer) => {
        errTail.push(...d.toString("utf8").split("\n").filter(Boolean));
        errTail.splice(0, Math.max(0, errTail.length - TAIL_LINES));
      });
      if (io.output) pipeline(ch, io.output).catch((e: Error) => (failure ??= e));
      else ch.resume();
      if (io.input) pipeline(io.input, ch).catch((e: Error) => (failure ??= e));
      else ch.end();
    });
    if (code !== 0) throw new RemoteCommandError(this.name, step, code, errTail, code === null ? "lost its connection before the transfer finished" : `failed with exit code ${code}`);
    if (failure) throw new RemoteError(this.name, step, `[${this.name}] step "${step}": local stream failed: ${failure.message}`);
  }

  /**
   * Upload one file as a stream. It is written to a temporary name, its size checked, then
   * renamed into place, so a cut connection never leaves a truncated file under the real name.
   * Returns the SHA-256 (hex) that both sides computed.
   */
  async uploadFile(local: string, remotePath: string, opts: { mode?: string; step?: string } = {}): Promise<{ sha256: string; size: number }> {
    const step = opts.step ?? `upload ${path.basename(local)}`;
    const { size } = await stat(local);
    const hash = createHash("sha256");
    const source = createReadStream(local).pipe(hashing(hash));
    const out = new CollectText();
    const cmd = sh`${BASH} -c ${UPLOAD_FILE} slipway-upload ${remotePath} ${size} ${opts.mode ?? "0644"}`;
    await this.stream(cmd, step, { input: source, output: out });
    const sha256 = hash.digest("hex");
    const remoteSum = out.text.trim();
    if (remoteSum !== sha256) throw new RemoteError(this.name, step, `[${this.name}] step "${step}": checksum mismatch for ${remotePath}: sent ${sha256}, host computed ${remoteSum || "nothing"}`);
    return { sha256, size };
  }

  /**
   * Upload a directory as a tar stream into remoteDir (created if missing). Entries are sorted and
   * owners normalised, so the same tree gives the same stream; returns its SHA-256 (the artifact digest).
   */
  async uploadDir(localDir: string, remoteDir: string, step = `upload ${path.basename(localDir)}/`): Promise<{ sha256: string; size: number }> {
    const tar = spawn("tar", [...REPRODUCIBLE_TAR, "-C", localDir, "-cf", "-", "."], { stdio: ["ignore", "pipe", "pipe"] });
    const tarDone = processExit(tar, "tar -c " + localDir);
    const hash = createHash("sha256");
    let size = 0;
    try {
      await this.stream(sh`mkdir -p ${remoteDir} && tar --no-same-owner -xf - -C ${remoteDir}`, step, { input: tar.stdout.pipe(hashing(hash, (n) => (size += n))) });
    } catch (e) {
      tar.kill(); // blocked on a pipe nobody reads any more: it would keep the action alive
      await tarDone.catch(() => undefined);
      throw e;
    }
    await tarDone;
    return { sha256: hash.digest("hex"), size };
  }

  /** Download one file as a stream (to a temporary name, renamed when complete). Returns its SHA-256. */
  async downloadFile(remotePath: string, local: string, step = `download ${path.basename(remotePath)}`): Promise<{ sha256: string; size: number }> {
    await mkdir(path.dirname(local), { recursive: true });
    const tmp = `${local}.partial`;
    const hash = createHash("sha256");
    let size = 0;
    const tap = hashing(hash, (n) => (size += n));
    const file = createWriteStream(tmp, { mode: 0o600 });
    const written = pipeline(tap, file);
    try {
      await this.stream(sh`cat ${remotePath}`, step, { output: tap });
      await written;
      await rename(tmp, local);
    } catch (e) {
      tap.destroy();
      await rm(tmp, { force: true });
      throw e;
    }
    return { sha256: hash.digest("hex"), size };
  }

  /** Download a directory as a tar stream into localDir. */
  async downloadDir(remoteDir: string, localDir: string, step = `download ${path.basename(remoteDir)}/`): Promise<void> {
    await mkdir(localDir, { recursive: true });
    const tar = spawn("tar", ["-C", localDir, "-xf", "-"], { stdio: ["pipe", "ignore", "pipe"] });
    const tarDone = processExit(tar, "tar -x into " + localDir);
    try {
      await this.stream(sh`tar -C ${remoteDir} -cf - .`, step, { output: tar.stdin });
    } catch (e) {
      tar.kill();
      await tarDone.catch(() => undefined);
      throw e;
    }
    await tarDone;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ssh.dispose();
  }

  /** For messages: user@address:port */
  describe(): string {
    return `${this.target.user}@${this.target.address}:${this.target.port}${this.jump ? ` via ${this.jump.name}` : ""}`;
  }
}

/**
 * bash for our scripts: strict mode, and no startup files (Debian's bash sources bashrc when run
 * by sshd, and bashrc is not written for `set -u`).
 */
const BASH = new Shell("bash --norc --noprofile -euo pipefail");

/** A pass-through that feeds every chunk to a hash (attached inside the pipeline, so nothing is lost). */
function hashing(hash: Hash, count?: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      count?.(chunk.length);
      done(null, chunk);
    },
  });
}

/** Remote side of uploadFile: receive exactly SIZE bytes into a temp file, check, then rename. */
const UPLOAD_FILE = `dest=$1; size=$2; mode=$3
tmp="$dest.slipway-upload.$$"
trap 'rm -f "$tmp"' EXIT
mkdir -p "$(dirname "$dest")"
(umask 077; head -c "$size" > "$tmp")
got=$(stat -c %s "$tmp")
if [ "$got" != "$size" ]; then echo "upload of $dest incomplete: $got of $size bytes" >&2; exit 1; fi
chmod "$mode" "$tmp"
sha256sum "$tmp" | cut -d' ' -f1
mv -f "$tmp" "$dest"
trap - EXIT`;

class CollectText extends PassThrough {
  text = "";
  constructor() {
    super();
    this.on("data", (d: Buffer) => (this.text += d.toString("utf8")));
  }
}
