"""The hostile review's attacks, run for real: gunicorn with 4 workers, a private Redis, loopback.

Each client speaks from its own loopback address (127.0.0.x, which Linux routes to the server), so
limits per address are tested as a real second machine would meet them.
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from bench.loadgen import LoopbackBrowser
from bench.servers import flask, gunicorn, shop_env

pytestmark = [pytest.mark.load, pytest.mark.slow]

OWNER, OWNER_PASSWORD = "owner@example.com", "owner-password-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url):
    folder = tmp_path_factory.mktemp("auth-load")
    env = shop_env(folder, RATELIMIT_STORAGE_URI=redis_url, SHOP_REGISTER_LIMIT="10 per hour")
    flask(env, "db", "upgrade")
    flask(env, "seed", "--users", "5", "--products", "12", "--events", "200", "--quiet")
    flask(env, "create-admin", OWNER, "--password", OWNER_PASSWORD)
    with sqlite3.connect(folder / "shop.db") as conn:
        conn.execute("UPDATE users SET is_admin = 0 WHERE email = ?", (OWNER,))
    with gunicorn(env, workers=4, log=folder / "gunicorn.log") as base:
        yield base, folder


def test_the_sixth_failure_on_one_account_from_one_address_is_refused(server):
    base, _ = server
    guesser = LoopbackBrowser(base, "127.0.0.2")
    wrong, refused_for_long = 0, None
    for _ in range(30):
        status, headers = guesser.login(OWNER, "not-the-password")
        if status == 401:
            wrong += 1
            continue
        assert status == 429
        wait = int(headers["Retry-After"])
        if wait > 10:  # the hard limit, not the growing delay between failures
            refused_for_long = wait
            break
        time.sleep(wait)
    assert wrong == 5
    assert refused_for_long is not None and refused_for_long <= 15 * 60


def test_the_twenty_first_failure_from_one_address_across_accounts_is_refused(server):
    base, _ = server
    sprayer = LoopbackBrowser(base, "127.0.0.3")
    statuses = [sprayer.login(f"guess{n}@example.com", "password1")[0] for n in range(25)]
    assert statuses == [401] * 20 + [429] * 5


def test_the_owner_signs_in_from_another_address_after_a_strangers_fifty_failures(server):
    base, _ = server
    stranger = LoopbackBrowser(base, "127.0.0.4")
    statuses = [stranger.login(OWNER, f"guess-{n}")[0] for n in range(50)]
    assert statuses.count(401) <= 5 and statuses.count(429) >= 45
    owner = LoopbackBrowser(base, "127.0.0.5")
    assert owner.login(OWNER, OWNER_PASSWORD)[0] == 302
    assert owner.signed_in()


def test_sign_ups_from_one_address_are_limited(server):
    base, _ = server
    bot = LoopbackBrowser(base, "127.0.0.6")
    statuses = []
    for n in range(30):
        form = {
            "csrf_token": bot.csrf("/auth/register"),
            "email": f"bot{n}@example.com",
            "display_name": "Bot",
            "password": "bot-password-1",
            "confirm": "bot-password-1",
        }
        statuses.append(bot.request("POST", "/auth/register", form)[0])
        bot.cookies.pop("session", None)  # signed in: sign-up would redirect
    assert statuses == [302] * 10 + [429] * 20


def test_cookies_copied_before_sign_out_are_signed_out_on_every_worker(server):
    base, _ = server
    browser = LoopbackBrowser(base, "127.0.0.7")
    assert browser.login(OWNER, OWNER_PASSWORD, remember=True)[0] == 302
    session_copy = LoopbackBrowser(base, "127.0.0.8")
    session_copy.cookies = {"session": browser.cookies["session"]}
    remember_copy = LoopbackBrowser(base, "127.0.0.8")
    remember_copy.cookies = {"remember_token": browser.cookies["remember_token"]}
    assert all(session_copy.signed_in() for _ in range(4))
    assert all(remember_copy.signed_in() for _ in range(4))

    second = LoopbackBrowser(base, "127.0.0.9")
    second.login(OWNER, OWNER_PASSWORD, remember=True)
    assert second.cookies["remember_token"] != browser.cookies["remember_token"]

    status, _, _ = browser.request("POST", "/auth/logout", {"csrf_token": browser.csrf("/")})
    assert status == 302
    assert "remember_token" not in browser.cookies
    for _ in range(4):  # whichever worker answers
        assert not session_copy.signed_in()
        remember_copy.cookies = {"remember_token": remember_copy.cookies.get("remember_token", "")}
        assert not remember_copy.signed_in()


def test_a_hundred_anonymous_gets_of_a_product_link_count_one_click(server):
    base, folder = server

    def clicks() -> int:
        with sqlite3.connect(folder / "shop.db") as conn:
            return conn.execute("SELECT click_count FROM products WHERE id = 1").fetchone()[0]

    before = clicks()
    script = LoopbackBrowser(base, "127.0.0.10")
    for n in range(100):
        script.cookies.clear()  # no cookies: every request looks like a new visitor's session
        status, _, _ = script.request("GET", f"/products/1?src=home:top-clicked&n={n}")
        assert status == 200
    assert clicks() - before <= 1
