"""Visitors' pages kept whole per process (shop.page_cache): served again at once, never stale for
an edit, never shown to or filled by anyone with a session."""

from decimal import Decimal

import pytest

from shop.extensions import db
from shop.models import Event
from shop.page_cache import HEADER
from shop.services import merchandising, products, stock
from tests import factories
from tests.conftest import browser_with


@pytest.fixture
def kettle(app):
    kettle = factories.make_product(name="Blue Kettle", price="19.99")
    stock.set_count(kettle, 3)
    db.session.commit()
    return kettle


def visitor_get(app, path: str):
    """A first-time visitor: a fresh browser with no cookie at all."""
    return app.test_client().get(path)


def test_a_visitors_second_request_is_served_from_the_cache_and_matches_the_first(app, kettle):
    for path in ("/", "/products?sort=price_asc&category=kitchen", f"/products/{kettle.id}"):
        first = visitor_get(app, path)
        second = visitor_get(app, path)
        assert (first.headers[HEADER], second.headers[HEADER]) == ("miss", "hit"), path
        assert second.get_data() == first.get_data(), path
        assert second.headers["Cache-Control"] == first.headers["Cache-Control"], path
        assert second.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
        assert second.headers.getlist("Set-Cookie") == [], path
        assert "cookie" not in second.headers.get("Vary", "").lower(), path
    # the query's order does not matter, its content does
    assert visitor_get(app, "/products?category=kitchen&sort=price_asc").headers[HEADER] == "hit"
    assert visitor_get(app, "/products?category=kitchen&sort=price_desc").headers[HEADER] == "miss"


def test_head_is_answered_from_the_same_copy_with_no_body(app, kettle):
    page = visitor_get(app, "/").get_data()
    head = app.test_client().head("/")
    assert head.status_code == 200
    assert head.headers[HEADER] == "hit"
    assert head.get_data() == b""
    assert int(head.headers["Content-Length"]) == len(page)
    # a HEAD that builds the page keeps all of it for the next GET
    assert app.test_client().head("/products").headers[HEADER] == "miss"
    listing = visitor_get(app, "/products")
    assert listing.headers[HEADER] == "hit"
    assert "Blue Kettle" in listing.get_data(as_text=True)


def test_other_hosts_and_schemes_do_not_share_a_copy(app, kettle):
    visitor_get(app, "/")
    other_host = app.test_client().get("/", base_url="http://shop.example")
    assert other_host.headers[HEADER] == "miss"
    other_scheme = app.test_client().get("/", base_url="https://localhost")
    assert other_scheme.headers[HEADER] == "miss"


def test_a_price_change_shows_to_the_next_visitor_at_once(app, kettle):
    assert "19.99" in visitor_get(app, "/").get_data(as_text=True)
    assert visitor_get(app, f"/products/{kettle.id}").status_code == 200
    factories.edit_product(kettle, price=Decimal("24.50"))
    for path in ("/", "/products", f"/products/{kettle.id}"):
        page = visitor_get(app, path)
        assert page.headers[HEADER] == "miss", path
        assert "24.50" in page.get_data(as_text=True) and "19.99" not in page.get_data(as_text=True)


def test_a_hidden_product_disappears_for_the_next_visitor(app, kettle):
    assert "Blue Kettle" in visitor_get(app, "/products").get_data(as_text=True)
    assert visitor_get(app, f"/products/{kettle.id}").status_code == 200
    factories.edit_product(kettle, listed=False)
    assert "Blue Kettle" not in visitor_get(app, "/products").get_data(as_text=True)
    assert visitor_get(app, f"/products/{kettle.id}").status_code == 404


def test_selling_out_shows_at_once(app, kettle):
    assert "Out of stock" not in visitor_get(app, "/products").get_data(as_text=True)
    products.adjust_stock(kettle, -3)  # the last three units sold or written off
    db.session.commit()
    assert "Out of stock" in visitor_get(app, "/products").get_data(as_text=True)


def test_a_new_product_shows_at_once(app, kettle):
    visitor_get(app, "/products")
    factories.make_product(name="Green Teapot", price="12.00")
    assert "Green Teapot" in visitor_get(app, "/products").get_data(as_text=True)


def test_a_category_rename_and_a_pin_show_at_once(app, kettle):
    visitor_get(app, "/products")
    products.rename_category(kettle.category, "Kitchin")  # slug of the same length
    db.session.commit()
    assert "Kitchin" in visitor_get(app, "/products").get_data(as_text=True)
    teapot = factories.make_product(name="Green Teapot", category=kettle.category)
    path = f"/products?category={kettle.category.slug}&sort=popular"
    assert visitor_get(app, path).headers[HEADER] == "miss"
    assert visitor_get(app, path).headers[HEADER] == "hit"
    merchandising.add_pin(kettle.category, teapot, 1)
    db.session.commit()
    assert visitor_get(app, path).headers[HEADER] == "miss"


def test_a_product_page_from_the_cache_still_counts_the_visit(app, kettle):
    app.config["SHOP_EVENT_WINDOW_SECONDS"] = 0  # every view counts, whoever asks
    visitor_get(app, f"/products/{kettle.id}")
    assert visitor_get(app, f"/products/{kettle.id}?src=home:top-clicked").status_code == 200
    hit = visitor_get(app, f"/products/{kettle.id}?src=home:top-clicked")
    assert hit.headers[HEADER] == "hit"
    kinds = sorted(e.kind for e in db.session.scalars(db.select(Event)))
    assert kinds == ["click", "click", "view", "view", "view"]


def test_a_signed_in_shopper_never_gets_the_visitors_copy_nor_fills_it(
    app, client, auth, shopper, kettle
):
    visitor_get(app, "/")
    assert visitor_get(app, "/").headers[HEADER] == "hit"
    auth.login()
    page = client.get("/")
    assert page.headers.get(HEADER) != "hit"  # built for the shopper (shop.page_cache)
    assert "Sign out" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "private, no-store"
    # and the other way round: the shopper's page was not kept for the next visitor
    client.get(f"/products/{kettle.id}")
    visitor = visitor_get(app, f"/products/{kettle.id}")
    assert visitor.headers[HEADER] == "miss"
    assert "Sign out" not in visitor.get_data(as_text=True)


def test_a_remember_cookie_alone_bypasses_the_cache(app, client, auth, shopper, kettle):
    visitor_get(app, "/")
    auth.login(remember="y")
    page = browser_with(app, remember_token=client.get_cookie("remember_token").value).get("/")
    assert page.headers[HEADER] == "miss"  # the shopper's own page, not the visitors' copy
    assert "Sign out" in page.get_data(as_text=True)


def test_a_visitor_with_a_cart_never_gets_the_copy_nor_fills_it(app, client, kettle):
    visitor_get(app, "/")
    client.post(
        "/cart/add", data={"product_id": str(kettle.id)}, headers={"Sec-Fetch-Site": "same-origin"}
    )
    for path in ("/", f"/products/{kettle.id}"):
        page = client.get(path)
        assert HEADER not in page.headers, path
        assert page.headers["Cache-Control"] == "private, no-cache", path
        assert 'name="csrf-token"' in page.get_data(as_text=True), path
    visitor = visitor_get(app, f"/products/{kettle.id}")
    assert visitor.headers[HEADER] == "miss"
    assert 'name="csrf-token"' not in visitor.get_data(as_text=True)


def test_zero_seconds_turns_the_cache_off(app, kettle):
    app.config["SHOP_PAGE_CACHE_SECONDS"] = 0
    visitor_get(app, "/")
    second = visitor_get(app, "/")
    assert HEADER not in second.headers
    assert second.status_code == 200
