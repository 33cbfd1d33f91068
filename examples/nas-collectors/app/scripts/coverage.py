# Coverage tracking (the seed's "coverage maintained at 95%+"): arrives with migration 008, which
# adds instrument_metadata.last_quote_at. This release does not track it yet.


def update(db, currency):
    """Record the newest quote of each active instrument; returns how many rows changed (None: not tracked)."""
    return None
