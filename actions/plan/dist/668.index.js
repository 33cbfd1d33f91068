export const id = 668;
export const ids = [668];
export const modules = {

/***/ 9668:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  Remote: () => (/* binding */ Remote)
});

// UNUSED EXPORTS: RemoteCommandError, RemoteError

// EXTERNAL MODULE: external "node:child_process"
var external_node_child_process_ = __webpack_require__(1421);
// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(7598);
// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __webpack_require__(3024);
// EXTERNAL MODULE: external "node:fs/promises"
var promises_ = __webpack_require__(1455);
// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(6760);
var external_node_path_default = /*#__PURE__*/__webpack_require__.n(external_node_path_);
// EXTERNAL MODULE: external "node:stream"
var external_node_stream_ = __webpack_require__(7075);
// EXTERNAL MODULE: external "node:stream/promises"
var external_node_stream_promises_ = __webpack_require__(6466);
// EXTERNAL MODULE: ./node_modules/node-ssh/lib/esm/index.mjs + 2 modules
var esm = __webpack_require__(9487);
// EXTERNAL MODULE: ./src/commands/quote.ts
var quote = __webpack_require__(7654);
;// CONCATENATED MODULE: ./src/remote/child.ts
/** tar -c flags that make the same tree give the same bytes (and digest): sorted entries, owners normalised */
const REPRODUCIBLE_TAR = ["--sort=name", "--owner=0", "--group=0", "--numeric-owner"];
/** Resolves when `child` exits 0; otherwise rejects naming `what`, its exit code and its stderr. */
function processExit(child, what) {
    let err = "";
    child.stderr?.on("data", (d) => (err += d.toString()));
    return new Promise((resolve, reject) => {
        child.on("error", reject); // could not start (no tar on PATH)
        child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}): ${err.trim()}`))));
    });
}

;// CONCATENATED MODULE: ./src/remote/errors.ts
// Errors of remote commands: they carry the host, the step, the exit code and the last output lines.
class RemoteError extends Error {
    host;
    step;
    constructor(host, step, message) {
        super(message);
        this.host = host;
        this.step = step;
        this.name = "RemoteError";
    }
}
class RemoteCommandError extends RemoteError {
    code;
    tail;
    constructor(host, step, code, tail, reason) {
        super(host, step, `[${host}] step "${step}" ${reason}${tail.length ? `; last output:\n  ${tail.join("\n  ")}` : " (no output)"}`);
        this.code = code;
        this.tail = tail;
        this.name = "RemoteCommandError";
    }
}

// EXTERNAL MODULE: ./src/remote/tcp.ts + 1 modules
var remote_tcp = __webpack_require__(6623);
;// CONCATENATED MODULE: ./src/remote/hostkey.ts
// Host key pinning. A host is trusted only if the key it presents matches a pinned SHA256
// fingerprint or a pinned known_hosts line. There is no way to skip this.

/** OpenSSH-style fingerprint of a raw (wire-format) public key. */
function fingerprint(key) {
    return "SHA256:" + (0,external_node_crypto_.createHash)("sha256").update(key).digest("base64").replace(/=+$/, "");
}
/** Key type from the wire format: uint32 length, then the type name. */
function keyType(key) {
    if (key.length < 4)
        return "unknown";
    const len = key.readUInt32BE(0);
    return len > 0 && len < 64 && key.length >= 4 + len ? key.subarray(4, 4 + len).toString("latin1") : "unknown";
}
/** The pinned fingerprints of a host: fingerprints as given plus those of the known_hosts keys. */
function pinnedFingerprints(pins) {
    const fromLines = pins.knownHosts.map((line) => {
        const b64 = line.trim().split(/\s+/)[2] ?? "";
        return fingerprint(Buffer.from(b64, "base64"));
    });
    return [...pins.fingerprints.map((f) => f.replace(/=+$/, "")), ...fromLines];
}
function matchesPin(key, pins) {
    return pinnedFingerprints(pins).includes(fingerprint(key));
}
class HostKeyError extends Error {
    host;
    presented;
    constructor(host, presented, message) {
        super(message);
        this.host = host;
        this.presented = presented;
        this.name = "HostKeyError";
    }
}
/** The refusal message: says what was presented and exactly how to pin it. */
function hostKeyRefusal(host, address, port, key, pins) {
    const fp = fingerprint(key);
    const type = keyType(key);
    const pinned = pinnedFingerprints(pins);
    const target = port === 22 ? address : `[${address}]:${port}`;
    const how = `If you trust this key (check it on the host with \`ssh-keygen -lf /etc/ssh/ssh_host_${type.replace(/^ssh-/, "").replace(/-.*/, "")}_key.pub\`), pin it in the environment file:\n` +
        `  hosts:\n    ${host}:\n      host-key: "${fp}"\n` +
        `or as a known_hosts line:\n      known-hosts: "${target} ${type} ${key.toString("base64")}"`;
    const message = pinned.length === 0
        ? `host ${host} (${address}:${port}) has no pinned host key; it presented ${type} ${fp}. Refusing to connect.\n${how}`
        : `HOST KEY MISMATCH for ${host} (${address}:${port}): it presented ${type} ${fp}, but the pinned key is ${pinned.join(" or ")}. ` +
            `Refusing to connect: the host was rebuilt, or someone is intercepting the connection.\n${how}`;
    return new HostKeyError(host, fp, message);
}

;// CONCATENATED MODULE: ./src/remote/connection.ts
// One SSH connection to one host (node-ssh over ssh2): host key pinned, keepalive, jump host,
// scripts fed to `bash -euo pipefail` on stdin, output streamed line by line, uploads and downloads
// as streams that never hold a whole file in memory.














const TAIL_LINES = 30;
const MAX_CAPTURE = 16 * 1024 * 1024;
/** `timeout` (coreutils) exits 124 when it had to stop the command */
const TIMEOUT_EXIT = 124;
class Remote {
    target;
    ssh;
    log;
    jump;
    /** remote exec calls made on this connection (benchmarks count them) */
    execCount = 0;
    closed = false;
    /** set when the connection dropped (keepalive timeout, reset, host gone) */
    lost = false;
    /** commands in flight: ended at once when the connection drops, so nothing waits for a dead host */
    inFlight = new Set();
    constructor(target, ssh, log, jump) {
        this.target = target;
        this.ssh = ssh;
        this.log = log;
        this.jump = jump;
        ssh.connection?.on("close", () => {
            this.lost = true;
            for (const end of [...this.inFlight])
                end();
        });
    }
    get name() {
        return this.target.name;
    }
    get client() {
        const c = this.ssh.connection;
        if (!c || this.closed)
            throw new RemoteError(this.name, "connect", `[${this.name}] connection is closed`);
        if (this.lost)
            throw new RemoteError(this.name, "connect", `[${this.name}] the connection to the host was lost`);
        return c;
    }
    /** Connect (through `jump` when the target has one), over `tcp` when it was opened already. */
    static async connect(target, log, jump, tcp) {
        let refusal;
        const ssh = new esm/* NodeSSH */.H();
        let sock;
        const failed = (why) => new RemoteError(target.name, "connect", `cannot connect to host ${target.name} (${target.user}@${target.address}:${target.port}${target.jump ? ` via ${target.jump.name}` : ""}): ${why}`);
        if (target.jump) {
            if (!jump)
                throw new Error(`host ${target.name} needs its jump host ${target.jump.name} connected first`);
            sock = await jump.forward(target.address, target.port);
        }
        else {
            tcp ??= (0,remote_tcp/* openTcp */.U)(target.address, target.port);
            const early = tcp.early();
            if (early)
                throw failed(early.message);
            sock = tcp.sock;
        }
        try {
            await ssh.connect({
                host: target.address,
                port: target.port,
                username: target.user,
                privateKey: target.privateKey,
                // straight to the key: ssh2 would first try "none", a round trip that can only fail here
                authHandler: [{ type: "publickey", username: target.user, key: target.privateKey }],
                readyTimeout: target.connectTimeoutMs,
                keepaliveInterval: target.keepaliveMs,
                keepaliveCountMax: 3,
                // AES-GCM runs in Node's native crypto; ssh2's default first choice, chacha20-poly1305,
                // needs its native addon for speed, which the bundles deliberately do not ship
                algorithms: { cipher: ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr", "chacha20-poly1305@openssh.com"] },
                sock: sock,
                hostVerifier: ((key) => {
                    if (matchesPin(key, target.pins))
                        return true;
                    refusal = hostKeyRefusal(target.name, target.address, target.port, key, target.pins);
                    return false;
                }),
            });
        }
        catch (err) {
            ssh.dispose();
            sock.destroy();
            if (refusal)
                throw refusal;
            // a refusal that came while ssh2 was being set up is the real reason, not ssh2's timeout
            throw failed(tcp?.early()?.message ?? err.message);
        }
        const remote = new Remote(target, ssh, log, jump);
        // a keepalive timeout or reset ends the connection; running commands then fail with "connection lost"
        ssh.connection?.on("error", () => undefined);
        return remote;
    }
    /** A TCP stream to address:port opened from this host (for jump hosts and tunnels). */
    forward(address, port) {
        return new Promise((resolve, reject) => this.client.forwardOut("127.0.0.1", 0, address, port, (err, stream) => err ? reject(new RemoteError(this.name, "forward", `[${this.name}] cannot open a tunnel to ${address}:${port}: ${err.message}`)) : resolve(stream)));
    }
    /**
     * Run a script with `bash -euo pipefail`, fed on stdin (never in argv). The script is wrapped in
     * a function so bash reads all of it before running any of it, and its commands see /dev/null
     * on stdin instead of the rest of the script. A server-side `timeout` stops a hung script.
     */
    async run(body, opts) {
        const timeoutMs = opts.timeoutMs ?? this.target.commandTimeoutMs;
        const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
        const command = (0,quote.sh) `timeout --kill-after=5 ${secs} ${BASH} -s`;
        if (body.text.includes("\0"))
            throw new RemoteError(this.name, opts.step, `[${this.name}] step "${opts.step}": the script contains a NUL byte`);
        // bash reads a script from a pipe a byte at a time, so what follows the last line (a payload)
        // is left on stdin for the function's fd 3
        const wrapped = `__slipway_main() {\n${body.text}\n}\n__slipway_main ${opts.payload ? "3<&0 " : ""}</dev/null\n`;
        const stdout = [];
        const stderr = [];
        let captured = 0;
        const tail = [];
        const lines = (which) => {
            let partial = "";
            return (chunk) => {
                const buf = which === "out" ? stdout : stderr;
                if (captured < MAX_CAPTURE) {
                    buf.push(chunk);
                    captured += chunk.length;
                }
                const parts = (partial + chunk.toString("utf8")).split("\n");
                partial = parts.pop() ?? "";
                for (const line of parts)
                    emit(line, which);
            };
            function emit(line, which) {
                if (which === "out")
                    opts.onLine?.(line);
                tail.push(line);
                if (tail.length > TAIL_LINES)
                    tail.shift();
                if (!opts.quiet)
                    logLine(line);
            }
        };
        const logLine = (line) => this.log.info(`[${this.name}] ${line}`);
        const started = Date.now();
        const payload = opts.payload;
        const input = payload
            ? external_node_stream_.Readable.from((async function* () {
                yield Buffer.from(wrapped);
                yield* (0,external_node_fs_.createReadStream)(payload.path);
            })())
            : new external_node_stream_.PassThrough().end(wrapped);
        const onOut = lines("out");
        const onErr = lines("err");
        const output = opts.output;
        const { code, signal } = await this.execRaw(command, opts.step, timeoutMs + 10_000, (ch) => {
            // pipe() pauses the channel when the destination is full: ssh2 then stops widening its
            // window, so the host stops sending instead of the data piling up in memory
            if (output)
                ch.pipe(output, { end: false });
            else
                ch.on("data", onOut);
            ch.stderr.on("data", onErr);
            // a script that stops early (lock held) leaves the payload unread: its exit code tells why
            if (payload)
                (0,external_node_stream_promises_.pipeline)(input, ch).catch(() => undefined);
            else
                input.pipe(ch);
        });
        const result = {
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
                if (!opts.quiet)
                    logLine(last);
            }
        }
        if (result.tail.length > TAIL_LINES)
            result.tail.splice(0, result.tail.length - TAIL_LINES);
        if (opts.check !== false && code !== 0) {
            const reason = code === null
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
    execRaw(command, step, timeoutMs, attach) {
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
                let code = null;
                let signal;
                const timer = setTimeout(() => {
                    ch.destroy();
                    reject(new RemoteCommandError(this.name, step, null, [], `did not answer within ${Math.round(timeoutMs / 1000)}s; the channel was closed`));
                }, timeoutMs);
                timer.unref(); // never what keeps the action alive
                ch.on("exit", (c, s) => {
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
    async stream(command, step, io) {
        const errTail = [];
        let failure;
        const { code } = await this.execRaw(command, step, io.timeoutMs ?? this.target.commandTimeoutMs, (ch) => {
            ch.stderr.on("data", (d) => {
                errTail.push(...d.toString("utf8").split("\n").filter(Boolean));
                errTail.splice(0, Math.max(0, errTail.length - TAIL_LINES));
            });
            if (io.output)
                (0,external_node_stream_promises_.pipeline)(ch, io.output).catch((e) => (failure ??= e));
            else
                ch.resume();
            if (io.input)
                (0,external_node_stream_promises_.pipeline)(io.input, ch).catch((e) => (failure ??= e));
            else
                ch.end();
        });
        if (code !== 0)
            throw new RemoteCommandError(this.name, step, code, errTail, code === null ? "lost its connection before the transfer finished" : `failed with exit code ${code}`);
        if (failure)
            throw new RemoteError(this.name, step, `[${this.name}] step "${step}": local stream failed: ${failure.message}`);
    }
    /**
     * Upload one file as a stream. It is written to a temporary name, its size checked, then
     * renamed into place, so a cut connection never leaves a truncated file under the real name.
     * Returns the SHA-256 (hex) that both sides computed.
     */
    async uploadFile(local, remotePath, opts = {}) {
        const step = opts.step ?? `upload ${external_node_path_default().basename(local)}`;
        const { size } = await (0,promises_.stat)(local);
        const hash = (0,external_node_crypto_.createHash)("sha256");
        const source = (0,external_node_fs_.createReadStream)(local).pipe(hashing(hash));
        const out = new CollectText();
        const cmd = (0,quote.sh) `${BASH} -c ${UPLOAD_FILE} slipway-upload ${remotePath} ${size} ${opts.mode ?? "0644"}`;
        await this.stream(cmd, step, { input: source, output: out });
        const sha256 = hash.digest("hex");
        const remoteSum = out.text.trim();
        if (remoteSum !== sha256)
            throw new RemoteError(this.name, step, `[${this.name}] step "${step}": checksum mismatch for ${remotePath}: sent ${sha256}, host computed ${remoteSum || "nothing"}`);
        return { sha256, size };
    }
    /**
     * Upload a directory as a tar stream into remoteDir (created if missing). Entries are sorted and
     * owners normalised, so the same tree gives the same stream; returns its SHA-256 (the artifact digest).
     */
    async uploadDir(localDir, remoteDir, step = `upload ${external_node_path_default().basename(localDir)}/`) {
        const tar = (0,external_node_child_process_.spawn)("tar", [...REPRODUCIBLE_TAR, "-C", localDir, "-cf", "-", "."], { stdio: ["ignore", "pipe", "pipe"] });
        const tarDone = processExit(tar, "tar -c " + localDir);
        const hash = (0,external_node_crypto_.createHash)("sha256");
        let size = 0;
        try {
            await this.stream((0,quote.sh) `mkdir -p ${remoteDir} && tar --no-same-owner -xf - -C ${remoteDir}`, step, { input: tar.stdout.pipe(hashing(hash, (n) => (size += n))) });
        }
        catch (e) {
            tar.kill(); // blocked on a pipe nobody reads any more: it would keep the action alive
            await tarDone.catch(() => undefined);
            throw e;
        }
        await tarDone;
        return { sha256: hash.digest("hex"), size };
    }
    /** Download one file as a stream (to a temporary name, renamed when complete). Returns its SHA-256. */
    async downloadFile(remotePath, local, step = `download ${external_node_path_default().basename(remotePath)}`) {
        await (0,promises_.mkdir)(external_node_path_default().dirname(local), { recursive: true });
        const tmp = `${local}.partial`;
        const hash = (0,external_node_crypto_.createHash)("sha256");
        let size = 0;
        const tap = hashing(hash, (n) => (size += n));
        const file = (0,external_node_fs_.createWriteStream)(tmp, { mode: 0o600 });
        const written = (0,external_node_stream_promises_.pipeline)(tap, file);
        try {
            await this.stream((0,quote.sh) `cat ${remotePath}`, step, { output: tap });
            await written;
            await (0,promises_.rename)(tmp, local);
        }
        catch (e) {
            tap.destroy();
            await (0,promises_.rm)(tmp, { force: true });
            throw e;
        }
        return { sha256: hash.digest("hex"), size };
    }
    /** Download a directory as a tar stream into localDir. */
    async downloadDir(remoteDir, localDir, step = `download ${external_node_path_default().basename(remoteDir)}/`) {
        await (0,promises_.mkdir)(localDir, { recursive: true });
        const tar = (0,external_node_child_process_.spawn)("tar", ["-C", localDir, "-xf", "-"], { stdio: ["pipe", "ignore", "pipe"] });
        const tarDone = processExit(tar, "tar -x into " + localDir);
        try {
            await this.stream((0,quote.sh) `tar -C ${remoteDir} -cf - .`, step, { output: tar.stdin });
        }
        catch (e) {
            tar.kill();
            await tarDone.catch(() => undefined);
            throw e;
        }
        await tarDone;
    }
    async close() {
        if (this.closed)
            return;
        this.closed = true;
        this.ssh.dispose();
    }
    /** For messages: user@address:port */
    describe() {
        return `${this.target.user}@${this.target.address}:${this.target.port}${this.jump ? ` via ${this.jump.name}` : ""}`;
    }
}
/**
 * bash for our scripts: strict mode, and no startup files (Debian's bash sources bashrc when run
 * by sshd, and bashrc is not written for `set -u`).
 */
const BASH = new quote/* Shell */.$f("bash --norc --noprofile -euo pipefail");
/** A pass-through that feeds every chunk to a hash (attached inside the pipeline, so nothing is lost). */
function hashing(hash, count) {
    return new external_node_stream_.Transform({
        transform(chunk, _enc, done) {
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
class CollectText extends external_node_stream_.PassThrough {
    text = "";
    constructor() {
        super();
        this.on("data", (d) => (this.text += d.toString("utf8")));
    }
}


/***/ })

};
