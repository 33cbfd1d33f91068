# What this commit of the code is: its version (shown by /api/v1/etf/health and /metrics, and part
# of every cache key, so a deploy never serves the previous release's cached answers) and the etf
# columns it reads and writes (a column arrives with an alembic revision first, then the code uses it).
VERSION = "1.0.0"
ETF_COLUMNS = ("name", "nav")
