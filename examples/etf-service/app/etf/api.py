# The HTTP API (stdlib http.server), on PORT:
#   GET  /api/v1/etf/health            database and redis reachable; the release's version
#   GET  /api/v1/etf/<symbol>          the fund (cached in redis per release)
#   POST /api/v1/etf/<symbol>/refresh  enqueue update_etf with the JSON body's fields -> 202 {task_id}
#   GET  /api/v1/tasks/<id>            the task's state and result (celery's redis result backend)
#   GET  /api/v1/celery/ping           the workers answering a ping (celery inspect ping)
#   GET  /metrics                      Prometheus text format
import collections
import decimal
import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import cache, db, metrics
from .celery_app import app
from .release import ETF_COLUMNS, VERSION
from .tasks import update_etf

requests = collections.Counter()
lock = threading.Lock()


def plain(v):
    return str(v) if isinstance(v, decimal.Decimal) else v.isoformat() if hasattr(v, "isoformat") else v


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, status, body, ctype="application/json"):
        data = (json.dumps(body) if ctype == "application/json" else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, method):
        path = self.path.split("?")[0]
        with lock:
            requests[re.sub(r"/api/v1/(etf|tasks)/[^/]+", r"/api/v1/\1/:id", path)] += 1
        try:
            if method == "GET" and path == "/metrics":
                return self.send(200, metrics.render(dict(requests)), "text/plain; version=0.0.4; charset=utf-8")
            if method == "GET" and path == "/api/v1/etf/health":
                with db.connect() as conn, conn.cursor() as cur:
                    cur.execute("SELECT 1")
                cache.client().ping()
                return self.send(200, {"status": "ok", "version": VERSION})
            if method == "GET" and path == "/api/v1/celery/ping":
                replies = app.control.ping(timeout=1.5)
                return self.send(200 if replies else 503, {"ok": bool(replies), "workers": sorted(k for r in replies for k in r)})
            m = re.fullmatch(r"/api/v1/tasks/([\w-]+)", path)
            if method == "GET" and m:
                r = app.AsyncResult(m.group(1))
                return self.send(200, {"state": r.state, "result": r.result if r.successful() else None})
            m = re.fullmatch(r"/api/v1/etf/([A-Z0-9.]{1,12})(/refresh)?", path)
            if m and method == "POST" and m.group(2):
                length = int(self.headers.get("Content-Length") or 0)
                fields = json.loads(self.rfile.read(length) or b"{}") if length else {}
                unknown = sorted(set(fields) - set(ETF_COLUMNS))
                if unknown:
                    return self.send(400, {"error": f"unknown fields {unknown}; this release knows {list(ETF_COLUMNS)}"})
                task = update_etf.delay(m.group(1), fields)
                return self.send(202, {"task_id": task.id})
            if m and method == "GET" and not m.group(2):
                symbol = m.group(1)
                hit = cache.client().get(cache.etf_key(symbol))
                if hit:
                    return self.send(200, {**json.loads(hit), "cached": True})
                with db.connect() as conn, conn.cursor() as cur:
                    cur.execute(f"SELECT symbol, {', '.join(ETF_COLUMNS)}, updated_at FROM etf WHERE symbol = %s", (symbol,))
                    row = cur.fetchone()
                    names = [d[0] for d in cur.description]
                if not row:
                    return self.send(404, {"error": f"no fund {symbol}"})
                fund = {k: plain(v) for k, v in zip(names, row)}
                cache.client().set(cache.etf_key(symbol), json.dumps(fund), ex=30)
                return self.send(200, {**fund, "cached": False})
            return self.send(404, {"error": "not found"})
        except Exception as e:  # the error is the answer (and the log line): a health check sees both
            print(f"{method} {path}: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            return self.send(500, f"{type(e).__name__}: {e}\n", "text/plain")

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer((os.environ.get("BIND", "0.0.0.0"), int(os.environ.get("PORT", "8000"))), Handler)
    print(f"etf api {VERSION} on :{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
