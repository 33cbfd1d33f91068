"""Dark Pool Trade Collector (seed 000).

Polls a dark pool feed (simulated here: the lab has no market data) and stores every trade in the
managed PostgreSQL (TLS, port 25060). It used to run from cron every few minutes; now it is a
long-running systemd service (Restart=always) deployed by slipway. Settings come from the unit's
EnvironmentFile (DB_* and the secret DB_PASSWORD); logs go to /var/log/darkpool_collector/.
"""
import logging
import os
import random
import signal
import time

import psycopg2

from flow_analysis.release import COLUMNS, VERSION

SYMBOLS = ["AAPL", "MSFT", "NVDA", "SPY", "TSLA", "AMZN"]
VENUES = ["UBS ATS", "SIGMA X2", "CROSSFINDER", "MS POOL"]
INSERT = "INSERT INTO darkpool_trades ({}) VALUES ({})".format(", ".join(COLUMNS), ", ".join(f"%({field})s" for field in COLUMNS.values()))
log = logging.getLogger("darkpool_collector")


def connect():
    return psycopg2.connect(
        host=os.environ["DB_HOST"],
        port=int(os.environ["DB_PORT"]),
        dbname=os.environ["DB_NAME"],
        user=os.environ["DB_USER"],
        password=os.environ["DB_PASSWORD"],
        sslmode=os.environ.get("DB_SSLMODE", "require"),
        connect_timeout=5,
        application_name=f"darkpool_collector/{VERSION}",
    )


def next_trade():
    return {"symbol": random.choice(SYMBOLS), "price": round(random.uniform(10, 900), 2), "size": random.randint(100, 50_000), "venue": random.choice(VENUES)}


def store(conn, trade):
    with conn, conn.cursor() as cur:
        cur.execute(INSERT, trade)


def main():
    logging.basicConfig(
        filename=os.environ.get("LOG_FILE", "/var/log/darkpool_collector/darkpool_collector.log"),
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(message)s",
    )
    running = True

    def stop(*_):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    interval = float(os.environ.get("POLL_SECONDS", "0.5"))
    conn = None
    stored = 0
    log.info("collector %s starting", VERSION)
    while running:
        try:
            if conn is None:
                conn = connect()
                log.info("connected to %s:%s (ssl %s)", os.environ["DB_HOST"], os.environ["DB_PORT"], conn.info.ssl_in_use)
            store(conn, next_trade())
            stored += 1
            if stored % 20 == 0:
                log.info("%d trades stored", stored)
        except psycopg2.Error as e:
            # a lost connection must not kill the collector: log it and reconnect
            log.error("database error: %s", str(e).strip())
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(1)
        time.sleep(interval)
    log.info("collector %s stopped after %d trades", VERSION, stored)


if __name__ == "__main__":
    main()
