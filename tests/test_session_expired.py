"""A form sent after the session expired (a missing or stale CSRF token) does nothing, and the
shopper is sent back to its page with a message and what they typed, or to sign in and back."""

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import CartItem, Like, Order, Rating
from tests import factories
from tests.conftest import csrf_token
from tests.factories import checkout_form

EXPIRED = "Your session expired"


@pytest.fixture
def kettle(app):
    return factories.make_product(name="Blue Kettle", price="19.99")


@pytest.fixture
def signed_in(auth, shopper):
    auth.login()
    return shopper


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_an_expired_rating_comes_back_filled_in(client, signed_in, kettle):
    response = client.post(
        f"/feedback/rate/{kettle.id}",
        data={"csrf_token": "stale", "stars": "4", "review": "Boils in a minute."},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/products/{kettle.id}#rate")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"{EXPIRED}, so nothing was changed; we kept your rating" in page
    assert "checked" in page.split('id="star4"')[1][:80]
    assert "Boils in a minute." in page
    assert _count(Rating) == 0
    # kept once: a reload shows the form as it was
    assert "Boils in a minute." not in client.get(f"/products/{kettle.id}").get_data(as_text=True)


def test_an_expired_add_to_cart_keeps_the_quantity(client, signed_in, kettle):
    response = client.post(
        "/cart/add", data={"csrf_token": "", "product_id": str(kettle.id), "quantity": "3"}
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "we kept your quantity" in page
    assert 'name="quantity" value="3"' in page
    assert _count(CartItem) == 0


def test_an_expired_cart_update_keeps_the_line_quantity(client, post, signed_in, kettle):
    post("/cart/add", {"product_id": kettle.id})
    response = client.post(
        f"/cart/update/{kettle.id}", data={"csrf_token": "stale", "quantity": "7"}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/cart")
    page = client.get("/cart").get_data(as_text=True)
    assert "we kept your new quantity" in page
    assert f'id="qty-{kettle.id}"' in page and 'value="7"' in page
    assert db.session.scalar(select(CartItem.quantity)) == 1


def test_an_expired_place_order_keeps_the_address(client, post, signed_in, kettle):
    post("/cart/add", {"product_id": kettle.id})
    response = client.post(
        "/checkout", data={"csrf_token": "stale", **checkout_form(line1="9 Elm Row")}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/checkout")
    page = client.get("/checkout").get_data(as_text=True)
    assert "we kept your address and choices" in page and 'value="9 Elm Row"' in page
    assert _count(Order) == 0


def test_an_expired_like_says_so(client, signed_in, kettle):
    response = client.post(f"/feedback/like/{kettle.id}", data={})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"{EXPIRED}, so nothing was changed: please try again." in page
    assert _count(Like) == 0


def test_a_signed_out_shopper_signs_in_and_gets_the_rating_back(app, auth, shopper, kettle):
    client = app.test_client()  # the session cookie is gone: signed out, no token
    response = client.post(
        f"/feedback/rate/{kettle.id}", data={"stars": "5", "review": "Worth it."}
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "/auth/login" in location and f"next=/products/{kettle.id}" in location.replace(
        "%2F", "/"
    )
    login_page = client.get(location).get_data(as_text=True)
    assert "Your session expired, so you are signed out" in login_page
    signed = client.post(
        "/auth/login",
        data={
            "csrf_token": csrf_token(client, location),
            "email": "shopper@example.com",
            "password": "correct-horse",
            "next": f"/products/{kettle.id}",
        },
    )
    assert signed.headers["Location"].endswith(f"/products/{kettle.id}")
    page = client.get(signed.headers["Location"]).get_data(as_text=True)
    assert "Worth it." in page
    assert _count(Rating) == 0


def test_fetch_gets_json_and_a_fresh_token_to_send_again(client, signed_in, kettle):
    json = {"Accept": "application/json"}
    response = client.post(
        f"/feedback/rate/{kettle.id}", data={"csrf_token": "stale", "stars": "4"}, headers=json
    )
    assert response.status_code == 400
    assert "we kept your rating" in response.json["error"]["message"]
    again = client.post(
        f"/feedback/rate/{kettle.id}",
        data={"stars": "4"},
        headers={**json, "X-CSRFToken": response.json["csrf_token"]},
    )
    assert again.status_code == 200 and _count(Rating) == 1


def test_fetch_signed_out_gets_401_with_the_sign_in_address(app, kettle):
    response = app.test_client().post(
        f"/feedback/rate/{kettle.id}", data={"stars": "4"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 401
    assert "/auth/login?next=" in response.json["login_url"]


def test_a_cross_site_post_keeps_nothing(client, signed_in, kettle):
    response = client.post(
        f"/feedback/rate/{kettle.id}",
        data={"stars": "1", "review": "Planted by another site."},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Planted by another site." not in page
    assert "please try again" in page


def test_fetch_keeps_nothing_in_the_session_the_page_still_holds_it(client, signed_in, kettle):
    client.post(
        "/cart/add",
        data={"csrf_token": "stale", "product_id": str(kettle.id), "quantity": "5"},
        headers={"Accept": "application/json"},
    )
    page = client.get(f"/products/{kettle.id}").get_data(as_text=True)
    assert 'name="quantity" value="1"' in page  # not pre-filled on a later visit
