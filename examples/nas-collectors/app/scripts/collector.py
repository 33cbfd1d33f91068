"""Options quote collector for one currency (the seed's btc-options-N / eth-options-N), with the
HTTP control API the lifecycle manager drives (the seed's collector_control_api.py).

The seed streams Deribit quotes over websockets; the lab NAS has no internet, so the exchange is
simulated: every tick, each subscribed instrument gets a quote, written to <currency>_option_quotes.

Control API (CONTROL_API_PORT, 8000):
  GET  /health           {"status": "healthy", "timestamp": ...}
  GET  /api/status       currency, version, running, websocket_connected, instruments, rows_written, ...
  POST /api/start        start collecting (logs collector_started)
  POST /api/stop         stop collecting, keep the subscriptions (logs collector_stopped)
  POST /api/subscribe    {"instruments": [...]}
  POST /api/unsubscribe  {"instruments": [...]}
"""
import math
import os
import random
import socket
import threading
import time

from scripts.common import Db, log, now_iso, serve
from scripts.version import VERSION

CURRENCY = os.environ["CURRENCY"].upper()
TABLE = f"{CURRENCY.lower()}_option_quotes"
PORT = int(os.environ.get("CONTROL_API_PORT", "8000"))
INTERVAL = float(os.environ.get("QUOTE_INTERVAL", "1"))
INSTANCE = socket.gethostname()
INSERT = f"INSERT INTO {TABLE} (timestamp, instrument_name, bid_price, ask_price, mark_price, underlying_price, collector) VALUES %s"
TEMPLATE = "(now(), %s, %s, %s, %s, %s, %s)"


class Collector:
    def __init__(self, db):
        self.db = db
        self.lock = threading.Lock()
        self.running = os.environ.get("AUTO_START", "true") == "true"
        self.instruments = set()
        self.rows_written = 0
        self.write_errors = 0
        self.last_error = None
        self.last_write = None
        self.underlying = {"BTC": 97000.0, "ETH": 3400.0}[CURRENCY]

    def status(self):
        with self.lock:
            return {
                "currency": CURRENCY,
                "version": VERSION,
                "instance": INSTANCE,
                "running": self.running,
                "websocket_connected": self.running,
                "instruments": sorted(self.instruments),
                "subscriptions": len(self.instruments),
                "rows_written": self.rows_written,
                "write_errors": self.write_errors,
                "last_error": self.last_error,
                "last_write": self.last_write,
            }

    def set_running(self, running):
        with self.lock:
            changed = self.running != running
            self.running = running
        if changed:
            self.db.event("collector_started" if running else "collector_stopped", CURRENCY, details={"version": VERSION, "instance": INSTANCE, "via": "control api"})
            log(f"{CURRENCY} collector {'started' if running else 'stopped'} through the control API")
        return 200, {"running": running}

    def subscribe(self, body, add):
        names = [n for n in body.get("instruments", []) if isinstance(n, str) and n.startswith(f"{CURRENCY}-")]
        with self.lock:
            before = set(self.instruments)
            if add:
                self.instruments.update(names)
            else:
                self.instruments.difference_update(names)
            changed = sorted(self.instruments ^ before)
            total = len(self.instruments)
        return 200, {"subscribed" if add else "unsubscribed": changed, "total": total}

    def quote(self, name):
        # BTC-26DEC26-100000-C: a plausible price from the distance to the strike
        _, _, strike, kind = name.split("-")
        intrinsic = max(0.0, (self.underlying - float(strike)) if kind == "C" else (float(strike) - self.underlying))
        mark = (intrinsic + self.underlying * 0.04 * random.uniform(0.9, 1.1)) / self.underlying
        spread = mark * 0.02
        return (name, round(mark - spread, 8), round(mark + spread, 8), round(mark, 8), round(self.underlying, 2), INSTANCE)

    def tick(self):
        with self.lock:
            names = sorted(self.instruments) if self.running else []
        self.underlying *= math.exp(random.gauss(0, 0.0005))
        if not names:
            return
        try:
            self.db.values(INSERT, [self.quote(n) for n in names], template=TEMPLATE)
            with self.lock:
                self.rows_written += len(names)
                self.last_write = now_iso()
        except Exception as e:  # a failed write is counted and logged; the collector keeps running
            with self.lock:
                self.write_errors += 1
                first = self.last_error is None
                self.last_error = str(e).strip().splitlines()[0]
            if first or self.write_errors % 30 == 0:
                log(f"writing {len(names)} quotes to {TABLE} failed ({self.write_errors} failures so far): {str(e).strip()}")


def main():
    db = Db(f"{CURRENCY.lower()}-options collector")
    log(f"Starting {CURRENCY} options collector {VERSION} ({INSTANCE})")
    c = Collector(db)
    serve(
        PORT,
        {
            ("GET", "/health"): lambda _b: (200, {"status": "healthy", "timestamp": now_iso()}),
            ("GET", "/api/status"): lambda _b: (200, c.status()),
            ("POST", "/api/start"): lambda _b: c.set_running(True),
            ("POST", "/api/stop"): lambda _b: c.set_running(False),
            ("POST", "/api/subscribe"): lambda b: c.subscribe(b, True),
            ("POST", "/api/unsubscribe"): lambda b: c.subscribe(b, False),
        },
        f"{CURRENCY} collector",
    )
    db.wait_ready()
    if c.running:
        db.event("collector_started", CURRENCY, details={"version": VERSION, "instance": INSTANCE, "via": "boot"})
    log(f"Database connection ready; {'collecting' if c.running else 'waiting for POST /api/start'}")
    while True:
        t0 = time.monotonic()
        c.tick()
        time.sleep(max(0.0, INTERVAL - (time.monotonic() - t0)))


if __name__ == "__main__":
    main()
