"""What the collectors and the lifecycle managers share: the database (psycopg2, settings from the
libpq environment PGHOST/PGUSER/PGPASSWORD/PGDATABASE that compose passes in), lifecycle events,
and a small JSON HTTP control API (http.server)."""
import json
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import psycopg2.extras


def log(msg):
    print(f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M:%S')} {msg}", flush=True)


def now_iso():
    return datetime.now(timezone.utc).isoformat()


class Db:
    """One autocommit connection, shared by the threads of a process, reconnected when it drops."""

    def __init__(self, app_name):
        self.app_name = app_name
        self.conn = None
        self.lock = threading.Lock()

    def _connect(self):
        conn = psycopg2.connect("", application_name=self.app_name, connect_timeout=5)
        conn.autocommit = True
        return conn

    def wait_ready(self, what="database"):
        """Wait until the database answers (the seed's "Connection refused -> database not ready yet")."""
        while True:
            try:
                self.query("SELECT 1")
                return
            except psycopg2.Error as e:
                log(f"{what} not ready yet: {str(e).strip()}")
                time.sleep(2)

    def run(self, fn):
        """fn(cursor) under the lock; a lost connection is reopened and fn tried once more."""
        with self.lock:
            for attempt in (1, 2):
                try:
                    if self.conn is None or self.conn.closed:
                        self.conn = self._connect()
                    with self.conn.cursor() as cur:
                        return fn(cur)
                except (psycopg2.OperationalError, psycopg2.InterfaceError):
                    try:
                        if self.conn is not None:
                            self.conn.close()
                    except psycopg2.Error:
                        pass
                    self.conn = None
                    if attempt == 2:
                        raise

    def query(self, sql, args=None):
        def q(cur):
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else cur.rowcount

        return self.run(q)

    def values(self, sql, rows, template=None):
        return self.run(lambda cur: psycopg2.extras.execute_values(cur, sql, rows, template=template))

    def event(self, event_type, currency, instrument=None, success=True, details=None):
        self.query(
            "INSERT INTO lifecycle_events (event_type, currency, instrument_name, success, details) VALUES (%s, %s, %s, %s, %s)",
            (event_type, currency, instrument, success, json.dumps(details) if details is not None else None),
        )


def serve(port, routes, name):
    """A JSON control API: routes maps ("GET", "/health") to fn(body) -> (status, dict)."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self, method):
            fn = routes.get((method, self.path.split("?")[0]))
            if fn is None:
                return self._send(404, {"error": f"no route {method} {self.path}"})
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                status, payload = fn(body)
            except Exception as e:  # the API keeps serving whatever a request did
                status, payload = 500, {"error": str(e)}
            self._send(status, payload)

        def _send(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"{name}-api", daemon=True).start()
    log(f"{name}: control API on :{port}")
    return server


def fatal(msg):
    log(msg)
    sys.exit(1)
