"""Stock at the shop's counter: checkout takes it, nothing sells that is not there, and the product
page and the cart say how much is left."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.models import CartItem, Order, OrderEvent, Product, StockMovement
from tests import factories
from tests.conftest import AuthActions
from tests.factories import checkout_form


def _stocked(name: str = "Blue Kettle", stock: int | None = 10, listed: bool = True) -> Product:
    product = factories.make_product(name=name)
    product.stock = stock
    product.listed = listed
    db.session.commit()
    return product


def _cart(user) -> dict[int, int]:
    rows = db.session.execute(
        select(CartItem.product_id, CartItem.quantity).where(CartItem.user_id == user.id)
    )
    return dict(rows.all())


def _put_in_cart(user, product, quantity=1):
    db.session.add(CartItem(user_id=user.id, product_id=product.id, quantity=quantity))
    db.session.commit()


def _stock_of(product) -> int | None:
    db.session.expire_all()
    return db.session.get(Product, product.id).stock


def _movements(product) -> list[tuple[str, int, int, int | None]]:
    rows = db.session.execute(
        select(
            StockMovement.reason,
            StockMovement.change,
            StockMovement.stock_after,
            StockMovement.order_id,
        )
        .where(StockMovement.product_id == product.id)
        .order_by(StockMovement.id)
    )
    return [tuple(row) for row in rows]


@pytest.fixture
def signed_in(auth, shopper):
    auth.login()
    return shopper


def test_checkout_takes_the_stock_and_writes_an_order_movement(client, post, signed_in):
    kettle = _stocked(stock=5)
    _put_in_cart(signed_in, kettle, 2)
    response = post("/checkout", checkout_form())
    assert response.status_code == 302
    order = db.session.scalar(select(Order).where(Order.user_id == signed_in.id))
    assert _stock_of(kettle) == 3
    assert _movements(kettle) == [("order", -2, 3, order.id)]
    [event] = db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id))
    assert (event.from_status, event.to_status) == (None, "placed")
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Placed" in page


def test_an_uncounted_product_sells_without_a_movement(post, signed_in):
    kettle = _stocked(stock=None)
    _put_in_cart(signed_in, kettle, 4)
    post("/checkout", checkout_form())
    assert db.session.scalar(select(Order).where(Order.user_id == signed_in.id)) is not None
    assert _stock_of(kettle) is None
    assert _movements(kettle) == []


def test_the_last_unit_goes_to_the_first_checkout_and_the_second_is_told_it_sold_out(app, shopper):
    kettle = _stocked(stock=1)
    other = factories.make_user(email="other@example.com")
    _put_in_cart(shopper, kettle)
    _put_in_cart(other, kettle)
    first, second = app.test_client(), app.test_client()
    AuthActions(first).login()
    AuthActions(second).login(email="other@example.com")
    from tests.conftest import csrf_token

    assert (
        first.post(
            "/checkout", data={"csrf_token": csrf_token(first, "/"), **checkout_form()}
        ).status_code
        == 302
    )
    response = second.post(
        "/checkout",
        data={"csrf_token": csrf_token(second, "/"), **checkout_form()},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert response.request.path == "/cart"
    assert "Blue Kettle has just sold out." in page
    assert "Your order was not placed." in page
    assert _cart(other) == {kettle.id: 1}
    assert db.session.scalar(select(Order).where(Order.user_id == other.id)) is None
    assert _stock_of(kettle) == 0
    assert [m[0] for m in _movements(kettle)] == ["order"]


def test_a_sold_out_checkout_answers_409_to_json_clients_and_keeps_everything(post, signed_in):
    kettle, mug = _stocked(stock=5), _stocked("Stoneware Mug", stock=1)
    _put_in_cart(signed_in, kettle, 2)
    _put_in_cart(signed_in, mug, 2)
    response = post("/checkout", checkout_form(), headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert "Only 1 of Stoneware Mug left" in response.get_json()["error"]["message"]
    assert (_stock_of(kettle), _stock_of(mug)) == (5, 1)  # the kettle's units came back
    assert _movements(kettle) == [] and _movements(mug) == []
    assert _cart(signed_in) == {kettle.id: 2, mug.id: 2}


def test_a_hidden_product_is_refused_at_add_and_at_checkout(post, signed_in):
    hidden = _stocked(stock=5, listed=False)
    response = post("/cart/add", {"product_id": hidden.id}, headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == "Blue Kettle is no longer on sale."
    assert _cart(signed_in) == {}

    _put_in_cart(signed_in, hidden)  # it was in the cart before it was hidden
    response = post("/checkout", checkout_form(), follow_redirects=True)
    assert "Blue Kettle is no longer on sale." in response.get_data(as_text=True)
    assert _cart(signed_in) == {hidden.id: 1}
    assert _stock_of(hidden) == 5


def test_adding_or_raising_a_quantity_above_the_stock_is_refused(client, post, signed_in):
    kettle = _stocked(stock=3)
    response = post("/cart/add", {"product_id": kettle.id, "quantity": "4"}, follow_redirects=True)
    assert "Only 3 of Blue Kettle left; you asked for 4." in response.get_data(as_text=True)
    assert _cart(signed_in) == {}

    post("/cart/add", {"product_id": kettle.id, "quantity": "2"})
    response = post("/cart/add", {"product_id": kettle.id, "quantity": "2"})
    assert response.status_code == 302
    assert _cart(signed_in) == {kettle.id: 2}

    response = post(f"/cart/update/{kettle.id}", {"quantity": "5"}, follow_redirects=True)
    assert "Only 3 of Blue Kettle left" in response.get_data(as_text=True)
    assert _cart(signed_in) == {kettle.id: 2}
    post(f"/cart/update/{kettle.id}", {"quantity": "3"})
    assert _cart(signed_in) == {kettle.id: 3}


def test_adding_a_sold_out_product_is_refused(post, signed_in):
    kettle = _stocked(stock=0)
    response = post("/cart/add", {"product_id": kettle.id}, follow_redirects=True)
    assert "Blue Kettle has just sold out." in response.get_data(as_text=True)
    assert _cart(signed_in) == {}


def test_the_cart_labels_each_line_and_holds_checkout_back_with_the_reason(client, signed_in):
    low, gone, hidden = (
        _stocked("Blue Kettle", stock=3),
        _stocked("Stoneware Mug", stock=0),
        _stocked("Oak Board", stock=9, listed=False),
    )
    _put_in_cart(signed_in, low)
    page = client.get("/cart").get_data(as_text=True)
    assert "Only 3 left" in page
    assert "disabled" not in page.split('action="/checkout"')[1].split("</form>")[0]

    _put_in_cart(signed_in, gone)
    _put_in_cart(signed_in, hidden)
    page = client.get("/cart").get_data(as_text=True)
    assert "Out of stock" in page and "No longer on sale" in page
    checkout_form = page.split('action="/checkout"')[1].split("</form>")[0]
    assert "disabled" in checkout_form
    assert "Stoneware Mug, Oak Board" in checkout_form


def test_the_product_page_says_how_many_are_left_and_offers_no_button_when_sold_out(client):
    kettle = _stocked(stock=2)
    page = client.get(f"/products/{kettle.id}").get_data(as_text=True)
    assert "Only 2 left" in page
    assert ">Add to cart</button>" in page

    plenty = _stocked("Stoneware Mug", stock=50)
    page = client.get(f"/products/{plenty.id}").get_data(as_text=True)
    assert "left" not in page.split('class="display-6')[1].split("</p>")[0]

    kettle.stock = 0
    db.session.commit()
    page = client.get(f"/products/{kettle.id}").get_data(as_text=True)
    assert "Out of stock" in page
    assert ">Add to cart</button>" not in page
    assert "disabled>Out of stock</button>" in page
