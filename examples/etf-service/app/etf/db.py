import contextlib
import os

import psycopg2


@contextlib.contextmanager
def connect():
    """One short transaction on a fresh connection: nothing stays idle in a transaction (a restore
    with pg_restore --clean must be able to take its locks while the service runs)."""
    conn = psycopg2.connect(os.environ["DATABASE_URL"], application_name="etf_service", connect_timeout=5)
    try:
        with conn:
            yield conn
    finally:
        conn.close()
