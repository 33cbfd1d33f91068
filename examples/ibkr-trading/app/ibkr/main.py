"""IBKR trading system: the sample app of seed 002 (Python 3 stdlib only).

A paper-trading loop standing in for the real strategy: it keeps a book (positions, cash) in
shared/state/book.json, which survives releases, decides every half second, and answers
GET /health on 127.0.0.1 only (the runbook: "localhost only"). It watches the panic flag,
shared/state/panic.flag: when the flag appears it stops trading, flattens the book and exits with
PANIC_EXIT, which the unit lists in RestartPreventExitStatus= and SuccessExitStatus= (the
environment's restart.stop-exit-status): systemd does not restart it, the unit ends inactive, and
it stays so across reboots while the flag is there (the app exits at once when started with it).
The operator's recovery, as the runbook says: remove the flag, start the service (or re-run the
deploy job).

Run by systemd from <deploy-to>/current:  python3 -m ibkr.main
"""

import collections
import http.server
import json
import os
import random
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from .migrations import migrate

VERSION = "1.0.0"
PANIC_EXIT = 78  # the environment's restart.stop-exit-status
APP = Path.cwd()  # the release (WorkingDirectory=<deploy-to>/current)
STATE, LOGS, CONFIG = APP / "state", APP / "logs", APP / "config"  # links to <deploy-to>/shared/...
PANIC_FLAG = STATE / "panic.flag"
BOOK = STATE / "book.json"
HEARTBEAT = STATE / "heartbeat.json"
PORT = int(os.environ.get("IBKR_HEALTH_PORT", "8200"))

status = {"version": VERSION, "trading": False, "broker": "connecting", "decisions": 0}
status_lock = threading.Lock()


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def log(msg):
    line = f"{now_iso()} ibkr {VERSION} {msg}"
    print(line, flush=True)  # the journal
    try:
        with open(LOGS / "trading.log", "a") as f:
            f.write(line + "\n")
    except OSError as e:
        print(f"cannot write {LOGS / 'trading.log'}: {e}", file=sys.stderr, flush=True)


def write_json(path, data):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def load_config():
    cfg = json.loads((Path(__file__).parent / "defaults.json").read_text())
    local = CONFIG / "strategy.json"  # the host's own settings (shared/config), kept across releases
    if local.exists():
        cfg.update(json.loads(local.read_text()))
    return cfg


def sandbox():
    """What the unit's hardening looks like from inside (the test compares it with the host)."""
    def writable(path):
        try:
            with open(path, "w") as f:
                f.write("probe")
            os.unlink(path)
            return "writable"
        except OSError as e:
            return os.strerror(e.errno) if e.errno else str(e)

    try:
        home = f"{len(os.listdir('/home'))} entries"
    except OSError as e:
        home = os.strerror(e.errno)
    nnp = next((line.split()[1] for line in open("/proc/self/status") if line.startswith("NoNewPrivs:")), "?")
    tmp_marker = f"/tmp/ibkr-private-{os.getpid()}"
    Path(tmp_marker).write_text(VERSION)
    return {
        "run_lock": writable("/run/lock/ibkr-probe"),  # world-writable on the host; ProtectSystem=strict
        "state_dir": writable(STATE / ".probe"),  # ReadWritePaths=<deploy-to>/shared
        "home": home,  # ProtectHome=yes: /home is empty or inaccessible
        "no_new_privs": nnp == "1",  # NoNewPrivileges=yes
        "tmp_marker": tmp_marker,  # PrivateTmp=yes: not in the host's /tmp
        "user": os.environ.get("USER") or str(os.getuid()),
    }


class PaperBroker:
    """Orders fill at the simulated price: the lab has no IB Gateway."""

    def __init__(self, symbols):
        self.price = {s: 100.0 + 50 * i for i, s in enumerate(symbols)}

    def tick(self):
        for s in self.price:
            self.price[s] *= 1 + random.gauss(0, 0.001)


def connect_broker(cfg):
    """The IB Gateway, on localhost only as the runbook wants; IBKR_GATEWAY=simulated (the lab) uses
    the in-process paper broker. Raises when the gateway cannot be reached."""
    gateway = os.environ.get("IBKR_GATEWAY", "simulated")
    if gateway != "simulated":
        host, port = gateway.rsplit(":", 1)
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the gateway must be on localhost, not {host}")
        socket.create_connection((host, int(port)), timeout=2).close()
    return PaperBroker(cfg["symbols"])


