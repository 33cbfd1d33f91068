-- Migration 006 (seed 004, schema/006_instrument_metadata_table.sql): every option instrument the
-- lifecycle managers have seen listed, active until it expires. The runbook's check:
--   SELECT currency, COUNT(*), COUNT(*) FILTER (WHERE is_active) ... FROM instrument_metadata GROUP BY currency;
CREATE TABLE instrument_metadata (
    instrument_name text PRIMARY KEY,
    currency text NOT NULL CHECK (currency IN ('BTC', 'ETH')),
    expiration_date date NOT NULL,
    strike numeric(18, 2) NOT NULL,
    option_type text NOT NULL CHECK (option_type IN ('call', 'put')),
    is_active boolean NOT NULL DEFAULT true,
    listed_at timestamptz NOT NULL DEFAULT now(),
    expired_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instrument_metadata_currency_active_idx ON instrument_metadata (currency, is_active);
