"""The factory, configuration and error pages."""

from __future__ import annotations

import pytest
from flask import request
from sqlalchemy import func, select

import config
from shop import create_app
from shop.extensions import db
from shop.models import Category

PRODUCTION_KEY = "a-long-random-value-from-the-environment"


def production_app(tmp_path, **overrides):
    settings = {
        "SHOP_ENV": "production",
        "SECRET_KEY": PRODUCTION_KEY,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}",
        "TRUSTED_HOSTS": ["shop.example"],
    }
    return create_app({**settings, **overrides})


@pytest.mark.parametrize(
    "key", [config.DEFAULT_SECRET_KEY, "", "x", "31-bytes-is-one-byte-too-short!"]
)
def test_production_refuses_a_default_or_short_secret_key(tmp_path, key):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        production_app(tmp_path, SECRET_KEY=key)


def test_production_starts_with_a_real_secret_key(tmp_path):
    app = production_app(tmp_path)
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["DEBUG"] is False


def test_production_refuses_to_take_its_host_name_from_clients(tmp_path):
    with pytest.raises(RuntimeError, match="SHOP_SERVER_NAME"):
        production_app(tmp_path, TRUSTED_HOSTS=None)
    assert production_app(tmp_path, TRUSTED_HOSTS=None, SERVER_NAME="shop.example")


def test_production_sends_hsts_and_development_does_not(tmp_path, client):
    prod = production_app(tmp_path).test_client()
    hsts = prod.get("/healthz", headers={"Host": "shop.example"}).headers[
        "Strict-Transport-Security"
    ]
    assert hsts == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/healthz").headers


def test_a_host_outside_the_trusted_hosts_is_refused(tmp_path):
    prod = production_app(tmp_path).test_client()
    assert prod.get("/healthz", headers={"Host": "shop.example"}).status_code == 200
    assert prod.get("/healthz", headers={"Host": "evil.example"}).status_code == 400


def test_proxy_fix_is_off_unless_configured(app, tmp_path):
    seen = []
    app.add_url_rule("/_addr", "addr", lambda: seen.append(request.remote_addr) or "ok")
    app.test_client().get("/_addr", headers={"X-Forwarded-For": "203.0.113.9"})
    behind = create_app({**app.config, "SHOP_PROXY_COUNT": 1})
    behind.add_url_rule("/_addr", "addr", lambda: seen.append(request.remote_addr) or "ok")
    behind.test_client().get("/_addr", headers={"X-Forwarded-For": "203.0.113.9"})
    with behind.app_context():
        db.engine.dispose()
    assert seen == ["127.0.0.1", "203.0.113.9"]


@pytest.mark.parametrize(
    "raw, expected",
    [("1", True), ("true", True), ("Yes", True), ("on", True), ("0", False), ("false", False)],
)
def test_booleans_are_parsed_not_taken_as_truthy_strings(monkeypatch, raw, expected):
    monkeypatch.setenv("SHOP_TEST_FLAG", raw)
    assert config.env_bool("SHOP_TEST_FLAG") is expected


def test_a_boolean_that_is_neither_is_refused(monkeypatch):
    monkeypatch.setenv("SHOP_TEST_FLAG", "maybe")
    with pytest.raises(ValueError, match="SHOP_TEST_FLAG"):
        config.env_bool("SHOP_TEST_FLAG")


def test_unknown_shop_env_is_refused():
    with pytest.raises(ValueError, match="SHOP_ENV"):
        config.get_config("staging-ish")


def test_prices_show_the_configured_currency(app, client):
    from tests import factories

    factories.make_product(name="Blue Kettle", price="1234.5")
    assert "£1,234.50" in client.get("/products").get_data(as_text=True)
    app.config["SHOP_CURRENCY"] = "EUR"
    assert "€1,234.50" in client.get("/products").get_data(as_text=True)


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "could not find that page" in response.get_data(as_text=True)


def test_api_errors_are_json(client):
    response = client.get("/recommend")
    assert response.status_code == 401
    assert response.is_json and response.json["error"]["status"] == 401


def test_server_error_page_rolls_back_the_session(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/boom")
    def boom():
        db.session.add(Category(name="Half written", slug="half-written"))
        db.session.flush()
        raise RuntimeError("something broke mid-request")

    client = app.test_client()
    response = client.get("/boom")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.get_data(as_text=True)
    db.session.remove()
    assert db.session.scalar(select(func.count(Category.id))) == 0
