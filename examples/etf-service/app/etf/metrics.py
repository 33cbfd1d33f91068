# /metrics in the Prometheus text format (0.0.4), written by hand: the numbers come from goldfinch
# (what the workers did) and redis (what they are doing), so a scrape shows the whole service.
from . import cache, db
from .release import VERSION

BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


def render(requests):
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE status <> 'ok'), coalesce(sum(duration_seconds), 0), "
            "coalesce(extract(epoch FROM max(at)), 0), "
            + ", ".join(f"count(*) FILTER (WHERE duration_seconds <= {b})" for b in BUCKETS)
            + " FROM etf_updates"
        )
        total, errors, duration_sum, last, *buckets = cur.fetchone()
        cur.execute("SELECT count(*) FROM etf")
        (funds,) = cur.fetchone()
    active = int(cache.client().get(cache.ACTIVE_UPDATES) or 0)
    out = [
        "# HELP etf_build_info The release serving this endpoint.",
        "# TYPE etf_build_info gauge",
        f'etf_build_info{{version="{VERSION}"}} 1',
        "# HELP etf_updates_total Total number of ETF updates.",
        "# TYPE etf_updates_total counter",
        f"etf_updates_total {total}",
        "# HELP etf_errors_total ETF updates that failed.",
        "# TYPE etf_errors_total counter",
        f"etf_errors_total {errors}",
        "# HELP etf_update_duration_seconds Time spent updating ETF data.",
        "# TYPE etf_update_duration_seconds histogram",
        *[f'etf_update_duration_seconds_bucket{{le="{b}"}} {n}' for b, n in zip(BUCKETS, buckets)],
        f'etf_update_duration_seconds_bucket{{le="+Inf"}} {total}',
        f"etf_update_duration_seconds_sum {float(duration_sum)}",
        f"etf_update_duration_seconds_count {total}",
        "# HELP etf_active_updates Number of ongoing ETF updates.",
        "# TYPE etf_active_updates gauge",
        f"etf_active_updates {active}",
        "# HELP etf_last_update_timestamp Unix time of the latest ETF update.",
        "# TYPE etf_last_update_timestamp gauge",
        f"etf_last_update_timestamp {float(last)}",
        "# HELP etf_funds Funds in goldfinch.",
        "# TYPE etf_funds gauge",
        f"etf_funds {funds}",
        "# HELP etf_api_requests_total HTTP requests served, by path.",
        "# TYPE etf_api_requests_total counter",
        *[f'etf_api_requests_total{{path="{p}"}} {n}' for p, n in sorted(requests.items())],
    ]
    return "\n".join(out) + "\n"
