"""goldfinch ETF service (seed 003): an HTTP API, celery workers and beat, PostgreSQL via alembic."""
