"""A visitor's cart: kept in the session until sign-in or sign-up merges it into the account's."""

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import CartItem, Event
from tests import factories


@pytest.fixture
def kettle(app):
    return factories.make_product(name="Blue Kettle", price="19.99")


@pytest.fixture
def mug(app):
    product = factories.make_product(name="Stoneware Mug", price="7.50")
    product.stock = 3
    db.session.commit()
    return product


def _account_cart(user) -> dict[int, int]:
    rows = db.session.execute(
        select(CartItem.product_id, CartItem.quantity).where(CartItem.user_id == user.id)
    )
    return dict(rows.all())


def _header_count(client) -> str:
    html = client.get("/").get_data(as_text=True)
    start = html.index("data-cart-count")
    return html[html.index(">", start) + 1 : html.index("</span>", start)]


def test_a_visitor_adds_to_cart_without_signing_in(client, post, kettle, mug):
    response = post("/cart/add", {"product_id": kettle.id, "quantity": "2"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/products/{kettle.id}")
    post("/cart/add", {"product_id": mug.id})
    page = client.get("/cart").get_data(as_text=True)
    assert "Blue Kettle" in page and "Stoneware Mug" in page
    assert "£47.48" in page  # 2 × 19.99 + 7.50
    assert _header_count(client) == "3"
    assert db.session.scalar(select(func.count(CartItem.id))) == 0  # nothing in the database
    event = db.session.scalar(select(Event).where(Event.kind == "add_to_cart"))
    assert event.user_id is None and event.quantity == 2


def test_a_visitor_add_answers_json_with_the_count(post, kettle):
    response = post("/cart/add", {"product_id": kettle.id}, headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.json["cart_count"] == 1
    assert response.json["cart_url"] == "/cart"


def test_the_stock_rules_apply_to_a_visitors_cart(client, post, mug):
    refused = post("/cart/add", {"product_id": mug.id, "quantity": "4"}, follow_redirects=True)
    assert "Only 3 of Stoneware Mug left" in refused.get_data(as_text=True)
    assert _header_count(client) == "0"
    post("/cart/add", {"product_id": mug.id, "quantity": "3"})
    too_many = post(f"/cart/update/{mug.id}", {"quantity": "5"}, follow_redirects=True)
    assert "The quantity was not changed" in too_many.get_data(as_text=True)
    mug.stock = 1
    db.session.commit()
    page = client.get("/cart").get_data(as_text=True)
    assert "Only 1 left" in page
    assert "Check out" in page and "disabled" in page.split("Check out")[0][-200:]


def test_a_visitor_updates_and_removes_lines(client, post, kettle, mug):
    post("/cart/add", {"product_id": kettle.id})
    post("/cart/add", {"product_id": mug.id})
    post(f"/cart/update/{kettle.id}", {"quantity": "4"})
    assert _header_count(client) == "5"
    post(f"/cart/update/{kettle.id}", {"quantity": "0"})
    assert _header_count(client) == "1"
    post(f"/cart/remove/{mug.id}")
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_a_hidden_or_sold_out_product_is_not_added(post, client, kettle):
    kettle.listed = False
    db.session.commit()
    response = post("/cart/add", {"product_id": kettle.id}, headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert _header_count(client) == "0"


def test_sign_in_merges_the_visitors_cart_capped_by_stock(client, post, auth, shopper, kettle, mug):
    db.session.add(CartItem(user_id=shopper.id, product_id=kettle.id, quantity=1))
    db.session.add(CartItem(user_id=shopper.id, product_id=mug.id, quantity=2))
    db.session.commit()
    post("/cart/add", {"product_id": kettle.id, "quantity": "2"})
    post("/cart/add", {"product_id": mug.id, "quantity": "3"})
    page = auth.login()
    assert page.status_code == 302
    assert _account_cart(shopper) == {kettle.id: 3, mug.id: 3}  # quantities add; only 3 mugs left
    assert "Only 3 of Stoneware Mug left" in client.get("/").get_data(as_text=True)
    assert _header_count(client) == "6"
    auth.logout()
    assert _header_count(client) == "0"  # the visitor's cart went into the account, not back


def test_sign_in_drops_lines_now_hidden_or_sold_out_and_says_so(
    client, post, auth, shopper, kettle, mug
):
    post("/cart/add", {"product_id": kettle.id})
    post("/cart/add", {"product_id": mug.id})
    kettle.listed = False
    mug.stock = 0
    db.session.commit()
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert "Blue Kettle is no longer on sale, so it was left out of your cart." in page
    assert "Stoneware Mug is sold out, so it was left out of your cart." in page
    assert _account_cart(shopper) == {}


def test_registration_merges_the_visitors_cart(client, post, auth, kettle, mug):
    post("/cart/add", {"product_id": kettle.id})
    post("/cart/add", {"product_id": mug.id, "quantity": "2"})
    auth.register(email="new@example.com")
    page = client.get("/cart").get_data(as_text=True)
    assert "Blue Kettle" in page and "Stoneware Mug" in page
    assert _header_count(client) == "3"


def test_a_tampered_session_cart_is_ignored(app, client, kettle):
    with client.session_transaction() as session:
        session["cart"] = {str(kettle.id): 1000, "x": 1, "99999999999": 1, str(kettle.id + 1): 2}
    assert client.get("/cart").status_code == 200
    assert _header_count(client) == "0"  # the one well-formed line names no product
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_a_visitors_page_views_set_no_cookie(client, kettle):
    for path in ("/", "/products", f"/products/{kettle.id}", "/search?q=kettle", "/cart"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers.getlist("Set-Cookie") == [], path
    assert 'name="csrf-token"' not in client.get(f"/products/{kettle.id}").get_data(as_text=True)


def test_a_visitors_first_add_starts_the_cookie_from_the_shops_own_page(client, kettle):
    response = client.post(
        "/cart/add",
        data={"product_id": str(kettle.id), "quantity": "2"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 302
    assert any(c.startswith("session=") for c in response.headers.getlist("Set-Cookie"))
    assert _header_count(client) == "2"
    # the add started the session and its token: the next page carries it, the next add sends it
    page = client.get(f"/products/{kettle.id}").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    client.post("/cart/add", data={"product_id": str(kettle.id), "csrf_token": token})
    assert _header_count(client) == "3"


def test_a_visitors_first_add_by_fetch_hands_the_page_a_token(client, kettle):
    response = client.post(
        "/cart/add",
        data={"product_id": str(kettle.id)},
        headers={"Sec-Fetch-Site": "same-origin", "Accept": "application/json"},
    )
    again = client.post(
        "/cart/add",
        data={"product_id": str(kettle.id)},
        headers={"X-CSRFToken": response.json["csrf_token"], "Accept": "application/json"},
    )
    assert again.status_code == 200 and again.json["cart_count"] == 2


@pytest.mark.parametrize(
    "headers", [{}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}]
)
def test_a_tokenless_add_from_elsewhere_is_refused(client, kettle, headers):
    response = client.post("/cart/add", data={"product_id": str(kettle.id)}, headers=headers)
    assert response.status_code == 303  # "Your session expired", nothing added
    assert _header_count(client) == "0"


def test_a_tokenless_post_is_refused_once_the_session_has_a_token(client, kettle):
    client.get("/auth/login")  # a form page: the session now holds a token
    response = client.post(
        "/cart/add", data={"product_id": str(kettle.id)}, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert response.status_code == 303
    assert _header_count(client) == "0"
