-- The collectors' quote tables: the schema the NAS already had before the lifecycle work
-- (the seed's migrations 001-005, folded into one here). TimescaleDB would make them hypertables;
-- the lab's stand-in is plain PostgreSQL 15, so they are ordinary tables indexed by time.
CREATE TABLE btc_option_quotes (
    id bigserial PRIMARY KEY,
    timestamp timestamptz NOT NULL DEFAULT now(),
    instrument_name text NOT NULL,
    bid_price numeric(18, 8),
    ask_price numeric(18, 8),
    mark_price numeric(18, 8),
    underlying_price numeric(18, 2),
    collector text NOT NULL
);
CREATE INDEX btc_option_quotes_timestamp_idx ON btc_option_quotes (timestamp DESC);
CREATE INDEX btc_option_quotes_instrument_idx ON btc_option_quotes (instrument_name, timestamp DESC);

CREATE TABLE eth_option_quotes (
    id bigserial PRIMARY KEY,
    timestamp timestamptz NOT NULL DEFAULT now(),
    instrument_name text NOT NULL,
    bid_price numeric(18, 8),
    ask_price numeric(18, 8),
    mark_price numeric(18, 8),
    underlying_price numeric(18, 2),
    collector text NOT NULL
);
CREATE INDEX eth_option_quotes_timestamp_idx ON eth_option_quotes (timestamp DESC);
CREATE INDEX eth_option_quotes_instrument_idx ON eth_option_quotes (instrument_name, timestamp DESC);
