"""What this release stores: the part of the collector that changes between releases."""
VERSION = "1"
# column of darkpool_trades -> field of a trade from the feed
COLUMNS = {"symbol": "symbol", "price": "price", "size": "size"}
