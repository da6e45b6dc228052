import statistics
import time

from sqlalchemy import select

from shop import create_app
from shop.extensions import db, limiter
from shop.models import User
from tests import factories
from tests.conftest import AuthActions, browser_with, csrf_token, is_signed_in


def test_register_creates_account_signs_in_and_hashes_password(client, auth):
    response = auth.register(email="New@Example.com", name="Nina New", password="s3cret-pass")
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "new@example.com"))
    assert user is not None
    assert user.password_hash.startswith("scrypt:")
    assert "s3cret-pass" not in user.password_hash
    page = client.get("/").get_data(as_text=True)
    assert "Sign out (Nina New)" in page


def test_register_refuses_duplicate_email(client, auth, shopper):
    response = auth.register(email="shopper@example.com")
    assert response.status_code == 200
    assert "already exists" in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count(User.id))) == 1


def test_register_reports_mismatched_passwords(client):
    token = csrf_token(client, "/auth/register")
    response = client.post(
        "/auth/register",
        data={
            "csrf_token": token,
            "email": "a@example.com",
            "display_name": "Al",
            "password": "long-enough-1",
            "confirm": "long-enough-2",
        },
    )
    assert "The passwords do not match." in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count(User.id))) == 0


def test_login_with_right_password_sets_session(client, auth, shopper):
    response = auth.login()
    assert response.status_code == 302
    assert "Sign out" in client.get("/").get_data(as_text=True)


def test_login_with_wrong_password_is_refused(client, auth, shopper):
    response = auth.login(password="wrong-password")
    assert response.status_code == 401
    assert "do not match" in response.get_data(as_text=True)
    assert "Sign out" not in client.get("/").get_data(as_text=True)


def test_control_characters_are_dropped_from_names_and_refused_in_new_addresses(client, auth):
    # PostgreSQL refuses NUL in any text parameter: it must never reach a query.
    refused = auth.register(email="nul\x00@example.com", name="Nula", password="long-enough")
    assert refused.status_code == 200
    assert "cannot contain control characters" in refused.get_data(as_text=True)
    assert db.session.scalar(select(User)) is None
    response = auth.register(email="nul@example.com", name="Nu\x00la\x07", password="long-enough")
    assert response.status_code == 302
    user = db.session.scalar(select(User))
    assert (user.email, user.display_name) == ("nul@example.com", "Nula")
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    assert auth.login(email="\x00", password="long-enough").status_code == 200  # "required"
    # Signing in reads the one normalised spelling, so a stray control character finds the account.
    assert auth.login(email="nul@example.com\x00", password="long-enough").status_code == 302


