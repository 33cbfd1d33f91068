import os

import redis

from .release import VERSION

_client = None


def client():
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["CACHE_URL"], socket_timeout=3, decode_responses=True)
    return _client


def etf_key(symbol):
    return f"etf:{VERSION}:{symbol}"


ACTIVE_UPDATES = "etf:active_updates"
