"""When a part is down the shop degrades instead of failing: Redis stopped in the middle of a test.

The rate-limit counts (sign-in tiers, the once-per-visitor view marker) live in Redis; while it does
not answer they are kept in the process's memory (shop.limits_storage), so pages still serve and
sign-in is still limited, and /healthz/ready names what is down. Redis started again on the same
port: the counts are shared again.
"""

from __future__ import annotations

import gc
import os
import time
import warnings

import pytest
import redis

from bench.servers import free_port, redis_binary, redis_server
from shop import create_app, limits_storage
from shop.extensions import db, limiter
from tests import factories
from tests.conftest import csrf_token


@pytest.fixture
def redis_port(tmp_path):
    if redis_binary() is None:
        if os.environ.get("SHOP_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is required (SHOP_REQUIRE_REDIS=1) but not installed")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    return free_port()


@pytest.fixture
def shop_on_redis(app, redis_port, monkeypatch):
    monkeypatch.setattr(limits_storage, "RETRY_SECONDS", 0.2)
    url = f"redis://127.0.0.1:{redis_port}/0"
    worker = create_app({**app.config, "RATELIMIT_STORAGE_URI": url, "SHOP_LOGIN_LIMIT": "5/hour"})
    with worker.app_context():
        shopper = factories.make_user(email="shopper@example.com", password="correct-horse")
        product = factories.make_product("Enamel Tea Kettle")
        ids = shopper.id, product.id
    yield worker, url, ids
    with worker.app_context():
        db.engine.dispose()
    release_second_app()


def release_second_app() -> None:
    """Collect what a second app built in this process left behind, here and quietly.

    On PostgreSQL a second app's request can leave a psycopg connection that only the garbage
    collector closes; its ResourceWarning, an error under the suite's settings, would otherwise
    surface in whichever later test happens to trigger a collection.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def _sign_in(app, password: str, address: str = "198.51.100.7"):
    browser = app.test_client()
    token = csrf_token(browser, "/auth/login")
    return browser.post(
        "/auth/login",
        data={"csrf_token": token, "email": "shopper@example.com", "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_redis_down_pages_serve_sign_in_is_limited_per_process_and_ready_says_so(
    shop_on_redis, redis_port, tmp_path
):
    app, url, (_, product_id) = shop_on_redis
    client = app.test_client()
    with redis_server(tmp_path / "redis-1", port=redis_port):
        assert client.get(f"/products/{product_id}").status_code == 200
        assert _sign_in(app, "wrong-password").status_code == 401
        assert client.get("/healthz/ready").status_code == 200
        keys = [key.decode() for key in redis.Redis.from_url(url).keys("*")]
        assert any("shop/login/pair/shopper@example.com" in key for key in keys)
        assert any("shop/seen/view" in key for key in keys)

    # Redis is stopped now.
    assert client.get(f"/products/{product_id}").status_code == 200
    assert client.get("/").status_code == 200
    assert _sign_in(app, "correct-horse").status_code == 302
    statuses = [_sign_in(app, "wrong-password", "198.51.100.8").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]  # the limit still holds, in this process's memory
    ready = client.get("/healthz/ready")
    assert ready.status_code == 503
    assert any("redis" in problem for problem in ready.get_json()["down"])
    assert client.get("/healthz/live").status_code == 200
    assert limiter.storage.degraded

    with redis_server(tmp_path / "redis-2", port=redis_port):
        time.sleep(limits_storage.RETRY_SECONDS + 0.1)
        assert _sign_in(app, "wrong-password", "198.51.100.9").status_code == 401
        keys = [key.decode() for key in redis.Redis.from_url(url).keys("*")]
        assert any("198.51.100.9" in key for key in keys)  # counts are shared again
        assert not limiter.storage.degraded
        assert client.get("/healthz/ready").status_code == 200


def test_ready_reports_a_missing_model_as_degraded_not_down(client):
    answer = client.get("/healthz/ready")
    assert answer.status_code == 200
    assert answer.get_json()["down"] == []
    assert any("model store" in item for item in answer.get_json()["degraded"])


def test_a_cache_redis_that_hangs_costs_one_short_timeout_then_pages_skip_it(app, caplog):
    from bench.servers import SilentMailServer
    from shop.extensions import cache

    hanging = SilentMailServer()  # accepts connections and never answers, like a wedged Redis
    try:
        shop = create_app(
            {
                **app.config,
                "CACHE_TYPE": "shop.cache_backend.FallbackRedisCache",
                "CACHE_REDIS_URL": f"redis://127.0.0.1:{hanging.port}/0",
            }
        )
        with shop.app_context():
            backend = cache.cache
            started = time.monotonic()
            assert backend.get("popular") is None  # a miss, after one half-second timeout
            assert time.monotonic() - started < 2
            assert backend.degraded
            started = time.monotonic()
            for _ in range(100):  # within the retry interval Redis is not asked at all
                assert backend.set("popular", [1, 2]) is False
                assert backend.get("popular") is None
            assert time.monotonic() - started < 0.5
            assert shop.test_client().get("/").status_code == 200
            db.engine.dispose()
        release_second_app()
        warnings = [r for r in caplog.records if "The cache (Redis) does not answer" in r.message]
        assert len(warnings) == 1
    finally:
        hanging.close()
