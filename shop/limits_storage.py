"""The rate-limit store that degrades instead of failing: Redis, else this process's memory.

Every limit (sign-in tiers, sign-ups, reset mails) and the once-per-visitor view marker count in
the limiter's storage, so that several workers and hosts share one count. With plain Redis storage
a Redis outage turned each of those calls into an exception: every product page and every sign-in
answered 500. This storage keeps Redis as the store of record and, while Redis does not answer,
counts in the process's own memory: limits still hold (per process, so up to one allowance per
worker), pages still serve, and a warning is logged once per outage. Redis is tried again after
``RETRY_SECONDS``; from then on counts are shared again (what was counted in memory meanwhile is not
copied back: an outage forgives nothing a single process counted, and adds nothing).

It is chosen with the usual URL: :func:`storage_uri` turns ``redis://...`` into this storage's
scheme, ``fallback+redis://...``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage

log = logging.getLogger(__name__)

SCHEME_PREFIX = "fallback+"
#: After a failure, how long calls go straight to memory before Redis is tried again.
RETRY_SECONDS = 5.0
#: Redis must answer within this (a dead host must not hold a request for the OS's TCP timeout).
SOCKET_TIMEOUT_SECONDS = 0.5


def storage_uri(uri: str) -> str:
    """The limiter's storage URL: Redis URLs get the fallback; anything else is kept as it is."""
    if uri.startswith(("redis://", "rediss://", "redis+unix://")):
        return SCHEME_PREFIX + uri
    return uri


class FallbackRedisStorage(RedisStorage):
    STORAGE_SCHEME = ["fallback+redis", "fallback+rediss", "fallback+redis+unix"]

    def __init__(self, uri: str, **options: Any) -> None:
        options.setdefault("socket_connect_timeout", SOCKET_TIMEOUT_SECONDS)
        options.setdefault("socket_timeout", SOCKET_TIMEOUT_SECONDS)
        super().__init__(uri.removeprefix(SCHEME_PREFIX), wrap_exceptions=True, **options)
        self.memory = MemoryStorage()
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()

    @property
    def degraded(self) -> bool:
        """True while counts are kept in this process's memory."""
        return self._down_since is not None

    def _use_redis(self) -> bool:
        return self._down_since is None or time.monotonic() >= self._retry_at

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            now = time.monotonic()
            if self._down_since is None:
                self._down_since = now
                log.warning(
                    "The rate-limit store (Redis) does not answer (%s); counting in this "
                    "process's memory until it does",
                    exc,
                )
            self._retry_at = now + RETRY_SECONDS

    def _recovered(self) -> None:
        if self._down_since is not None:
            with self._lock:
                if self._down_since is not None:
                    log.warning("The rate-limit store (Redis) answers again; counts are shared")
                    self._down_since = None

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self._use_redis():
            try:
                result = getattr(super(), name)(*args, **kwargs)
            except StorageError as exc:
                self._failed(exc)
            else:
                self._recovered()
                return result
        return getattr(self.memory, name)(*args, **kwargs)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._call("incr", key, expiry, amount=amount)

    def get(self, key: str) -> int:
        return self._call("get", key)

    def get_expiry(self, key: str) -> float:
        return self._call("get_expiry", key)

    def clear(self, key: str) -> None:
        return self._call("clear", key)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return self._call("acquire_entry", key, limit, expiry, amount=amount)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return self._call("get_moving_window", key, limit, expiry)

    def check(self) -> bool:
        """Whether Redis itself answers (what a readiness check wants to know)."""
        try:
            return bool(super().check())
        except StorageError:
            return False
