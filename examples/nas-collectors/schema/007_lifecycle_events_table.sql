-- Migration 007 (seed 004, schema/007_lifecycle_events_table.sql): what the lifecycle managers and
-- collectors did, one row per event: instrument_listed, instrument_expired, subscription_added,
-- subscription_removed, collector_started, collector_stopped. The runbook's check:
--   SELECT event_type, currency, COUNT(*), SUM(CASE WHEN success THEN 1 ELSE 0 END) FROM lifecycle_events ...
CREATE TABLE lifecycle_events (
    id bigserial PRIMARY KEY,
    event_time timestamptz NOT NULL DEFAULT now(),
    event_type text NOT NULL,
    currency text NOT NULL,
    instrument_name text,
    success boolean NOT NULL DEFAULT true,
    details jsonb
);
CREATE INDEX lifecycle_events_time_idx ON lifecycle_events (event_time DESC);
CREATE INDEX lifecycle_events_type_currency_idx ON lifecycle_events (event_type, currency, event_time DESC);
