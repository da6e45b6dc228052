"""The cache that degrades instead of failing: Redis, or no cache at all while Redis does not answer.

With ``REDIS_URL`` set the popular lists and the dashboard's figures are cached in Redis
(Flask-Caching). Flask-Caching's memoize already survives a failed read, but it logs a traceback on
every request and each call waits for Redis with no timeout of its own, so a Redis host that stops
answering (rather than refusing) would hold every page for the operating system's TCP timeout. This
backend gives each call half a second, treats a Redis error as a miss (a read) or a no-op (a write),
logs one warning per outage, and then leaves Redis alone for ``RETRY_SECONDS`` before trying again,
the way :mod:`shop.limits_storage` treats the rate-limit counts. Pages are computed afresh meanwhile.
What was cleared during the outage (``delete_memoized`` after a purchase) was not cleared in Redis:
a Redis restarted with its data could serve such an entry until it expires (``SHOP_CACHE_SECONDS``).

Chosen by ``CACHE_TYPE = "shop.cache_backend.FallbackRedisCache"`` (config.py, with ``REDIS_URL``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask
from flask_caching.backends.rediscache import RedisCache
from redis import RedisError

log = logging.getLogger(__name__)

#: After a failure, how long the cache is bypassed before Redis is tried again.
RETRY_SECONDS = 5.0
#: Redis must answer within this, or the page is computed without the cache.
SOCKET_TIMEOUT_SECONDS = 0.5


class FallbackRedisCache(RedisCache):
    @classmethod
    def factory(
        cls, app: Flask, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]
    ) -> FallbackRedisCache:
        options = dict(config.get("CACHE_OPTIONS") or {})
        options.setdefault("socket_connect_timeout", SOCKET_TIMEOUT_SECONDS)
        options.setdefault("socket_timeout", SOCKET_TIMEOUT_SECONDS)
        return super().factory(app, {**config, "CACHE_OPTIONS": options}, args, kwargs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()

    @property
    def degraded(self) -> bool:
        """True while the cache is bypassed because Redis does not answer."""
        return self._down_since is not None

    def _call(self, name: str, fallback: Any, *args: Any, **kwargs: Any) -> Any:
        if self._down_since is not None and time.monotonic() < self._retry_at:
            return fallback
        try:
            result = getattr(super(), name)(*args, **kwargs)
        except RedisError as exc:
            with self._lock:
                now = time.monotonic()
                if self._down_since is None:
                    self._down_since = now
                    log.warning(
                        "The cache (Redis) does not answer (%s); pages are computed without it "
                        "until it does",
                        exc,
                    )
                self._retry_at = now + RETRY_SECONDS
            return fallback
        if self._down_since is not None:
            with self._lock:
                if self._down_since is not None:
                    log.warning("The cache (Redis) answers again")
                    self._down_since = None
        return result

    def get(self, key: str) -> Any:
        return self._call("get", None, key)

    def get_many(self, *keys: str) -> list[Any]:
        return self._call("get_many", [None] * len(keys), *keys)

    def set(self, key: str, value: Any, timeout: int | None = None) -> Any:
        return self._call("set", False, key, value, timeout)

    def add(self, key: str, value: Any, timeout: int | None = None) -> Any:
        return self._call("add", False, key, value, timeout)

    def set_many(self, mapping: dict[str, Any], timeout: int | None = None) -> list[Any]:
        return self._call("set_many", [], mapping, timeout)

    def delete(self, key: str) -> bool:
        return self._call("delete", False, key)

    def delete_many(self, *keys: str) -> list[Any]:
        return self._call("delete_many", [], *keys)

    def has(self, key: str) -> bool:
        return self._call("has", False, key)

    def clear(self) -> bool:
        return self._call("clear", False)

    def inc(self, key: str, delta: int = 1) -> Any:
        return self._call("inc", None, key, delta)

    def dec(self, key: str, delta: int = 1) -> Any:
        return self._call("dec", None, key, delta)