class Trader:
    def __init__(self, cfg, book, broker):
        self.cfg, self.book, self.broker = cfg, book, broker
        self.latencies = collections.deque(maxlen=500)
        self.decisions = 0
        for s in cfg["symbols"]:
            book["positions"].setdefault(s, 0)

    def decide(self):
        t0 = time.perf_counter()
        self.broker.tick()
        for s, price in self.broker.price.items():
            pos = self.book["positions"][s]
            qty = random.choice((-1, 0, 1))
            if abs(pos + qty) <= self.cfg["max_position"]:
                self.book["positions"][s] = pos + qty
                self.book["cash"] = round(self.book["cash"] - qty * price, 2)
        self.decisions += 1
        self.latencies.append((time.perf_counter() - t0) * 1000)
        if self.decisions % 20 == 0:
            log(f"decisions={self.decisions} latency_ms={self.latencies[-1]:.2f} positions={self.book['positions']}")

    def p99(self):
        xs = sorted(self.latencies)
        return round(xs[min(len(xs) - 1, int(len(xs) * 0.99))], 3) if xs else None

    def flatten(self):
        for s, pos in self.book["positions"].items():
            self.book["cash"] = round(self.book["cash"] + pos * self.broker.price.get(s, 0), 2)
            self.book["positions"][s] = 0


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/health":
            self.send_error(404)
            return
        with status_lock:
            body = dict(status)
        body["heartbeat_age_s"] = round(time.time() - body.get("heartbeat", 0), 3)
        ok = body["trading"] and body["broker"] == "connected"
        data = json.dumps(body).encode()
        self.send_response(200 if ok else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def panic(book, trader, where):
    """The runbook's panic procedure: stop trading, flatten, and stay down."""
    if trader:
        trader.flatten()
    book["halted"] = {"by": str(PANIC_FLAG), "at": now_iso(), "version": VERSION, "where": where}
    write_json(BOOK, book)
    log(f"PANIC: {PANIC_FLAG} found {where}: trading stopped, positions flattened; exiting {PANIC_EXIT} (not restarted)")
    sys.exit(PANIC_EXIT)


def main():
    cfg = load_config()
    book = json.loads(BOOK.read_text()) if BOOK.exists() else {}
    if PANIC_FLAG.exists():
        panic(book, None, "at start")
    applied = migrate(book)
    if "halted" in book:
        book["resumed"] = {"at": now_iso(), "after": book.pop("halted")}
        log(f"resuming after the panic halt of {book['resumed']['after']['at']}")
    write_json(BOOK, book)
    log(f"starting pid={os.getpid()} state migrations applied now={applied} all={book['migrations']} health=127.0.0.1:{PORT}")
    with status_lock:
        status.update(migrations=book["migrations"], sandbox=sandbox(), pid=os.getpid(), heartbeat=time.time())

    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    trader = None
    while not stop.is_set():
        if PANIC_FLAG.exists():
            panic(book, trader, "while trading" if trader else "while connecting")
        if trader is None:
            try:
                trader = Trader(cfg, book, connect_broker(cfg))
                log("broker connected")
                with status_lock:
                    status.update(broker="connected", trading=True)
            except (OSError, ValueError) as e:
                with status_lock:
                    status.update(broker=f"disconnected: {e}", trading=False)
                log(f"broker unreachable ({e}); retrying")
                stop.wait(2)
        else:
            trader.decide()
            book["updated"] = now_iso()
            write_json(BOOK, book)
        with status_lock:
            status.update(heartbeat=time.time(), decisions=trader.decisions if trader else 0, decision_latency_p99_ms=trader.p99() if trader else None)
            write_json(HEARTBEAT, {k: status[k] for k in ("version", "trading", "broker", "decisions", "heartbeat", "pid")})
        stop.wait(cfg["decision_interval_s"])
    write_json(BOOK, book)
    log("stopped (SIGTERM): book saved")


if __name__ == "__main__":
    main()
