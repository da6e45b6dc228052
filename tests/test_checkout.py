"""Checkout: address, delivery and payment, a review with the server's total, the confirmation
page and mail; guest checkout and an account made from the order."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import GUEST_EMAIL, CartItem, Event, Order, User
from tests import factories
from tests.factories import checkout_form


@pytest.fixture
def kettle(app):
    return factories.make_product(name="Blue Kettle", price="19.99")


@pytest.fixture
def lamp(app):
    return factories.make_product(name="Brass Lamp", price="45.00")


@pytest.fixture
def signed_in(auth, shopper):
    auth.login()
    return shopper


@pytest.fixture
def inbox(monkeypatch):
    sent = []
    import shop.cart.routes as routes

    monkeypatch.setattr(routes, "send_later", lambda *mail: sent.append(mail))
    return sent


def _orders() -> int:
    return db.session.scalar(select(func.count(Order.id)))


def test_the_details_page_starts_with_the_first_options(client, post, signed_in, kettle):
    post("/cart/add", {"product_id": kettle.id})
    page = client.get("/checkout").get_data(as_text=True)
    assert "Delivery address" in page and "Standard delivery" in page and "Bank transfer" in page
    assert "£3.95, free over £50.00" in page


def test_an_empty_cart_cannot_check_out(client, signed_in):
    response = client.get("/checkout")
    assert response.status_code == 302 and response.headers["Location"].endswith("/cart")


def test_details_then_review_then_place(client, post, signed_in, kettle, inbox):
    post("/cart/add", {"product_id": kettle.id})
    details = checkout_form(delivery="standard")
    response = post("/checkout/review", details)
    assert response.status_code == 302 and response.headers["Location"].endswith("/checkout/review")
    review = client.get("/checkout/review").get_data(as_text=True)
    assert "£23.94" in review  # 19.99 + 3.95 standard delivery
    assert 'name="total" value="23.94"' in review
    placed = post("/checkout", {**details, "total": "23.94"})
    order = db.session.scalar(select(Order))
    assert placed.headers["Location"].endswith(f"/checkout/confirmation/{order.id}")
    assert order.total == Decimal("23.94") and order.delivery_cost == Decimal("3.95")
    assert (order.ship_city, order.ship_postcode, order.delivery_option) == (
        "Bristol",
        "BS1 4DJ",
        "standard",
    )
    assert order.email == "shopper@example.com" and order.payment_method == "bank_transfer"
    page = client.get(placed.headers["Location"]).get_data(as_text=True)
    assert f"order #{order.id} is placed" in page
    assert "Sort code" in page and f"ORDER-{order.id}" in page  # the bank details from config
    assert "1 High Street" in page and "Blue Kettle" in page
    [(to, subject, body)] = inbox
    assert to == "shopper@example.com" and f"#{order.id}" in subject
    assert "Blue Kettle" in body and "£23.94" in body and "Sort code" in body


def test_delivery_is_free_over_the_threshold(post, signed_in, kettle, lamp):
    post("/cart/add", {"product_id": lamp.id, "quantity": "2"})
    post("/checkout", checkout_form(delivery="standard"))
    order = db.session.scalar(select(Order))
    assert order.delivery_cost == Decimal("0.00") and order.total == Decimal("90.00")


def test_the_address_is_remembered_for_next_time(client, post, signed_in, kettle):
    post("/cart/add", {"product_id": kettle.id})
    post("/checkout", checkout_form(line1="22 Acacia Avenue"))
    post("/cart/add", {"product_id": kettle.id})
    page = client.get("/checkout").get_data(as_text=True)
    assert 'value="22 Acacia Avenue"' in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("line1", "x" * 101, "Use at most 100 characters."),
        ("name", "", "Enter the name to deliver to."),
        ("postcode", "<script>", "letters, digits, spaces and dashes"),
        ("country", "XX", "Choose a country we deliver to."),
        ("delivery", "teleport", "Choose one of the delivery options."),
        ("payment", "bitcoin", "Choose one of the payment methods offered."),
    ],
)
def test_bad_input_gets_a_message_and_no_order(post, signed_in, kettle, field, value, message):
    post("/cart/add", {"product_id": kettle.id})
    response = post("/checkout", checkout_form(**{field: value}))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _orders() == 0
    assert db.session.scalar(select(func.count(CartItem.id))) == 1


def test_a_payment_method_switched_off_is_refused(app, post, signed_in, kettle):
    app.config["SHOP_PAYMENT_METHODS"] = ["bank_transfer"]
    post("/cart/add", {"product_id": kettle.id})
    response = post("/checkout", checkout_form(payment="invoice"))
    assert response.status_code == 400
    assert "Choose one of the payment methods offered." in response.get_data(as_text=True)
    assert "Invoice" not in response.get_data(as_text=True)
    assert _orders() == 0


def test_pay_on_collection_only_with_collection(post, signed_in, kettle):
    post("/cart/add", {"product_id": kettle.id})
    response = post("/checkout", checkout_form(delivery="express", payment="on_collection"))
    assert response.status_code == 400
    assert "only for orders collected from the shop" in response.get_data(as_text=True)
    assert _orders() == 0
    post("/checkout", checkout_form(delivery="collection", payment="on_collection"))
    assert _orders() == 1


def test_a_changed_total_is_refused(post, signed_in, kettle):
    post("/cart/add", {"product_id": kettle.id})
    response = post("/checkout", checkout_form(total="0.01"))
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "The total is now £19.99" in page and 'name="total" value="19.99"' in page
    assert _orders() == 0


def test_a_price_change_after_the_review_is_refused(post, signed_in, kettle):
    post("/cart/add", {"product_id": kettle.id})
    kettle.price = Decimal("25.00")
    db.session.commit()
    response = post("/checkout", checkout_form(total="19.99"))
    assert response.status_code == 409 and _orders() == 0


def test_a_guest_checks_out_with_an_email(client, post, kettle, inbox):
    post("/cart/add", {"product_id": kettle.id, "quantity": "2"})
    missing = post("/checkout", checkout_form())
    assert missing.status_code == 400
    assert "Enter your email address" in missing.get_data(as_text=True)
    placed = post("/checkout", checkout_form(email="Guest@Example.com", total="39.98"))
    order = db.session.scalar(select(Order))
    assert order.email == "guest@example.com" and order.is_guest
    assert order.user.email == GUEST_EMAIL and order.user.password_hash is None
    page = client.get(placed.headers["Location"]).get_data(as_text=True)
    assert f"order #{order.id} is placed" in page and "Create my account" in page
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)
    purchase = db.session.scalar(select(Event).where(Event.kind == "purchase"))
    assert purchase.user_id is None  # a visitor's event, not the guest row's
    assert inbox[0][0] == "guest@example.com"


def test_another_browser_cannot_see_a_guests_confirmation(app, post, kettle):
    post("/cart/add", {"product_id": kettle.id})
    post("/checkout", checkout_form(email="guest@example.com"))
    order = db.session.scalar(select(Order))
    assert app.test_client().get(f"/checkout/confirmation/{order.id}").status_code == 404


def test_a_guest_makes_an_account_from_the_order(client, post, kettle):
    post("/cart/add", {"product_id": kettle.id})
    post("/checkout", checkout_form(email="guest@example.com"))
    order = db.session.scalar(select(Order))
    response = post(
        f"/auth/register/from-order/{order.id}",
        {"display_name": "Gus Guest", "password": "correct-horse"},
    )
    assert response.headers["Location"].endswith(f"/orders/{order.id}")
    user = db.session.scalar(select(User).where(User.email == "guest@example.com"))
    db.session.refresh(order)
    assert order.user_id == user.id and user.saved_address["line1"] == "1 High Street"
    assert f"Order #{order.id}" in client.get(f"/orders/{order.id}").get_data(as_text=True)


def test_an_account_from_an_order_refuses_a_taken_email(client, post, kettle):
    factories.make_user(email="guest@example.com")
    post("/cart/add", {"product_id": kettle.id})
    post("/checkout", checkout_form(email="guest@example.com"))
    order = db.session.scalar(select(Order))
    response = post(
        f"/auth/register/from-order/{order.id}",
        {"display_name": "Gus Guest", "password": "correct-horse"},
    )
    assert "/auth/login" in response.headers["Location"]
    db.session.refresh(order)
    assert order.is_guest


def test_nobody_signs_in_as_the_guest_customer(auth, post, kettle):
    post("/cart/add", {"product_id": kettle.id})
    post("/checkout", checkout_form(email="guest@example.com"))
    assert auth.login(email=GUEST_EMAIL, password="").status_code != 302