def test_post_without_csrf_token_signs_nobody_in_and_says_why(client, shopper):
    response = client.post(
        "/auth/login?next=/orders",
        data={"email": "shopper@example.com", "password": "correct-horse"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/auth/login?next=/orders"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your session expired, so nothing was changed: please try again." in page
    assert "Sign out" not in page


def test_login_follows_local_next_only(client, auth, shopper):
    response = auth.login(next="/products?page=2")
    assert response.headers["Location"] == "/products?page=2"
    auth.logout()
    for hostile in ("https://elsewhere.example/", "//elsewhere.example", "/\\elsewhere.example"):
        response = auth.login(next=hostile)
        assert response.status_code == 302
        assert response.headers["Location"] == "/"
        auth.logout()


def test_logout_is_a_post(client, auth, shopper):
    auth.login()
    assert client.get("/auth/logout").status_code == 405
    response = auth.logout()
    assert response.status_code == 302
    assert "Sign in" in client.get("/").get_data(as_text=True)


def _login_from(app, address: str, email="shopper@example.com", password="nope-nope", browser=None):
    browser = browser or app.test_client()
    token = csrf_token(browser, "/auth/login")
    return browser.post(
        "/auth/login",
        data={"csrf_token": token, "email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failed_logins_are_limited_per_account_and_address(app, client, auth, shopper):
    app.config["SHOP_LOGIN_LIMIT"] = "3 per minute"
    for _ in range(3):
        assert auth.login(password="nope-nope").status_code == 401
    refused = auth.login(password="nope-nope")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in refused.get_data(as_text=True)
    # from this address the account waits, even with the right password...
    assert auth.login().status_code == 429


def test_a_strangers_failures_do_not_lock_the_owner_out(app, shopper):
    for _ in range(50):
        assert _login_from(app, "203.0.113.66").status_code in (401, 429)
    assert _login_from(app, "198.51.100.7", password="correct-horse").status_code == 302


def test_failures_from_one_address_across_accounts_are_limited(app, shopper):
    for n in range(20):
        assert _login_from(app, "203.0.113.5", email=f"someone{n}@example.com").status_code == 401
    assert _login_from(app, "203.0.113.5", email="other@example.com").status_code == 429
    assert _login_from(app, "203.0.113.6", email="other@example.com").status_code == 401


def test_many_addresses_against_one_account_hit_the_loose_limit_but_not_a_known_browser(
    app, shopper
):
    app.config["SHOP_LOGIN_ACCOUNT_LIMIT"] = "10 per hour"
    owners_browser = app.test_client()
    assert (
        _login_from(app, "192.0.2.1", password="correct-horse", browser=owners_browser).status_code
        == 302
    )
    AuthActions(owners_browser).logout()
    for n in range(10):
        assert _login_from(app, f"203.0.113.{n}").status_code == 401
    assert _login_from(app, "203.0.113.200").status_code == 429
    assert _login_from(app, "198.51.100.1", password="correct-horse").status_code == 429
    # the browser the owner signed in from before is exempt from the account-wide limit
    assert (
        _login_from(app, "192.0.2.1", password="correct-horse", browser=owners_browser).status_code
        == 302
    )


def test_failures_from_one_address_wait_longer_each_time(app, shopper):
    app.config["SHOP_LOGIN_DELAY_SECONDS"] = 1
    for _ in range(3):  # the first two are answered at once; the third starts the wait
        assert _login_from(app, "203.0.113.9").status_code == 401
    first = _login_from(app, "203.0.113.9")
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    time.sleep(1.1)
    assert _login_from(app, "203.0.113.9").status_code == 401
    second = _login_from(app, "203.0.113.9")
    assert second.status_code == 429 and second.headers["Retry-After"] == "2"
    # another address is not slowed
    assert _login_from(app, "198.51.100.7", password="correct-horse").status_code == 302


def test_successful_logins_do_not_count_towards_the_limit(app, client, auth, shopper):
    app.config["SHOP_LOGIN_LIMIT"] = "2 per minute"
    app.config["SHOP_LOGIN_IP_LIMIT"] = "2 per minute"
    app.config["SHOP_LOGIN_ACCOUNT_LIMIT"] = "2 per minute"
    for _ in range(4):
        assert auth.login().status_code == 302
        auth.logout()


def test_sign_ups_are_limited_per_address(app, client):
    app.config["SHOP_REGISTER_LIMIT"] = "3 per hour"
    actions = AuthActions(client)
    for n in range(3):
        assert actions.register(email=f"new{n}@example.com").status_code == 302
        actions.logout()
    assert actions.register(email="new9@example.com").status_code == 429
    assert db.session.scalar(select(db.func.count(User.id))) == 3


def test_a_failed_sign_in_takes_as_long_for_an_unknown_email_as_for_a_known_one(app, shopper):
    def failed_sign_in(email: str) -> float:
        browser = app.test_client()
        token = csrf_token(browser, "/auth/login")
        started = time.perf_counter()
        browser.post(
            "/auth/login", data={"csrf_token": token, "email": email, "password": "wrong-one"}
        )
        return time.perf_counter() - started

    limiter.enabled = False
    try:
        failed_sign_in("nobody@example.com")  # warm up (the dummy hash is made once)
        known, unknown = [], []
        for n in range(15):  # interleaved, so a busy moment of the machine hits both alike
            known.append(failed_sign_in("shopper@example.com"))
            unknown.append(failed_sign_in(f"nobody{n}@example.com"))
    finally:
        limiter.enabled = True
    known, unknown = statistics.median(known), statistics.median(unknown)
    # Generous bounds for a shared, noisy machine; without the dummy hash the ratio was ~0.05.
    assert 0.6 < unknown / known < 1.6, (known, unknown)


def test_session_cookie_is_httponly_and_samesite(client, auth, shopper):
    response = auth.login()
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_a_sign_up_that_loses_a_race_for_its_email_gets_the_form_back(client, monkeypatch):
    from shop.auth.forms import RegistrationForm

    # The other sign-up commits between this one's check and its insert.
    def racing_check(form, field):
        factories.make_user(email=field.data)

    monkeypatch.setattr(RegistrationForm, "validate_email", racing_check)
    token = csrf_token(client, "/auth/register")
    response = client.post(
        "/auth/register",
        data={
            "csrf_token": token,
            "email": "race@example.com",
            "display_name": "Rae Racer",
            "password": "long-enough-1",
            "confirm": "long-enough-1",
        },
    )
    assert response.status_code == 409
    assert "already exists" in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count(User.id))) == 1


# --- sessions that end ----------------------------------------------------------------------


def test_a_session_cookie_copied_before_sign_out_is_signed_out_afterwards(
    app, client, auth, shopper
):
    auth.login()
    copied = client.get_cookie("session").value
    assert is_signed_in(browser_with(app, session=copied))
    auth.logout()
    assert not is_signed_in(client)
    assert not is_signed_in(browser_with(app, session=copied))


def test_a_remember_cookie_copied_before_sign_out_is_signed_out_afterwards(
    app, client, auth, shopper
):
    response = auth.login(remember="y")
    assert "remember_token=" in " ".join(response.headers.getlist("Set-Cookie"))
    remember = client.get_cookie("remember_token").value
    assert is_signed_in(browser_with(app, remember_token=remember))  # it works on its own
    response = auth.logout()
    assert "remember_token=;" in " ".join(response.headers.getlist("Set-Cookie"))  # cleared
    assert client.get_cookie("remember_token") is None
    assert not is_signed_in(browser_with(app, remember_token=remember))


def test_two_sign_ins_get_two_different_remember_cookies(app, shopper):
    cookies = []
    for _ in range(2):
        browser = app.test_client()
        AuthActions(browser).login(remember="y")
        cookies.append(browser.get_cookie("remember_token").value)
    assert cookies[0] != cookies[1]
    assert all(is_signed_in(browser_with(app, remember_token=c)) for c in cookies)


def test_the_cookie_names_no_row_id_and_old_style_cookies_sign_nobody_in(
    app, client, auth, shopper
):
    auth.login()
    with client.session_transaction() as sess:
        assert sess["_user_id"].startswith(shopper.session_token + ".")
        sess["_user_id"] = str(shopper.id)  # what the shop used to store
    assert not is_signed_in(client)


def test_sign_in_rotates_the_csrf_token_and_the_session(client, auth, shopper):
    before = csrf_token(client, "/auth/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by someone else"
    auth.login()
    after = csrf_token(client, "/")
    assert before != after
    with client.session_transaction() as sess:
        assert "planted" not in sess
    # the token from before sign-in no longer works
    assert client.post("/auth/logout", data={"csrf_token": before}).status_code == 303
    assert is_signed_in(client)  # refused: sent back with "Your session expired"


def test_with_redis_the_counts_live_in_redis_where_every_worker_reads_them(app, redis_url, shopper):
    """(tests/test_auth_load.py runs the attacks against four gunicorn workers.)"""
    import redis

    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    worker = create_app({**app.config, "RATELIMIT_STORAGE_URI": redis_url})
    statuses = [_login_from(worker, "203.0.113.77").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    with worker.app_context():
        db.engine.dispose()  # its own pool, not the fixture's
    keys = {key.decode() for key in store.keys("*")}
    assert any("shop/login/pair/shopper@example.com/203.0.113.77" in key for key in keys), keys
