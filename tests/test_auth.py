from sqlalchemy import select

from shop.extensions import db
from shop.models import User
from tests import factories
from tests.conftest import csrf_token


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


def test_control_characters_in_names_and_emails_are_dropped_not_stored(client, auth):
    # PostgreSQL refuses NUL in any text parameter: it must never reach a query.
    response = auth.register(
        email="nul\x00@example.com", name="Nu\x00la\x07", password="long-enough"
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User))
    assert (user.email, user.display_name) == ("nul@example.com", "Nula")
    client.post("/auth/logout", data={"csrf_token": csrf_token(client, "/")})
    assert auth.login(email="\x00", password="long-enough").status_code == 200  # "required"
    assert auth.login(email="nul@example.com\x00", password="long-enough").status_code == 302


def test_post_without_csrf_token_gives_400(client, shopper):
    response = client.post(
        "/auth/login", data={"email": "shopper@example.com", "password": "correct-horse"}
    )
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


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


def test_failed_logins_are_rate_limited_per_account(app, client, auth, shopper):
    app.config["SHOP_LOGIN_LIMIT"] = "3 per minute"
    for _ in range(3):
        assert auth.login(password="nope-nope").status_code == 401
    assert auth.login(password="nope-nope").status_code == 429
    # the limit protects the account even with the right password until it cools down
    assert auth.login().status_code == 429


def test_successful_logins_do_not_count_towards_the_limit(app, client, auth, shopper):
    app.config["SHOP_LOGIN_LIMIT"] = "2 per minute"
    for _ in range(4):
        assert auth.login().status_code == 302
        auth.logout()


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
