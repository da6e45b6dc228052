"""The factory, configuration and error pages."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import config
from shop import create_app
from shop.extensions import db
from shop.models import Category


def test_production_refuses_the_default_secret_key():
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SHOP_ENV": "production", "SECRET_KEY": config.DEFAULT_SECRET_KEY})
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SHOP_ENV": "production", "SECRET_KEY": ""})


def test_production_starts_with_a_real_secret_key(tmp_path):
    app = create_app(
        {
            "SHOP_ENV": "production",
            "SECRET_KEY": "a-long-random-value-from-the-environment",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}",
        }
    )
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["DEBUG"] is False


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
