"""What a shared cache in front may keep: visitors' public pages for a minute, nothing of a
shopper's (shop.http_cache)."""

import pytest

from shop.extensions import db
from tests import factories
from tests.conftest import browser_with

PUBLIC = "public, max-age=0, s-maxage=60, stale-while-revalidate=300"


@pytest.fixture
def kettle(app):
    return factories.make_product(name="Blue Kettle", price="19.99")


def public_paths(product) -> list[str]:
    return [
        "/",
        "/products",
        "/products?category=kitchen&sort=price_asc",
        f"/products/{product.id}",
        f"/products/{product.id}/reviews",
        "/search?q=kettle",
    ]


def test_a_visitors_public_pages_set_no_cookie_and_may_be_kept_by_a_shared_cache(app, kettle):
    for path in public_paths(kettle):
        response = app.test_client().get(path)
        assert response.status_code == 200, path
        assert response.headers.getlist("Set-Cookie") == [], path
        assert response.headers["Cache-Control"] == PUBLIC, path
        # a proxy that stores one copy per Cookie header (or none at all) would not keep it
        assert "cookie" not in response.headers.get("Vary", "").lower(), path


def test_a_visitors_other_pages_are_not_public(client, kettle):
    for path in ("/cart", "/products/999999", "/auth/login"):
        assert "public" not in client.get(path).headers.get("Cache-Control", ""), path


def test_the_first_add_to_cart_makes_the_visitors_pages_private(client, kettle):
    client.post(
        "/cart/add",
        data={"product_id": str(kettle.id)},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    for path in public_paths(kettle):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "private, no-cache", path
        assert "Cookie" in response.headers["Vary"], path


def test_a_signed_in_shoppers_pages_are_never_stored_by_a_shared_cache(
    client, auth, shopper, kettle
):
    auth.login()
    for path in public_paths(kettle):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "private, no-store", path
        assert "Cookie" in response.headers["Vary"], path
    auth.logout()
    response = client.get("/")  # signed out: the session still holds the new CSRF token
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_a_remember_cookie_alone_signs_in_and_makes_the_page_private(
    app, client, auth, shopper, kettle
):
    auth.login(remember="y")
    # a browser with no session cookie, only the remember cookie
    page = browser_with(app, remember_token=client.get_cookie("remember_token").value).get("/")
    assert "Sign out" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "private, no-store"


def test_the_lifetimes_come_from_the_configuration(app, kettle):
    from shop import create_app

    other = create_app(
        {**app.config, "SHOP_PAGE_MAX_AGE": 30, "SHOP_PAGE_STALE_SECONDS": 600},
    )
    with other.app_context():
        response = other.test_client().get("/products")
        # this second app's connection (PostgreSQL) is closed here, not left to the collector
        db.session.remove()
        db.engine.dispose()
    assert (
        response.headers["Cache-Control"]
        == "public, max-age=0, s-maxage=30, stale-while-revalidate=600"
    )
