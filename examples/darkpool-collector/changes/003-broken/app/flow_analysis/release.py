"""What this release stores: the part of the collector that changes between releases."""
VERSION = "3"
# a refactoring renamed the column: every insert fails, the collector logs the error and carries
# on (systemd sees a healthy process); only the data-freshness check can tell
COLUMNS = {"symbol": "symbol", "price": "price", "trade_size": "size", "venue": "venue"}
