import time

from psycopg2 import sql

from . import cache, db
from .celery_app import app
from .release import ETF_COLUMNS, VERSION


def _record(symbol, fields, source):
    """Upsert the fund's columns this release knows, and log the update in etf_updates."""
    t0 = time.monotonic()
    r = cache.client()
    r.incr(cache.ACTIVE_UPDATES)
    try:
        with db.connect() as conn, conn.cursor() as cur:
            cols = [c for c in ETF_COLUMNS if c in fields]
            if cols:
                cur.execute(
                    sql.SQL("INSERT INTO etf (symbol, {cols}) VALUES (%s, {vals}) ON CONFLICT (symbol) DO UPDATE SET {sets}, updated_at = now()").format(
                        cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
                        vals=sql.SQL(", ").join(sql.Placeholder() * len(cols)),
                        sets=sql.SQL(", ").join(sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c)) for c in cols),
                    ),
                    [symbol, *[fields[c] for c in cols]],
                )
            cur.execute(
                "INSERT INTO etf_updates (symbol, nav, source, release, duration_seconds) VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (symbol, fields.get("nav"), source, VERSION, time.monotonic() - t0),
            )
            update_id = cur.fetchone()[0]
        r.delete(cache.etf_key(symbol))
        return update_id
    finally:
        r.decr(cache.ACTIVE_UPDATES)


@app.task(name="etf.tasks.update_etf")
def update_etf(symbol, fields):
    """Enqueued by the API (POST /api/v1/etf/<symbol>/refresh)."""
    return _record(symbol, fields, "api")


@app.task(name="etf.tasks.refresh_all")
def refresh_all():
    """Scheduled by beat: one row per run, so "tasks running as scheduled" is a query."""
    return _record("*", {}, "beat")
