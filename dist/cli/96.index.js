export const id = 96;
export const ids = [96];
export const modules = {

/***/ 4096:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   Remote: () => (/* binding */ Remote)
/* harmony export */ });
/* harmony import */ var node_child_process__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(1421);
/* harmony import */ var node_child_process__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_child_process__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(7598);
/* harmony import */ var node_crypto__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(node_crypto__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(3024);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_2___default = /*#__PURE__*/__webpack_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_2__);
/* harmony import */ var node_fs_promises__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(1455);
/* harmony import */ var node_fs_promises__WEBPACK_IMPORTED_MODULE_3___default = /*#__PURE__*/__webpack_require__.n(node_fs_promises__WEBPACK_IMPORTED_MODULE_3__);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(6760);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_4___default = /*#__PURE__*/__webpack_require__.n(node_path__WEBPACK_IMPORTED_MODULE_4__);
/* harmony import */ var node_stream__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(7075);
/* harmony import */ var node_stream__WEBPACK_IMPORTED_MODULE_5___default = /*#__PURE__*/__webpack_require__.n(node_stream__WEBPACK_IMPORTED_MODULE_5__);
/* harmony import */ var node_stream_promises__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(6466);
/* harmony import */ var node_stream_promises__WEBPACK_IMPORTED_MODULE_6___default = /*#__PURE__*/__webpack_require__.n(node_stream_promises__WEBPACK_IMPORTED_MODULE_6__);
/* harmony import */ var node_ssh__WEBPACK_IMPORTED_MODULE_7__ = __webpack_require__(9487);
/* harmony import */ var _commands_quote_js__WEBPACK_IMPORTED_MODULE_11__ = __webpack_require__(7654);
/* harmony import */ var _child_js__WEBPACK_IMPORTED_MODULE_12__ = __webpack_require__(8052);
/* harmony import */ var _errors_js__WEBPACK_IMPORTED_MODULE_8__ = __webpack_require__(6255);
/* harmony import */ var _tcp_js__WEBPACK_IMPORTED_MODULE_9__ = __webpack_require__(8609);
/* harmony import */ var _hostkey_js__WEBPACK_IMPORTED_MODULE_10__ = __webpack_require__(2655);
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
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_8__/* .RemoteError */ .H(this.name, "connect", `[${this.name}] connection is closed`);
        if (this.lost)
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_8__/* .RemoteError */ .H(this.name, "connect", `[${this.name}] the connection to the host was lost`);
        return c;
    }
    /** Connect (through `jump` when the target has one), over `tcp` when it was opened already. */
    static async connect(target, log, jump, tcp) {
        let refusal;
        const ssh = new node_ssh__WEBPACK_IMPORTED_MODULE_7__/* .NodeSSH */ .H();
        let sock;
        const failed = (why) => new _errors_js__WEBPACK_IMPORTED_MODULE_8__/* .RemoteError */ .H(target.name, "connect", `cannot connect to host ${target.name} (${target.user}@${target.address}:${target.port}${target.jump ? ` via ${target.jump.name}` : ""}): ${why}`);
        if (target.jump) {
            if (!jump)
                throw new Error(`host ${target.name} needs its jump host ${target.jump.name} connected first`);
            sock = await jump.forward(target.address, target.port);
        }
        else {
            tcp ??= (0,_tcp_js__WEBPACK_IMPORTED_MODULE_9__/* .openTcp */ .U)(target.address, target.port);
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
                    if ((0,_hostkey_js__WEBPACK_IMPORTED_MODULE_10__/* .matchesPin */ .l2)(key, target.pins))
                        return true;
                    refusal = (0,_hostkey_js__WEBPACK_IMPORTED_MODULE_10__/* .hostKeyRefusal */ .Sx)(target.name, target.address, target.port, key, target.pins);
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
        return new Promise((resolve, reject) => this.client.forwardOut("127.0.0.1", 0, address, port, (err, stream) => err ? reject(new _errors_js__WEBPACK_IMPORTED_MODULE_8__/* .RemoteError */ .H(this.name, "forward", `[${this.name}] cannot open a tunnel to ${address}:${port}: ${err.message}`)) : resolve(stream)));
    }
    /**
     * Run a script with `bash -euo pipefail`, fed on stdin (never in argv). The script is wrapped in
     * a function so bash reads all of it before running any of it, and its commands see /dev/null
     * on stdin instead of the rest of the script. A server-side `timeout` stops a hung script.
     */
    async run(body, opts) {
        const timeoutMs = opts.timeoutMs ?? this.target.commandTimeoutMs;
        const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
        const command = (0,_commands_quote_js__WEBPACK_IMPORTED_MODULE_11__.sh) `timeout --kill-after=5 ${secs} ${BASH} -s`;
        if (body.text.includes("\0"))
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_8__/* .RemoteError */ .H(this.name, opts.step, `[${this.name}] step "${opts.step}": the script contains a NUL byte`);
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
            ? node_stream__WEBPACK_IMPORTED_MODULE_5__.Readable.from((async function* () {
                yield Buffer.from(wrapped);
                yield* (0,node_fs__WEBPACK_IMPORTED_MODULE_2__.createReadStream)(payload.path);
            })())
            : new node_stream__WEBPACK_IMPORTED_MODULE_5__.PassThrough().end(wrapped);
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
                (0,node_stream_promises__WEBPACK_IMPORTED_MODULE_6__.pipeline)(input, ch).catch(() => undefined);
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
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_8__/* .RemoteCommandError */ .a(this.name, opts.step, code, result.tail, reason);
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
                reject(new _errors_js__WEBPACK_IMPORTED_MODULE_8__/* .RemoteCommandError */ .a(this.name, step, null, [], "lost its connection to the host"));
            };
            this.inFlight.add(dropped);
            this.client.exec(command.text, (err, ch) => {
                if (err) {
                    this.inFlight.delete(dropped);
                    return reject(new _errors_js__WEBPACK_IMPORTED_MODULE_8__/* .RemoteError */ .H(this.name, step, `[${this.name}] step "${step}": cannot start a command: ${err.message}`));
                }
                let code = null;
                let signal;
                const timer = setTimeout(() => {
                    ch.destroy();
                    reject(new _errors_js__WEBPACK_IMPORTED_MODULE_8__/* .RemoteCommandError */ .a(this.name, step, null, [], `did not answer within ${Math.round(timeoutMs / 1000)}s; the channel was closed`));
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
                (0,node_stream_promises__WEBPACK_IMPORTED_MODULE_6__.pipeline)(ch, io.output).catch((e) => (failure ??= e));
            else
                ch.resume();
            if (io.input)
                (0,node_stream_promises__WEBPACK_IMPORTED_MODULE_6__.pipeline)(io.input, ch).catch((e) => (failure ??= e));
            else
                ch.end();
        });
        if (code !== 0)
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_8__/* .RemoteCommandError */ .a(this.name, step, code, errTail, code === null ? "lost its connection before the transfer finished" : `failed with exit code ${code}`);
        if (failure)
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_8__/* .RemoteError */ .H(this.name, step, `[${this.name}] step "${step}": local stream failed: ${failure.message}`);
    }
    /**
     * Upload one file as a stream. It is written to a temporary name, its size checked, then
     * renamed into place, so a cut connection never leaves a truncated file under the real name.
     * Returns the SHA-256 (hex) that both sides computed.
     */
    async uploadFile(local, remotePath, opts = {}) {
        const step = opts.step ?? `upload ${node_path__WEBPACK_IMPORTED_MODULE_4___default().basename(local)}`;
        const { size } = await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_3__.stat)(local);
        const hash = (0,node_crypto__WEBPACK_IMPORTED_MODULE_1__.createHash)("sha256");
        const source = (0,node_fs__WEBPACK_IMPORTED_MODULE_2__.createReadStream)(local).pipe(hashing(hash));
        const out = new CollectText();
        const cmd = (0,_commands_quote_js__WEBPACK_IMPORTED_MODULE_11__.sh) `${BASH} -c ${UPLOAD_FILE} slipway-upload ${remotePath} ${size} ${opts.mode ?? "0644"}`;
        await this.stream(cmd, step, { input: source, output: out });
        const sha256 = hash.digest("hex");
        const remoteSum = out.text.trim();
        if (remoteSum !== sha256)
            throw new _errors_js__WEBPACK_IMPORTED_MODULE_8__/* .RemoteError */ .H(this.name, step, `[${this.name}] step "${step}": checksum mismatch for ${remotePath}: sent ${sha256}, host computed ${remoteSum || "nothing"}`);
        return { sha256, size };
    }
    /**
     * Upload a directory as a tar stream into remoteDir (created if missing). Entries are sorted and
     * owners normalised, so the same tree gives the same stream; returns its SHA-256 (the artifact digest).
     */
    async uploadDir(localDir, remoteDir, step = `upload ${node_path__WEBPACK_IMPORTED_MODULE_4___default().basename(localDir)}/`) {
        const tar = (0,node_child_process__WEBPACK_IMPORTED_MODULE_0__.spawn)("tar", [..._child_js__WEBPACK_IMPORTED_MODULE_12__/* .REPRODUCIBLE_TAR */ .X, "-C", localDir, "-cf", "-", "."], { stdio: ["ignore", "pipe", "pipe"] });
        const tarDone = (0,_child_js__WEBPACK_IMPORTED_MODULE_12__/* .processExit */ .u)(tar, "tar -c " + localDir);
        const hash = (0,node_crypto__WEBPACK_IMPORTED_MODULE_1__.createHash)("sha256");
        let size = 0;
        try {
            await this.stream((0,_commands_quote_js__WEBPACK_IMPORTED_MODULE_11__.sh) `mkdir -p ${remoteDir} && tar --no-same-owner -xf - -C ${remoteDir}`, step, { input: tar.stdout.pipe(hashing(hash, (n) => (size += n))) });
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
    async downloadFile(remotePath, local, step = `download ${node_path__WEBPACK_IMPORTED_MODULE_4___default().basename(remotePath)}`) {
        await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_3__.mkdir)(node_path__WEBPACK_IMPORTED_MODULE_4___default().dirname(local), { recursive: true });
        const tmp = `${local}.partial`;
        const hash = (0,node_crypto__WEBPACK_IMPORTED_MODULE_1__.createHash)("sha256");
        let size = 0;
        const tap = hashing(hash, (n) => (size += n));
        const file = (0,node_fs__WEBPACK_IMPORTED_MODULE_2__.createWriteStream)(tmp, { mode: 0o600 });
        const written = (0,node_stream_promises__WEBPACK_IMPORTED_MODULE_6__.pipeline)(tap, file);
        try {
            await this.stream((0,_commands_quote_js__WEBPACK_IMPORTED_MODULE_11__.sh) `cat ${remotePath}`, step, { output: tap });
            await written;
            await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_3__.rename)(tmp, local);
        }
        catch (e) {
            tap.destroy();
            await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_3__.rm)(tmp, { force: true });
            throw e;
        }
        return { sha256: hash.digest("hex"), size };
    }
    /** Download a directory as a tar stream into localDir. */
    async downloadDir(remoteDir, localDir, step = `download ${node_path__WEBPACK_IMPORTED_MODULE_4___default().basename(remoteDir)}/`) {
        await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_3__.mkdir)(localDir, { recursive: true });
        const tar = (0,node_child_process__WEBPACK_IMPORTED_MODULE_0__.spawn)("tar", ["-C", localDir, "-xf", "-"], { stdio: ["pipe", "ignore", "pipe"] });
        const tarDone = (0,_child_js__WEBPACK_IMPORTED_MODULE_12__/* .processExit */ .u)(tar, "tar -x into " + localDir);
        try {
            await this.stream((0,_commands_quote_js__WEBPACK_IMPORTED_MODULE_11__.sh) `tar -C ${remoteDir} -cf - .`, step, { output: tar.stdin });
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
const BASH = new _commands_quote_js__WEBPACK_IMPORTED_MODULE_11__/* .Shell */ .$f("bash --norc --noprofile -euo pipefail");
/** A pass-through that feeds every chunk to a hash (attached inside the pipeline, so nothing is lost). */
function hashing(hash, count) {
    return new node_stream__WEBPACK_IMPORTED_MODULE_5__.Transform({
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
class CollectText extends node_stream__WEBPACK_IMPORTED_MODULE_5__.PassThrough {
    text = "";
    constructor() {
        super();
        this.on("data", (d) => (this.text += d.toString("utf8")));
    }
}


/***/ })

};
