-- The table the cron-era collector wrote to (created here for a fresh database; IF NOT EXISTS keeps
-- an existing production table and its rows untouched).
CREATE TABLE IF NOT EXISTS darkpool_trades (
    id     bigserial PRIMARY KEY,
    ts     timestamptz NOT NULL DEFAULT now(),
    symbol text NOT NULL,
    price  numeric(12, 2) NOT NULL,
    size   integer NOT NULL CHECK (size > 0)
);
CREATE INDEX IF NOT EXISTS darkpool_trades_ts ON darkpool_trades (ts);
