from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shop.experiments.impressions import impression_token
from shop.extensions import db
from shop.models import CartItem, Event, Impression, Order, OrderLine, Product
from tests import factories
from tests.factories import checkout_form


def _cart(user) -> dict[int, int]:
    rows = db.session.execute(
        select(CartItem.product_id, CartItem.quantity).where(CartItem.user_id == user.id)
    )
    return dict(rows.all())


def _events(kind: str) -> list[Event]:
    return list(db.session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


@pytest.fixture
def signed_in(auth, shopper):
    auth.login()
    return shopper


@pytest.fixture
def kettle(app):
    return factories.make_product(name="Blue Kettle", price="19.99")


@pytest.fixture
def mug(app):
    return factories.make_product(name="Stoneware Mug", price="7.50")


def test_add_to_cart_stores_item_records_event_and_returns_to_product(post, signed_in, kettle):
    response = post("/cart/add", {"product_id": kettle.id, "quantity": "2"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/products/{kettle.id}")
    assert _cart(signed_in) == {kettle.id: 2}
    [event] = _events("add_to_cart")
    assert (event.user_id, event.product_id, event.quantity) == (signed_in.id, kettle.id, 2)
    assert db.session.get(Product, kettle.id).cart_count == 1


def test_adding_again_increases_quantity_up_to_99(post, signed_in, kettle):
    post("/cart/add", {"product_id": kettle.id})
    assert _cart(signed_in) == {kettle.id: 1}
    post("/cart/add", {"product_id": kettle.id, "quantity": "3"})
    assert _cart(signed_in) == {kettle.id: 4}
    post("/cart/add", {"product_id": kettle.id, "quantity": "99"})
    assert _cart(signed_in) == {kettle.id: 99}


def test_add_answers_json_for_fetch(client, post, signed_in, kettle):
    response = post(
        "/cart/add",
        {"product_id": kettle.id, "quantity": "2"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json["quantity"] == 2
    assert response.json["cart_count"] == 2
    assert "Blue Kettle" in response.json["message"]


def test_add_keeps_a_known_impression_and_ignores_an_unknown_one(post, signed_in, kettle, mug):
    impression = Impression(
        user_id=signed_in.id, source="home:for-you", product_ids=[kettle.id, mug.id]
    )
    db.session.add(impression)
    db.session.commit()
    post(
        "/cart/add", {"product_id": kettle.id, "imp": impression_token(impression.id, signed_in.id)}
    )
    post("/cart/add", {"product_id": mug.id, "imp": str(impression.id)})  # the bare id: unsigned
    post("/cart/add", {"product_id": mug.id, "imp": str(10**30)})
    post("/cart/add", {"product_id": mug.id, "imp": "not-a-number"})
    kettle_event, mug_event, *more_mug_events = _events("add_to_cart")
    assert len(more_mug_events) == 2
    assert all(e.impression_id is None for e in more_mug_events)
    assert kettle_event.impression_id == impression.id
    assert kettle_event.source == "home:for-you"
    assert mug_event.impression_id is None
    assert (
        db.session.scalar(select(CartItem.impression_id).where(CartItem.product_id == kettle.id))
        == impression.id
    )


@pytest.mark.parametrize(
    "quantity", ["0", "-1", "100", "abc", "2.5", str(10**30), "٤", "４", "1_0", "𝟒", "0x3"]
)
def test_bad_quantity_is_refused_with_400_and_nothing_stored(post, signed_in, kettle, quantity):
    response = post("/cart/add", {"product_id": kettle.id, "quantity": quantity})
    assert response.status_code == 400
    assert "quantity from 1 to 99" in response.get_data(as_text=True)
    assert _cart(signed_in) == {}
    assert _events("add_to_cart") == []


@pytest.mark.parametrize("product_id", ["424242", "0", "-3", str(2**63), str(10**30)])
def test_unknown_product_is_404(post, signed_in, product_id):
    response = post("/cart/add", {"product_id": product_id})
    assert response.status_code == 404
    assert _cart(signed_in) == {}


@pytest.mark.parametrize("path", [f"/cart/update/{2**63}", f"/cart/remove/{10**30}"])
def test_huge_ids_in_cart_urls_are_404_not_errors(post, signed_in, path):
    assert post(path, {"quantity": "1"}).status_code == 404


def test_huge_order_id_is_404(client, signed_in):
    assert client.get(f"/orders/{2**64}").status_code == 404


@pytest.mark.parametrize("page", [str(2**63), "9" * 400, "-4", "two"])
def test_any_orders_page_number_shows_a_page(client, signed_in, page):
    response = client.get(f"/orders?page={page}")
    assert response.status_code == 200
    assert "Your orders" in response.get_data(as_text=True)


def test_update_sets_quantity_and_zero_removes(client, post, signed_in, kettle, mug):
    post("/cart/add", {"product_id": kettle.id})
    post("/cart/add", {"product_id": mug.id})
    response = post(f"/cart/update/{kettle.id}", {"quantity": "5"})
    assert response.status_code == 302
    assert _cart(signed_in) == {kettle.id: 5, mug.id: 1}
    post(f"/cart/update/{mug.id}", {"quantity": "0"})
    assert _cart(signed_in) == {kettle.id: 5}
    assert post(f"/cart/update/{kettle.id}", {"quantity": "100"}).status_code == 400
    assert _cart(signed_in) == {kettle.id: 5}


def test_remove_deletes_the_line(post, signed_in, kettle, mug):
    post("/cart/add", {"product_id": kettle.id})
    post("/cart/add", {"product_id": mug.id})
    response = post(f"/cart/remove/{kettle.id}")
    assert response.status_code == 302
    assert _cart(signed_in) == {mug.id: 1}


def test_cart_page_shows_lines_and_total(client, post, signed_in, kettle, mug):
    post("/cart/add", {"product_id": kettle.id, "quantity": "2"})
    post("/cart/add", {"product_id": mug.id})
    page = client.get("/cart").get_data(as_text=True)
    assert "Blue Kettle" in page and "Stoneware Mug" in page
    assert "£39.98" in page  # kettle subtotal
    assert "£47.48" in page  # total
    assert "Check out" in page


def test_empty_cart_page_and_checkout_say_so(client, post, signed_in):
    assert "Your cart is empty." in client.get("/cart").get_data(as_text=True)
    response = post("/checkout", checkout_form(), follow_redirects=True)
    assert "Your cart is empty" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Order.id))) == 0


def test_checkout_creates_order_lines_purchase_events_and_empties_cart(
    client, post, signed_in, kettle, mug
):
    impression = Impression(user_id=signed_in.id, source="product:similar", product_ids=[mug.id])
    db.session.add(impression)
    db.session.commit()
    post("/cart/add", {"product_id": kettle.id, "quantity": "2"})
    post(
        "/cart/add",
        {
            "product_id": mug.id,
            "quantity": "3",
            "imp": impression_token(impression.id, signed_in.id),
        },
    )
    # the price changes after the add: the order uses the price at checkout
    db.session.get(Product, mug.id).price = Decimal("8.00")
    db.session.commit()

    response = post("/checkout", checkout_form())
    order = db.session.scalar(select(Order))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/checkout/confirmation/{order.id}")
    assert order.user_id == signed_in.id
    assert order.total == Decimal("63.98")
    lines = {line.product_id: line for line in order.lines}
    assert lines[kettle.id].quantity == 2 and lines[kettle.id].unit_price == Decimal("19.99")
    assert lines[mug.id].unit_price == Decimal("8.00")
    assert lines[mug.id].impression_id == impression.id
    purchases = {e.product_id: e for e in _events("purchase")}
    assert purchases[kettle.id].quantity == 2 and purchases[kettle.id].source == "checkout"
    assert purchases[mug.id].quantity == 3 and purchases[mug.id].impression_id == impression.id
    assert db.session.get(Product, kettle.id).purchase_count == 1
    assert _cart(signed_in) == {}

    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Blue Kettle" in page and "£63.98" in page
    assert f"#{order.id}" in client.get("/orders").get_data(as_text=True)


def test_failed_checkout_leaves_no_half_order(app, post, signed_in, kettle, mug, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer with the 500 page, as in production
    post("/cart/add", {"product_id": kettle.id})
    post("/cart/add", {"product_id": mug.id})
    from shop.services import carts

    calls = []
    real_record_event = carts.record_event

    def fails_on_second_line(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("event store down")
        return real_record_event(*args, **kwargs)

    monkeypatch.setattr(carts, "record_event", fails_on_second_line)
    response = post("/checkout", checkout_form())
    assert response.status_code == 500
    db.session.rollback()
    assert db.session.scalar(select(func.count(Order.id))) == 0
    assert db.session.scalar(select(func.count(OrderLine.id))) == 0
    assert _events("purchase") == []
    assert db.session.get(Product, kettle.id).purchase_count == 0
    assert _cart(signed_in) == {kettle.id: 1, mug.id: 1}


def test_someone_elses_order_is_404(client, auth, post, shopper, kettle):
    other = factories.make_user(email="other@example.com")
    order = Order(user_id=other.id, total=Decimal("19.99"))
    order.lines.append(OrderLine(product_id=kettle.id, quantity=1, unit_price=Decimal("19.99")))
    db.session.add(order)
    db.session.commit()
    auth.login()
    assert client.get(f"/orders/{order.id}").status_code == 404
    assert client.get("/orders/999999").status_code == 404
    assert f"#{order.id}" not in client.get("/orders").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/orders", "/orders/1"])
def test_pages_need_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]
    assert "next=" in response.headers["Location"]


def test_a_visitor_with_an_empty_cart_is_sent_back_to_the_cart(client, post):
    response = post("/checkout", checkout_form(email="guest@example.com"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/cart")
    assert db.session.scalar(select(func.count(Order.id))) == 0


@pytest.mark.parametrize("path", ["/cart/add", "/cart/update/1", "/cart/remove/1", "/checkout"])
def test_posts_without_csrf_token_are_refused(client, signed_in, kettle, path):
    client.post("/cart/add", data={"product_id": kettle.id})  # no token: refused too
    response = client.post(path, data={"product_id": kettle.id, "quantity": "1"})
    assert response.status_code == 303  # back to the page, with a message (test_session_expired)
    page = client.get(response.headers["Location"], follow_redirects=True)
    assert "Your session expired" in page.get_data(as_text=True)
    assert _cart(signed_in) == {}


def test_state_changes_are_not_gets(client, signed_in, kettle):
    assert client.get("/cart/add").status_code == 405
    assert client.get("/checkout/review").status_code == 302  # only shows the kept choices


def test_a_database_error_at_checkout_answers_503_and_keeps_the_cart(
    post, signed_in, kettle, monkeypatch
):
    from sqlalchemy.exc import OperationalError

    from shop.services import carts

    post("/cart/add", {"product_id": kettle.id})

    def locked(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(carts, "record_event", locked)
    response = post("/checkout", checkout_form())
    assert response.status_code == 503
    assert "cart is unchanged" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Order.id))) == 0
    assert _cart(signed_in) == {kettle.id: 1}
