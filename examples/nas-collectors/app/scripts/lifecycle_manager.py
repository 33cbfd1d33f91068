"""Instrument lifecycle manager for one currency (the seed's scripts/lifecycle_manager.py): every
refresh it compares the exchange's active options with instrument_metadata, records new listings
and expiries there and in lifecycle_events, and keeps the collector's subscriptions in step
through the collector's control API.

Control API (CONTROL_API_PORT, 8100):
  GET  /health        {"status": "healthy", "timestamp": ...}; 503 "stale" when no refresh for a minute
  GET  /api/status    currency, version, tracked, listed, expired, refresh_cycles, collector_reachable
  POST /api/refresh   run a refresh cycle now
"""
import json
import os
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime

from scripts import coverage
from scripts.common import Db, log, now_iso, serve
from scripts.version import VERSION

CURRENCY = os.environ["CURRENCY"].upper()
PORT = int(os.environ.get("CONTROL_API_PORT", "8100"))
COLLECTOR_URL = os.environ["COLLECTOR_URL"].rstrip("/")
REFRESH = float(os.environ.get("REFRESH_INTERVAL", "3"))
STALE = max(60.0, 10 * REFRESH)
LISTING = os.environ.get("INSTRUMENTS_FILE", os.path.join(os.path.dirname(__file__), "..", "config", "instruments.json"))


def exchange_instruments():
    """The exchange's active options of this currency (config/instruments.json stands in for Deribit)."""
    with open(LISTING) as f:
        return set(json.load(f)[CURRENCY])


def parse(name):
    """BTC-26DEC26-100000-C -> (expiration date, strike, call/put)"""
    _, expiry, strike, kind = name.split("-")
    return datetime.strptime(expiry, "%d%b%y").date(), float(strike), "call" if kind == "C" else "put"


def collector(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{COLLECTOR_URL}{path}", data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


class Manager:
    def __init__(self, db):
        self.db = db
        self.lock = threading.RLock()  # refresh() returns status(), both under it
        self.started = time.monotonic()
        self.refreshed = None
        self.cycles = 0
        self.stats = {"tracked": 0, "listed": 0, "expired": 0, "coverage_updates": None}
        self.collector_reachable = False
        self.last_refresh = None

    def status(self):
        with self.lock:
            return {"currency": CURRENCY, "version": VERSION, "refresh_cycles": self.cycles, "collector_url": COLLECTOR_URL, "collector_reachable": self.collector_reachable, "last_refresh": self.last_refresh, **self.stats}

    def health(self):
        """Healthy while the refresh loop turns: a manager stuck for STALE seconds is unhealthy."""
        last = self.refreshed if self.refreshed is not None else self.started
        age = time.monotonic() - last
        if age > STALE:
            return 503, {"status": "stale", "seconds_since_refresh": round(age), "timestamp": now_iso()}
        return 200, {"status": "healthy", "timestamp": now_iso()}

    def refresh(self):
        with self.lock:  # one cycle at a time (the timer and POST /api/refresh)
            listed = exchange_instruments()
            active = {r[0] for r in self.db.query("SELECT instrument_name FROM instrument_metadata WHERE currency = %s AND is_active", (CURRENCY,))}
            new, gone = sorted(listed - active), sorted(active - listed)
            if new:
                log(f"Handling {len(new)} newly listed instruments...")
            for name in new:
                expiry, strike, kind = parse(name)
                self.db.query(
                    """INSERT INTO instrument_metadata (instrument_name, currency, expiration_date, strike, option_type, is_active)
                       VALUES (%s, %s, %s, %s, %s, true)
                       ON CONFLICT (instrument_name) DO UPDATE SET is_active = true, expired_at = NULL, updated_at = now()""",
                    (name, CURRENCY, expiry, strike, kind),
                )
                self.db.event("instrument_listed", CURRENCY, name, details={"version": VERSION})
                log(f"New instrument listed: {name}")
            for name in gone:
                self.db.query("UPDATE instrument_metadata SET is_active = false, expired_at = now(), updated_at = now() WHERE instrument_name = %s", (name,))
                self.db.event("instrument_expired", CURRENCY, name, details={"version": VERSION})
                log(f"Instrument expired: {name}")
            # the collector's subscriptions follow the listing
            try:
                subscribed = set(collector("GET", "/api/status")["instruments"])
                add, remove = sorted(listed - subscribed), sorted(subscribed - listed)
                if add:
                    done = set(collector("POST", "/api/subscribe", {"instruments": add})["subscribed"])
                    for name in add:
                        self.db.event("subscription_added", CURRENCY, name, success=name in done, details={"collector": COLLECTOR_URL})
                if remove:
                    done = set(collector("POST", "/api/unsubscribe", {"instruments": remove})["unsubscribed"])
                    for name in remove:
                        self.db.event("subscription_removed", CURRENCY, name, success=name in done, details={"collector": COLLECTOR_URL})
                reachable = True
            except (urllib.error.URLError, OSError, ValueError, KeyError) as e:
                log(f"Error subscribing {CURRENCY} instruments to {COLLECTOR_URL}: {e} (retrying next cycle)")
                reachable = False
            updated = coverage.update(self.db, CURRENCY)
            self.cycles += 1
            self.collector_reachable = reachable
            self.last_refresh = now_iso()
            self.refreshed = time.monotonic()
            self.stats = {"tracked": len(listed), "listed": len(new), "expired": len(gone), "coverage_updates": updated}
            if new or gone or self.cycles == 1:
                log(f"=== Refresh cycle {self.cycles} complete | Tracked: {len(listed)} | Expired: {len(gone)} | Listed: {len(new)} ===")
            return 200, self.status()


def main():
    db = Db(f"{CURRENCY.lower()}-lifecycle-manager")
    log(f"Starting lifecycle manager for {CURRENCY} ({VERSION})...")
    m = Manager(db)
    serve(
        PORT,
        {
            ("GET", "/health"): lambda _b: m.health(),
            ("GET", "/api/status"): lambda _b: (200, m.status()),
            ("POST", "/api/refresh"): lambda _b: m.refresh(),
        },
        f"{CURRENCY} lifecycle manager",
    )
    db.wait_ready()
    log("Database connection ready; performing initial instrument sync...")
    while True:
        try:
            m.refresh()
        except Exception as e:  # a failed cycle is retried at the next one
            log(f"refresh cycle failed: {e}")
        time.sleep(REFRESH)


if __name__ == "__main__":
    main()
