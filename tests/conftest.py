"""Shared fixtures: a real SQLite file built by the migrations, a client that speaks CSRF.

The migrations run once per test session into a template file; every test gets its own copy, so
tests are isolated and still exercise the real schema (triggers, FTS5, constraints).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from flask import g
from flask_migrate import upgrade

from shop import create_app
from shop.extensions import db
from tests import factories

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def _test_config(db_uri: str, tmp_path: Path) -> dict:
    return {
        "SHOP_ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "testing-secret-key",
        "SQLALCHEMY_DATABASE_URI": db_uri,
        "SHOP_MODEL_DIR": str(tmp_path / "models"),
        "SHOP_PICTURE_DIR": str(tmp_path / "pictures"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": None,
    }


# Set by scripts/with-postgres.sh: the same suite then runs against a real PostgreSQL server.
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = POSTGRES_URL.startswith("postgresql")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path | str:
    """SQLite: a migrated template file to copy. PostgreSQL: the migrated test database's URL."""
    folder = tmp_path_factory.mktemp("template")
    if ON_POSTGRES:
        app = create_app(_test_config(POSTGRES_URL, folder))
        with app.app_context():
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
            upgrade()
            db.engine.dispose()
        return POSTGRES_URL
    path = folder / "template.db"
    app = create_app(_test_config(f"sqlite:///{path}", folder))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


def _truncate_all() -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        )


@pytest.fixture
def app(tmp_path, migrated_template):
    if ON_POSTGRES:
        db_uri = str(migrated_template)
    else:
        db_path = tmp_path / "shop.db"
        shutil.copyfile(migrated_template, db_path)
        db_uri = f"sqlite:///{db_path}"
    app = create_app(_test_config(db_uri, tmp_path))

    @app.url_value_preprocessor
    def _forget_the_previous_request(endpoint, values):
        # The test client reuses this fixture's app context, so ``g`` would carry the signed-in
        # user and the CSRF token from one request into the next; a server starts each afresh.
        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        g.pop("csp_script_hashes", None)
        g.pop("_write_intent", None)  # a GET that wrote made the next request's BEGIN IMMEDIATE
        g.pop("page_frame", None)  # shop.page_frames: what this request did with a frame

    with app.app_context():
        if ON_POSTGRES:
            _truncate_all()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(client, path: str = "/auth/login") -> str:
    """Fetch a page and read its CSRF token, the way a browser's form would carry it."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    if match is None and path != "/auth/login":
        # A visitor's pages carry no token until the session has one (they set no cookie);
        # the sign-in page always does, as a visitor's browser would first open a form page.
        return csrf_token(client, "/auth/login")
    assert match, f"no csrf token on {path}"
    return match.group(1)


def is_signed_in(client) -> bool:
    return "Sign out" in client.get("/").get_data(as_text=True)


def browser_with(app, **cookies: str):
    """A fresh browser holding only copies of the given cookies (an attacker's, say)."""
    browser = app.test_client()
    for name, value in cookies.items():
        browser.set_cookie(name, value)
    return browser


class AuthActions:
    def __init__(self, client):
        self.client = client

    def register(self, email="shopper@example.com", name="Sam Shopper", password="correct-horse"):
        token = csrf_token(self.client, "/auth/register")
        return self.client.post(
            "/auth/register",
            data={
                "csrf_token": token,
                "email": email,
                "display_name": name,
                "password": password,
                "confirm": password,
            },
        )

    def login(self, email="shopper@example.com", password="correct-horse", **extra):
        token = csrf_token(self.client, "/auth/login")
        return self.client.post(
            "/auth/login", data={"csrf_token": token, "email": email, "password": password, **extra}
        )

    def logout(self):
        token = csrf_token(self.client, "/")
        return self.client.post("/auth/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def shopper(app):
    """A registered shopper (password ``correct-horse``)."""
    return factories.make_user(email="shopper@example.com", password="correct-horse")


@pytest.fixture
def admin_user(app):
    return factories.make_user(
        email="admin@example.com", password="admin-password", name="Ada Admin", is_admin=True
    )


@pytest.fixture
def post(client):
    """POST a form with a valid CSRF token, as the browser would."""

    def _post(path, data=None, **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", csrf_token(client, "/"))
        return client.post(path, data=data, **kwargs)

    return _post


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("CHROMIUM_PATH"),
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A private Redis on loopback for the tests that need a shared rate-limit store.

    Skipped without Debian's redis-server, except in CI (SHOP_REQUIRE_REDIS=1), where it fails.
    """
    from bench.servers import redis_binary, redis_server

    if redis_binary() is None:
        if os.environ.get("SHOP_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is required (SHOP_REQUIRE_REDIS=1) but not installed")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
