"""REC.IO web UI (seed 001's main_app on :3000): the dashboard page, rendered from
templates/index.html, with the release, the trade count of trades.db and the age of every JSON feed;
/api/status is the same as JSON."""
import html
import http.server
import json
import os
import signal
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
TEMPLATE = os.path.join(HERE, "templates", "index.html")
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
RELEASE = os.path.basename(os.path.realpath(os.path.dirname(HERE)))
VERSION = open(os.path.join(os.path.dirname(HERE), "VERSION")).read().strip()


def status():
    feeds = {}
    for f in sorted(os.listdir(DATA)):
        if f.endswith(".json"):
            feeds[f] = round(time.time() - os.stat(os.path.join(DATA, f)).st_mtime, 1)
    trades = None
    try:
        conn = sqlite3.connect(f"file:{os.path.join(DATA, 'trade_history', 'trades.db')}?mode=ro", uri=True, timeout=5)
        trades = conn.execute("SELECT count(*) FROM trades").fetchone()[0]
        conn.close()
    except sqlite3.Error:
        pass
    return {"ok": True, "version": VERSION, "release": RELEASE, "trades": trades, "feeds": feeds}


class Handler(http.server.BaseHTTPRequestHandler):
    def send(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        try:
            s = status()
            if self.path == "/api/status":
                return self.send(200, "application/json", json.dumps(s).encode())
            if self.path != "/":
                return self.send(404, "text/plain", b"not found\n")
            rows = "".join(f"<tr><td>{html.escape(f)}</td><td>{age}s</td></tr>" for f, age in s["feeds"].items())
            page = open(TEMPLATE).read().format(version=html.escape(VERSION), release=html.escape(RELEASE), trades=s["trades"], feeds=rows)
            self.send(200, "text/html; charset=utf-8", page.encode())
        except Exception as e:  # an error page, not a dropped connection
            self.send(500, "text/plain", f"internal error: {type(e).__name__}: {e}\n".encode())

    def log_message(self, fmt, *args):
        pass


signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
server = http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
server.daemon_threads = True
try:
    server.serve_forever()
except KeyboardInterrupt:  # stopsignal=INT, as the seed's main_app
    pass
