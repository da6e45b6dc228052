"""No page asks the database once per product it shows: the statement count of every page is the
same whether it shows 50 products or 110.

Each page is counted on a shop of 50 products, with the home and product pages' rows cut to 2 cards (and a shopper who viewed, liked, rated, bought and
carted every other one), then again once the shop has 110; each page is asked twice and the second
request counted (the first records the first views and impressions, which happen once per window).
50 products fill every row of the signed-in home page (the test checks the rows are the same in
both): an empty row asks nothing, and that is not what this test is about. The cart, orders, saved, listing and search
pages show twice as many products or more in the larger shop. A loop that loads
one row per card, a lazy relationship in a template or a commit that expires what the page shows
makes the larger shop's count grow, and fails here.
"""

from __future__ import annotations

import re
from decimal import Decimal

from shop import product_page
from shop.extensions import db
from shop.models import CartItem, Event, Like, Order, OrderLine, Rating
from shop.services import home
from tests import factories
from tests.test_caching import counting_queries

PAGES = {
    "home, signed in": ("/", True),
    "home, visitor": ("/", False),
    "listing": ("/products", False),
    "product page, signed in": ("/products/{first}", True),
    "product page, visitor": ("/products/{first}", False),
    "search": ("/search?q=kettle", False),
    "cart": ("/cart", True),
    "orders": ("/orders", True),
    "saved": ("/feedback/saved", True),
}


def add_products(user_id: int, start: int, stop: int) -> list[int]:
    """Products ``start``..``stop`` in two categories; the shopper viewed, liked, rated, bought and
    carted every other one (so the cart, orders and saved pages grow with the shop, and the home
    page has products new to the shopper to recommend)."""
    ids = []
    for n in range(start, stop):
        product = factories.make_product(
            name=f"Kettle {n}",
            category="Kitchen" if n % 4 < 2 else "Garden",
            price=f"{10 + n}.00",
            brand=f"Brand {n % 3}",
        )
        product.click_count = 100 - n
        product.purchase_count = 1 + n % 4
        ids.append(product.id)
        if n % 2:
            continue
        product.rating_count, product.rating_sum, product.like_count = 1, 5, 1
        db.session.add(Event(user_id=user_id, product_id=product.id, kind="view"))
        db.session.add(Like(user_id=user_id, product_id=product.id))
        db.session.add(Rating(user_id=user_id, product_id=product.id, stars=5))
        db.session.add(CartItem(user_id=user_id, product_id=product.id, quantity=1))
        line = OrderLine(product_id=product.id, quantity=1, unit_price=product.price)
        db.session.add(Order(user_id=user_id, total=Decimal(product.price), lines=[line]))
        db.session.add(Event(user_id=user_id, product_id=product.id, kind="purchase"))
    db.session.commit()
    return ids


def signed_in_browser(app, email: str):
    browser = app.test_client()
    html = browser.get("/auth/login").get_data(as_text=True)
    token = html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    response = browser.post(
        "/auth/login", data={"csrf_token": token, "email": email, "password": "correct-horse"}
    )
    assert response.status_code == 302
    return browser


def statements_per_page(visitor, shopper, first: int) -> dict[str, list[str]]:
    """Statements each page issues on its second request (the first records first views)."""
    counts = {}
    for name, (path, signed_in) in PAGES.items():
        browser = shopper if signed_in else visitor
        url = path.format(first=first)
        assert browser.get(url).status_code == 200, name
        with counting_queries() as statements:
            response = browser.get(url)
        assert response.status_code == 200, name
        counts[name] = statements
    return counts


def cards(response) -> int:
    return response.get_data(as_text=True).count('class="card h-100 product-card')


def home_rows(browser) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', browser.get("/").get_data(as_text=True))


def test_no_page_asks_once_per_product(app, monkeypatch):
    app.config["SHOP_PAGE_SIZE"] = 120  # the listing, search and saved pages show every product
    user = factories.make_user(email="counted@example.com")
    first = add_products(user.id, 0, 50)[0]
    visitor, shopper = app.test_client(), signed_in_browser(app, "counted@example.com")
    with monkeypatch.context() as short_rows:  # the home and product pages' rows hold 2 cards
        short_rows.setattr(home, "ROW", 2)
        short_rows.setattr(home, "FOR_YOU", 2)
        short_rows.setattr(product_page, "ROW", 2)
        few = statements_per_page(visitor, shopper, first)
        rows = home_rows(shopper), home_rows(visitor)
        few_cards = cards(shopper.get("/"))

    add_products(user.id, 50, 110)
    many = statements_per_page(visitor, shopper, first)
    assert (home_rows(shopper), home_rows(visitor)) == rows
    assert "because-liked" in rows[0] and "best-sellers" in rows[1]

    grew = {
        name: (len(few[name]), len(many[name]), [s for s in many[name] if s not in few[name]])
        for name in PAGES
        if len(many[name]) > len(few[name])
    }
    assert not grew, f"statements with 50 products -> with 110 (and the new ones): {grew}"
    assert (few_cards, cards(shopper.get("/"))) == (10, 30)
    assert cards(shopper.get(f"/products/{first}")) == 5  # similar; also-bought is carted
    assert cards(visitor.get("/products")) == 110
