"""Failed sign-in limits that stop guessing without letting a stranger lock a shopper out.

The OWASP authentication guidance, in three tiers, all kept in the rate limiter's storage (Redis
when several workers serve the shop, so every worker sees the same counts):

* per (account, client address), tight (``SHOP_LOGIN_LIMIT``), with a growing delay between
  failures (``SHOP_LOGIN_DELAY_SECONDS``, doubled after each failure from the third on): the one
  guesser is slowed, then stopped; the owner at another address is not affected.
* per client address across accounts (``SHOP_LOGIN_IP_LIMIT``): one address spraying many
  accounts is stopped.
* per account from every address, loose (``SHOP_LOGIN_ACCOUNT_LIMIT``): a guesser with many
  addresses is stopped too. A browser that has signed in to the account before carries a signed
  "known device" cookie and is exempt, so even then the owner gets in.

An attempt is counted before the password is checked (an atomic increment, so parallel requests
on several workers cannot slip past the limit) and given back when it succeeds. A refused attempt
checks no password and counts nowhere else.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse

from shop.extensions import limiter

DEVICE_COOKIE = "shop_device"
DEVICE_COOKIE_AGE = 365 * 24 * 3600
MAX_DEVICE_ACCOUNTS = 5
#: Failures from one (account, address) that are answered at once; each one after waits longer.
DELAY_FREE_FAILURES = 2


@dataclass(frozen=True)
class Counter:
    key: str
    amount: int
    expiry: int


def _counters(email: str, address: str, known_device: bool) -> list[Counter]:
    config = current_app.config
    tiers = [
        (f"shop/login/pair/{email}/{address}", config["SHOP_LOGIN_LIMIT"]),
        (f"shop/login/address/{address}", config["SHOP_LOGIN_IP_LIMIT"]),
    ]
    if not known_device:
        tiers.append((f"shop/login/account/{email}", config["SHOP_LOGIN_ACCOUNT_LIMIT"]))
    counters = []
    for key, text in tiers:
        item = parse(text)
        counters.append(Counter(key, item.amount, item.get_expiry()))
    return counters


def _wait_key(email: str, address: str) -> str:
    return f"shop/login/wait/{email}/{address}"


def _seconds_left(key: str) -> int:
    return max(1, math.ceil(limiter.storage.get_expiry(key) - time.time()))


def client_address() -> str:
    # With SHOP_PROXY_COUNT set, ProxyFix has already put the client's address here.
    return request.remote_addr or "unknown"


def reserve(email: str, address: str, known_device: bool = False) -> int | None:
    """Count one attempt. None when it may go ahead, else the seconds to wait before the next."""
    if not limiter.enabled:
        return None
    storage = limiter.storage
    wait_key = _wait_key(email, address)
    if storage.get(wait_key) > 0:
        return _seconds_left(wait_key)
    taken: list[Counter] = []
    for counter in _counters(email, address, known_device):
        taken.append(counter)
        if storage.incr(counter.key, counter.expiry) > counter.amount:
            retry_after = _seconds_left(counter.key)
            for done in taken:
                storage.incr(done.key, done.expiry, amount=-1)
            return retry_after
    return None


def failed(email: str, address: str) -> None:
    """The reserved attempt was a wrong password: keep it counted and make the pair wait."""
    base = current_app.config["SHOP_LOGIN_DELAY_SECONDS"]
    if not limiter.enabled:
        return
    storage = limiter.storage
    pair = _counters(email, address, known_device=True)[0]
    failures = storage.get(pair.key)
    if base > 0 and failures > DELAY_FREE_FAILURES:
        delay = min(base * 2 ** (failures - DELAY_FREE_FAILURES - 1), pair.expiry)
        wait_key = _wait_key(email, address)
        storage.clear(wait_key)
        storage.incr(wait_key, delay)


def succeeded(email: str, address: str, known_device: bool = False) -> None:
    """The right password: this pair starts afresh and the attempt is given back elsewhere."""
    if not limiter.enabled:
        return
    storage = limiter.storage
    pair, *others = _counters(email, address, known_device)
    storage.clear(pair.key)
    storage.clear(_wait_key(email, address))
    for counter in others:
        storage.incr(counter.key, counter.expiry, amount=-1)


# --- the known-device cookie ----------------------------------------------------------------


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="shop-known-device")


def known_accounts() -> list[int]:
    """The accounts that have signed in from this browser before (from its signed cookie)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        value = _device_serializer().loads(raw)
    except BadSignature:
        return []
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, int)][:MAX_DEVICE_ACCOUNTS]


def remember_device(response, user_id: int):
    """Mark this browser as one the account has signed in from (set on a successful sign-in)."""
    accounts = [user_id] + [a for a in known_accounts() if a != user_id]
    response.set_cookie(
        DEVICE_COOKIE,
        _device_serializer().dumps(accounts[:MAX_DEVICE_ACCOUNTS]),
        max_age=DEVICE_COOKIE_AGE,
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        samesite="Lax",
    )
    return response
