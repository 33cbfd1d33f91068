"""REC.IO trading system, lab edition (seed 001): every back-end program of the droplet is this one
file run with the program's name, e.g. `python3 backend/recio.py trade_manager`.

Each program loops every RECIO_TICK seconds (2 by default), writes its JSON feed into backend/data
(the shared data directory) atomically and logs to logs/<program>.log. trade_manager owns
backend/data/trade_history/trades.db: at start it applies the numbered SQL files of
backend/migrations/trades/ that the database has not seen (history in schema_migrations, each file
in its own transaction, under SQLite's write lock), then records a trade every few ticks.
"""
import datetime
import hashlib
import json
import logging
import logging.handlers
import os
import random
import signal
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")  # a link to <deploy-to>/shared/backend/data
LOGS = os.path.join(os.path.dirname(HERE), "logs")  # a link to <deploy-to>/shared/logs
TRADES_DB = os.path.join(DATA, "trade_history", "trades.db")
MIGRATIONS = os.path.join(HERE, "migrations", "trades")
TICK = float(os.environ.get("RECIO_TICK", "2"))

PROGRAMS = {
    # program: the JSON feed it keeps fresh
    "unified_production_coordinator": "market_snapshot.json",
    "kalshi_account_sync": "account_balance.json",
    "trade_manager": "trade_manager.json",
    "trade_executor": "executor_queue.json",
    "active_trade_supervisor": "active_trades.json",
    "auto_entry_supervisor": "auto_entry.json",
    "btc_price_watchdog": "btc_price.json",
    "symbol_price_watchdog": "symbol_prices.json",
    "kalshi_market_watchdog": "kalshi_markets.json",
    "cascading_failure_detector": "failure_detector.json",
    "system_monitor": "system_monitor.json",
}


def logger(name):
    os.makedirs(LOGS, exist_ok=True)
    log = logging.getLogger(name)
    # WatchedFileHandler reopens the file when logrotate has moved it: no restart, no copytruncate
    h = logging.handlers.WatchedFileHandler(os.path.join(LOGS, f"{name}.log"))
    h.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    log.addHandler(h)
    log.setLevel(logging.INFO)
    return log


def write_json(name, doc):
    path = os.path.join(DATA, name)
    tmp = os.path.join(DATA, f".{name}.tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)


def connect():
    os.makedirs(os.path.dirname(TRADES_DB), exist_ok=True)
    conn = sqlite3.connect(TRADES_DB, timeout=30, isolation_level=None)
    return conn


def migrate(conn, log):
    """Apply the release's numbered SQL files the database has not seen, each in one transaction."""
    conn.execute("BEGIN IMMEDIATE")  # the write lock: one migrator at a time
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, name TEXT NOT NULL, sha256 TEXT NOT NULL, applied_at TEXT NOT NULL)")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    files = sorted(f for f in os.listdir(MIGRATIONS) if f.endswith(".sql") and f[:3].isdigit())
    for f in files:
        version, text = f[:3], open(os.path.join(MIGRATIONS, f)).read()
        digest = hashlib.sha256(text.encode()).hexdigest()
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT name, sha256 FROM schema_migrations WHERE version = ?", (version,)).fetchone()
        if row:
            conn.execute("ROLLBACK")
            if row[1] != digest:
                raise SystemExit(f"migration {f} was changed after it was applied as {row[0]} (sha256 {row[1]}, now {digest})")
            continue
        try:
            sql = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--"))
            for stmt in (s.strip() for s in sql.split(";")):
                if stmt:
                    conn.execute(stmt)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?, ?)", (version, f, digest, datetime.datetime.now(datetime.timezone.utc).isoformat()))
            conn.execute("COMMIT")
            log.info("applied migration %s", f)
        except Exception as e:
            conn.execute("ROLLBACK")
            raise SystemExit(f"migration {f} failed: {e}")
    known = {f[:3] for f in files}
    newer = [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version") if v not in known]
    if newer:  # a rollback: code went back, the schema did not
        log.info("database has migrations this release does not know: %s", ", ".join(newer))


def record_trade(conn, n):
    symbol = random.choice(["BTC", "ETH", "KXBTCD"])
    conn.execute(
        "INSERT INTO trades (date, symbol, side, qty, price, status) VALUES (?, ?, ?, ?, ?, ?)",
        (datetime.date.today().isoformat(), symbol, random.choice(["buy", "sell"]), 1 + n % 5, round(random.uniform(0.01, 0.99), 2), "filled"),
    )


def main(program):
    if program not in PROGRAMS:
        raise SystemExit(f"unknown program {program}; known: {', '.join(sorted(PROGRAMS))}")
    log = logger(program)
    signal.signal(signal.SIGTERM, lambda *_: (log.info("stopping"), sys.exit(0)))
    conn = None
    if program == "trade_manager":
        conn = connect()
        migrate(conn, log)
    log.info("started (pid %d, release %s)", os.getpid(), os.path.basename(os.path.realpath(os.path.dirname(HERE))))
    n = 0
    while True:
        doc = {"program": program, "updated": time.time(), "tick": n, "pid": os.getpid()}
        if program == "kalshi_account_sync":
            doc["api_key_configured"] = bool(os.environ.get("KALSHI_API_KEY"))
            doc["balance"] = 1000 + n
        if program == "btc_price_watchdog":
            doc["btc_usd"] = round(60000 + random.uniform(-500, 500), 2)
        if conn is not None and n % 3 == 0:
            record_trade(conn, n)
            doc["trades"] = conn.execute("SELECT count(*) FROM trades").fetchone()[0]
        write_json(PROGRAMS[program], doc)
        log.info("tick %d", n)
        n += 1
        time.sleep(TICK)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
