"""Redis stopped in the middle of a test, with real processes: gunicorn's workers keep serving.

The in-process version is tests/test_degraded.py; this one runs what production runs: gunicorn
with 2 workers, rate limits, the cache and the job queue in a real Redis on loopback (both
RATELIMIT_STORAGE_URI and REDIS_URL), the test's own SQLite file. While Redis is down every page
answers 200 (or a clear 503), never a 500; sign-in works and is still limited, per worker process;
/healthz/ready answers 503 naming Redis. Redis started again on the same port: after the retry
interval the sign-in limit is shared by the workers again (exactly five failures, then 429).
"""

from __future__ import annotations

import os
import re
import time
from contextlib import ExitStack

import pytest
import redis

from bench.loadgen import LoopbackBrowser
from bench.servers import free_port, gunicorn, redis_binary, redis_server, shop_env
from shop import limits_storage
from tests import factories

pytestmark = [pytest.mark.load, pytest.mark.slow]

WORKERS = 2
LIMIT = 5  # failed sign-ins per (account, address) before 429
PASSWORD = "degraded-password"


@pytest.fixture
def redis_port():
    if redis_binary() is None:
        if os.environ.get("SHOP_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is required (SHOP_REQUIRE_REDIS=1) but not installed")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return free_port()


def wrong_sign_ins(base: str, email: str, attempts: int) -> list[int]:
    """Failed sign-ins for ``email``, each from a fresh browser; stops at the first 429."""
    statuses = []
    for _ in range(attempts):
        status, _ = LoopbackBrowser(base).login(email, "not-the-password")
        statuses.append(status)
        if status == 429:
            break
    return statuses


def test_redis_stopped_mid_test_pages_serve_sign_in_limited_per_process_ready_names_redis(
    app, tmp_path, redis_port
):
    product = factories.make_product("Enamel Tea Kettle")
    for who in ("shopper", "before", "during", "after"):
        factories.make_user(email=f"{who}@example.com", password=PASSWORD)
    product_id = product.id
    url = f"redis://127.0.0.1:{redis_port}/0"
    env = shop_env(
        tmp_path,
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        RATELIMIT_STORAGE_URI=url,
        REDIS_URL=url,
        SHOP_LOGIN_LIMIT=f"{LIMIT} per hour",
        # Only the (account, address) tier is under test: every browser here is 127.0.0.1.
        SHOP_LOGIN_IP_LIMIT="1000 per hour",
        SHOP_LOGIN_ACCOUNT_LIMIT="1000 per hour",
        SHOP_LOGIN_DELAY_SECONDS="0",
    )
    log = tmp_path / "gunicorn.log"
    first_redis = ExitStack()
    first_redis.enter_context(redis_server(tmp_path / "redis-1", port=redis_port))
    try:
        with gunicorn(env, workers=WORKERS, log=log) as base:
            shopper = LoopbackBrowser(base)
            assert shopper.login("shopper@example.com", PASSWORD)[0] == 302
            assert shopper.request("GET", "/healthz/ready")[0] == 200
            # Shared counts: the sixth failure is refused, whichever worker answers it.
            assert wrong_sign_ins(base, "before@example.com", LIMIT + 1) == [401] * LIMIT + [429]

            first_redis.close()  # Redis stops (by the pid this test started it with)

            token = shopper.csrf("/cart")
            pages = {
                path: shopper.request("GET", path)[0]
                for path in ("/", f"/products/{product_id}", "/search?q=kettle", "/cart", "/")
            }
            assert all(status == 200 for status in pages.values()), pages
            add = {"csrf_token": token, "product_id": str(product_id), "quantity": "1"}
            status, headers, _ = shopper.request("POST", "/cart/add", add)
            assert status == 302 and "/products/" in headers["Location"], status
            _, _, cart = shopper.request("GET", "/cart")
            assert "Enamel Tea Kettle" in cart
            assert LoopbackBrowser(base).login("shopper@example.com", PASSWORD)[0] == 302
            # Each worker counts in its own memory: refused after five to WORKERS x five failures.
            statuses = wrong_sign_ins(base, "during@example.com", WORKERS * LIMIT + 1)
            assert statuses[-1] == 429 and set(statuses[:-1]) == {401}, statuses
            assert LIMIT <= len(statuses) - 1 <= WORKERS * LIMIT, statuses
            status, _, body = shopper.request("GET", "/healthz/ready")
            assert status == 503 and re.search(r'"down":\s*\[[^\]]*redis', body), body
            assert shopper.request("GET", "/healthz/live")[0] == 200

            with redis_server(tmp_path / "redis-2", port=redis_port):
                time.sleep(limits_storage.RETRY_SECONDS + 0.5)
                status, _, body = shopper.request("GET", "/healthz/ready")
                assert status == 200, body
                after = wrong_sign_ins(base, "after@example.com", LIMIT + 1)
                assert after == [401] * LIMIT + [429]  # shared again: no allowance per worker
                keys = [key.decode() for key in redis.Redis.from_url(url).keys("*")]
                assert any("after@example.com" in key for key in keys), keys
                assert shopper.request("GET", f"/products/{product_id}")[0] == 200
    finally:
        first_redis.close()

    server_log = log.read_text()
    assert " 500 " not in server_log and "Traceback" not in server_log, server_log[-4000:]
