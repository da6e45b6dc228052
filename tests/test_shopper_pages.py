"""A signed-in shopper's own pages kept per process (shop.page_cache, shop.services.activity): a
reload is served from memory with the session's own CSRF token, and everything the shopper does,
and every change to the shop, shows on the very next page."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.models import Like, Order, User
from shop.page_cache import HEADER
from shop.services import orders, stock
from tests import factories
from tests.conftest import AuthActions
from tests.test_caching import counting_queries
from tests.test_checkout import checkout_form


def in_stock(name: str, price: str):
    product = factories.make_product(name=name, price=price)
    stock.set_count(product, 5)
    db.session.commit()
    return product


@pytest.fixture
def kettle(app):
    return in_stock("Blue Kettle", "19.99")


@pytest.fixture
def mug(app):
    return in_stock("Red Mug", "6.50")


@pytest.fixture
def signed_in(client, auth, shopper):
    auth.login()
    client.get("/orders")  # shows the welcome message flashed at sign-in
    return shopper


def sign_in(client, email: str = "shopper@example.com") -> None:
    AuthActions(client).login(email=email)
    client.get("/orders")


# Every token a page carries: the meta tag, the sign-out form's and the product forms' fields.
TOKEN_RE = re.compile(r'name="csrf[-_]token"[^>]*?(?:content|value)="([^"]+)"')


def version(user_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(User.activity_version).where(User.id == user_id))


def token_of(html: str) -> str:
    tokens = set(TOKEN_RE.findall(html))
    assert len(tokens) == 1, tokens
    return tokens.pop()


def without_tokens(html: str) -> str:
    return TOKEN_RE.sub("", html)


def send(client, path: str, token: str, data: dict | None = None):
    return client.post(path, data={"csrf_token": token, **(data or {})})


def test_a_reload_comes_from_the_cache_with_the_sessions_own_working_token(
    client, signed_in, kettle
):
    for path in ("/", f"/products/{kettle.id}", "/products?sort=price_asc"):
        first = client.get(path)
        second = client.get(path)
        assert (first.headers[HEADER], second.headers[HEADER]) == ("miss", "hit"), path
        html = second.get_data(as_text=True)
        assert without_tokens(html) == without_tokens(first.get_data(as_text=True)), path
        assert token_of(html), path
        assert second.headers["Cache-Control"] == "private, no-store", path
        assert int(second.headers["Content-Length"]) == len(second.get_data()), path
    # the token the kept page carries is accepted: a like sent with it is saved
    token = token_of(client.get(f"/products/{kettle.id}").get_data(as_text=True))
    assert send(client, f"/feedback/like/{kettle.id}", token).status_code == 302
    assert db.session.scalar(select(Like).where(Like.user_id == signed_in.id)) is not None


def test_browsing_products_keeps_the_product_pages_and_rebuilds_home(
    client, signed_in, kettle, mug
):
    uid = signed_in.id
    client.get("/")
    assert client.get(f"/products/{kettle.id}").headers[HEADER] == "miss"
    before = version(uid)
    assert client.get(f"/products/{mug.id}").headers[HEADER] == "miss"  # a view is recorded
    assert version(uid) == before + 1
    # a product page shows nothing a view changes: the kettle's page is still good
    assert client.get(f"/products/{kettle.id}").headers[HEADER] == "hit"
    home = client.get("/")
    assert home.headers[HEADER] == "miss"  # "Recently viewed" moved
    assert "Recently viewed" in home.get_data(as_text=True)
    # a like does show on the product page
    token = token_of(client.get(f"/products/{kettle.id}").get_data(as_text=True))
    send(client, f"/feedback/like/{kettle.id}", token)
    client.get("/orders")  # the like's message
    assert client.get(f"/products/{kettle.id}").headers[HEADER] == "miss"


def test_the_same_shopper_on_two_devices_shares_the_page_but_not_the_token(
    app, client, signed_in, kettle
):
    client.get("/")
    other = app.test_client()
    sign_in(other)
    first_html = client.get("/").get_data(as_text=True)
    page = other.get("/")
    assert page.headers[HEADER] == "hit"
    html = page.get_data(as_text=True)
    assert token_of(html) != token_of(first_html)
    assert send(other, f"/feedback/like/{kettle.id}", token_of(html)).status_code == 302
    # the first device's token does not work in the second device's session: the like stays
    assert send(other, f"/feedback/like/{kettle.id}", token_of(first_html)).status_code == 303
    assert db.session.scalar(select(Like).where(Like.product_id == kettle.id)) is not None


def test_two_shoppers_never_see_each_others_page(app, client, signed_in, kettle):
    assert "Sign out (Test Shopper)" in client.get("/").get_data(as_text=True)
    factories.make_user(email="other@example.com", name="Olive Other")
    db.session.commit()
    other = app.test_client()
    sign_in(other, "other@example.com")
    page = other.get("/")
    assert page.headers[HEADER] == "miss"
    assert "Sign out (Olive Other)" in page.get_data(as_text=True)
    assert "Test Shopper" not in page.get_data(as_text=True)


def _token(client) -> str:
    return token_of(client.get("/").get_data(as_text=True))


def test_every_shopper_action_moves_the_version_and_shows_on_the_next_page(
    client, signed_in, kettle, mug, monkeypatch
):
    import shop.cart.routes as cart_routes

    monkeypatch.setattr(cart_routes, "send_later", lambda *mail: None)
    uid = signed_in.id

    def acted(action) -> str:
        client.get("/")
        assert client.get("/").headers[HEADER] == "hit"
        before = version(uid)
        action()
        assert version(uid) > before, action.__name__
        client.get("/orders")  # shows the message the action flashed
        page = client.get("/")
        assert page.headers[HEADER] == "miss", action.__name__
        return page.get_data(as_text=True)

    def view():
        client.get(f"/products/{kettle.id}")

    assert "Recently viewed" in acted(view)

    def like():
        send(client, f"/feedback/like/{kettle.id}", _token(client))

    acted(like)

    def rate():
        send(client, f"/feedback/rate/{mug.id}", _token(client), {"stars": "5"})

    acted(rate)

    def add_to_cart():
        send(client, "/cart/add", _token(client), {"product_id": kettle.id})

    assert "data-cart-count>1<" in acted(add_to_cart).replace(" ", "")

    def change_quantity():
        send(client, f"/cart/update/{kettle.id}", _token(client), {"quantity": "2"})

    assert "data-cart-count>2<" in acted(change_quantity).replace(" ", "")

    def remove():
        send(client, f"/cart/remove/{kettle.id}", _token(client))

    assert "data-cart-count>2<" not in acted(remove).replace(" ", "")

    def check_out():
        token = _token(client)
        send(client, "/cart/add", token, {"product_id": mug.id})
        details = checkout_form(delivery="standard")
        send(client, "/checkout/review", token, details)
        placed = send(client, "/checkout", token, {**details, "total": "10.45"})
        assert "/checkout/confirmation/" in placed.headers["Location"]

    acted(check_out)

    def order_moves():
        order = db.session.scalar(select(Order).where(Order.user_id == uid))
        orders.move(order, "paid")
        db.session.commit()

    acted(order_moves)


def test_a_change_to_the_shop_shows_on_a_shoppers_next_page(client, signed_in, kettle):
    path = f"/products/{kettle.id}"
    client.get(path)
    client.get(path)
    assert client.get(path).headers[HEADER] == "hit"
    factories.edit_product(kettle, price=Decimal("12.00"))
    page = client.get(path)
    assert page.headers[HEADER] == "miss"
    assert "£12.00" in page.get_data(as_text=True)


def test_a_flashed_message_is_shown_once_and_never_kept(client, signed_in, kettle):
    path = f"/products/{kettle.id}"
    client.get(path)
    send(client, f"/feedback/like/{kettle.id}", token_of(client.get(path).get_data(as_text=True)))
    shown = client.get(path)
    assert HEADER not in shown.headers  # a message waits in the session: built, never kept
    assert "Added to the products you like." in shown.get_data(as_text=True)
    again = client.get(path)
    assert again.headers[HEADER] == "miss"  # the page with the message was not kept
    assert "Added to the products you like." not in again.get_data(as_text=True)
    assert client.get(path).headers[HEADER] == "hit"


def test_search_is_never_kept_for_a_shopper(client, signed_in, kettle):
    client.get("/search?q=kettle")
    assert HEADER not in client.get("/search?q=kettle").headers


@pytest.mark.parametrize(
    "settings", [{"SHOP_SHOPPER_PAGE_CACHE_SECONDS": 0}, {"SHOP_IMPRESSION_WINDOW_SECONDS": 0}]
)
def test_the_shoppers_copies_can_be_turned_off(app, client, signed_in, kettle, settings):
    app.config.update(settings)
    client.get("/")
    assert HEADER not in client.get("/").headers


def test_a_kept_page_costs_a_few_statements(app, client, signed_in, kettle, mug):
    client.get("/")
    client.get(f"/products/{kettle.id}")
    for path in ("/", f"/products/{kettle.id}"):
        client.get(path)
        with counting_queries() as statements:
            page = client.get(path)
        assert page.headers[HEADER] == "hit", path
        # the user row and the shop's state (a product's view was recorded on its first visit)
        assert len(statements) <= 3, (path, statements)


def test_the_kept_page_has_no_token_of_another_session_in_it(app, client, signed_in, kettle):
    html = client.get("/").get_data(as_text=True)
    other = app.test_client()
    sign_in(other)
    kept = other.get("/").get_data(as_text=True)
    assert token_of(html) not in kept
    assert re.search(r"[A-Za-z0-9_-]{32}", token_of(kept))


def similar_row(html: str) -> str:
    start = html.index("Similar products")
    return html[start : html.index("</section>", start)]


def test_the_product_pages_shared_half_is_built_once_for_every_shopper_without_its_products_in_the_cart(
    app, client, signed_in, kettle, mug
):
    in_stock("Teal Teapot", "24.00")
    with counting_queries() as statements:
        mine = client.get(f"/products/{kettle.id}").get_data(as_text=True)
    assert "Red Mug" in similar_row(mine) and "Teal Teapot" in similar_row(mine)
    assert any("ratings.review IS NOT NULL" in s for s in statements)  # built here
    factories.make_user(email="other@example.com", name="Olive Other")
    db.session.commit()
    other = app.test_client()
    sign_in(other, "other@example.com")
    with counting_queries() as statements:
        theirs = other.get(f"/products/{kettle.id}")
    assert theirs.headers[HEADER] == "miss"  # their own page is built ...
    html = theirs.get_data(as_text=True)
    assert similar_row(html) == similar_row(mine)  # ... around the same shared half
    # the latest reviews were not read again
    assert not any("ratings.review IS NOT NULL" in s for s in statements), statements
    # a shopper with the mug in the cart gets rows built for them, without it
    token = token_of(html)
    send(other, "/cart/add", token, {"product_id": mug.id})
    other.get("/orders")
    row = similar_row(other.get(f"/products/{kettle.id}").get_data(as_text=True))
    assert "Red Mug" not in row and "Teal Teapot" in row
    # and everyone else still gets the shared half with it
    assert "Red Mug" in similar_row(client.get(f"/products/{kettle.id}").get_data(as_text=True))


def test_a_new_review_is_on_every_shoppers_next_product_page(app, client, signed_in, kettle):
    client.get(f"/products/{kettle.id}")
    reviewer = factories.make_user(email="rita@example.com", name="Rita Reviewer")
    db.session.commit()
    other = app.test_client()
    sign_in(other, "rita@example.com")
    token = token_of(other.get(f"/products/{kettle.id}").get_data(as_text=True))
    send(other, f"/feedback/rate/{kettle.id}", token, {"stars": "4", "review": "Boils fast."})
    assert reviewer.id
    page = client.get(f"/products/{kettle.id}").get_data(as_text=True)
    assert "Boils fast." in page and "Rita Reviewer" in page
