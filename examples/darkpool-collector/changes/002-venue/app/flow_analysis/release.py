"""What this release stores: the part of the collector that changes between releases."""
VERSION = "2"
# release 2 also stores where each trade printed (migration 002 adds the column)
COLUMNS = {"symbol": "symbol", "price": "price", "size": "size", "venue": "venue"}
