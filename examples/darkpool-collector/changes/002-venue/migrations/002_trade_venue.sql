-- Release 2 records where each trade printed. Nullable: the rows of release 1 have no venue, and
-- release 1 keeps working against this schema (a rollback to it needs no down-migration).
ALTER TABLE darkpool_trades ADD COLUMN IF NOT EXISTS venue text;
CREATE INDEX IF NOT EXISTS darkpool_trades_venue_ts ON darkpool_trades (venue, ts);
