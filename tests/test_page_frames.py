"""A product page built once for every shopper, with holes for each shopper's own parts
(shop.page_frames): the page another shopper's visit built, filled for this one, is exactly the
page built for them, and nothing of the first shopper shows in it."""

import re

import pytest

from shop.extensions import db
from shop.models import Product
from shop.page_frames import HEADER
from shop.services import stock
from tests import factories
from tests.conftest import AuthActions
from tests.test_caching import counting_queries
from tests.test_shopper_pages import TOKEN_RE, send, token_of, without_tokens


@pytest.fixture
def shop(app):
    """Shopper pages are not kept here: every request is the product page's first sight."""
    app.config["SHOP_SHOPPER_PAGE_CACHE_SECONDS"] = 0
    kettle = factories.make_product(name="Blue Kettle", category="Kitchen", price="19.99")
    toaster = factories.make_product(name="Steel Toaster", category="Kitchen", price="29.00")
    lamp = factories.make_product(name="Paper Lamp", category="Lighting", price="12.00")
    for product in (kettle, toaster, lamp):
        stock.set_count(product, 20)
    factories.make_user(email="alice@example.com", name="Alice Framewright")
    factories.make_user(email="bob@example.com", name="Bob Holefiller")
    db.session.commit()
    return {"kettle": kettle.id, "toaster": toaster.id, "lamp": lamp.id}


def shopper(app, email: str, password: str = "correct-horse"):
    client = app.test_client()
    AuthActions(client).login(email=email, password=password)
    client.get("/orders")  # the welcome message flashed at sign-in
    return client


def page(client, path: str) -> tuple[str, str | None]:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True), response.headers.get(HEADER)


def add_to_cart(client, product_id: int, quantity: int, token: str) -> None:
    response = send(client, "/cart/add", token, {"product_id": product_id, "quantity": quantity})
    assert response.status_code in (302, 303)


def test_a_frame_one_shopper_built_gives_another_exactly_their_own_page(app, shop):
    kettle, lamp = shop["kettle"], shop["lamp"]
    alice, bob = shopper(app, "alice@example.com"), shopper(app, "bob@example.com")
    alice_html, how = page(alice, f"/products/{kettle}")
    assert how == "built"
    alice_token = token_of(alice_html)
    send(alice, f"/feedback/rate/{kettle}", alice_token, {"stars": "5", "review": "Alice's words"})
    send(alice, f"/feedback/like/{kettle}", alice_token)
    alice.get("/orders")  # their messages: a page with a message is never a frame
    # Bob has his own rating, a like, a cart (of a product the page does not list), and came
    # from a list; his rating moved the shop's state, so Alice builds the frame again first.
    bob_token = token_of(page(bob, f"/products/{lamp}")[0])
    send(bob, f"/feedback/rate/{kettle}", bob_token, {"stars": "2", "review": "Bob & his <b>"})
    add_to_cart(bob, lamp, 3, bob_token)
    bob.get("/orders")
    assert page(alice, f"/products/{kettle}?src=home:picks")[1] == "built"

    filled, how = page(bob, f"/products/{kettle}?src=product:similar")
    assert how == "filled"
    # Alice's review is on the page for everyone, with her name; nothing else of hers is
    assert "Sign out (Bob Holefiller)" in filled and "Alice Framewright)" not in filled
    assert alice_token not in filled
    form = filled[
        filled.index('id="rate-title"') : filled.index("</form>", filled.index('id="rate-title"'))
    ]
    assert "Bob &amp; his &lt;b&gt;" in form and "Alice" not in form
    assert token_of(filled) == bob_token  # every form carries Bob's own token, which works
    assert 'name="src" value="product:similar"' in filled
    assert re.search(r'id="star2" value="2"\s+checked', filled)
    assert "Update rating" in filled
    assert re.search(r"data-cart-count>3<", filled)
    assert 'aria-pressed="false"' in filled  # Alice likes it, Bob does not: the count is 1
    assert re.search(r"data-like-count[^>]*>1<", filled)
    assert send(bob, f"/feedback/like/{kettle}", token_of(filled)).status_code == 302

    # The same page built whole for Bob is the filled one, byte for byte but for the token.
    app.config["SHOP_PAGE_FRAMES"] = False
    bob.get("/orders")  # the like's message
    whole, how = page(bob, f"/products/{kettle}?src=product:similar")
    assert how is None
    app.config["SHOP_PAGE_FRAMES"] = True
    filled_again, how = page(bob, f"/products/{kettle}?src=product:similar")
    assert how == "filled"
    assert "Liked" in filled_again and re.search(r"data-like-count[^>]*>2<", filled_again)
    assert without_tokens(filled_again) == without_tokens(whole)


def test_a_filled_page_costs_four_statements_and_reads_no_product_row(app, shop):
    kettle = shop["kettle"]
    alice, bob = shopper(app, "alice@example.com"), shopper(app, "bob@example.com")
    assert page(alice, f"/products/{kettle}")[1] == "built"
    page(bob, f"/products/{shop['lamp']}")  # Bob's view of the lamp is written first
    with counting_queries() as statements:
        html, how = page(bob, f"/products/{kettle}")
    assert how == "filled" and "Blue Kettle" in html
    reads = [s for s in statements if not s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    # the user, the shop's state, the shopper's rating and like with the like count, the cart
    # (the view's write and the transaction's BEGIN/COMMIT come on top)
    assert len([s for s in reads if s.lstrip().upper().startswith("SELECT")]) <= 4, reads
    assert not any("FROM products LEFT OUTER JOIN categories" in s for s in reads)


def test_a_change_to_the_shop_builds_the_frame_again(app, shop):
    kettle = shop["kettle"]
    alice, bob = shopper(app, "alice@example.com"), shopper(app, "bob@example.com")
    page(alice, f"/products/{kettle}")
    assert page(bob, f"/products/{kettle}")[1] == "filled"
    stock.set_count(db.session.get(Product, kettle), 2)  # as an admin's stock count does
    db.session.commit()
    html, how = page(bob, f"/products/{kettle}")
    assert how == "built" and "Only 2 left" in html


def test_no_frame_for_an_admin_an_experiment_link_or_a_cart_holding_a_listed_product(
    app, shop, admin_user
):
    kettle, toaster = shop["kettle"], shop["toaster"]
    alice, bob = shopper(app, "alice@example.com"), shopper(app, "bob@example.com")
    html, how = page(alice, f"/products/{kettle}")
    assert how == "built"
    # the toaster is in the kettle page's rows (same category): Bob, with it in his cart, gets a
    # page of his own whose rows leave it out, and it is never kept as the frame
    assert f"/products/{toaster}" in html
    add_to_cart(bob, toaster, 1, token_of(page(bob, f"/products/{toaster}")[0]))
    bob.get("/orders")
    mine, how = page(bob, f"/products/{kettle}")
    assert how is None and f'href="/products/{toaster}' not in mine.split("Similar products")[-1]
    assert page(alice, f"/products/{kettle}")[1] == "filled"

    admin = shopper(app, "admin@example.com", "admin-password")
    assert page(admin, f"/products/{kettle}")[1] is None
    assert page(alice, f"/products/{kettle}?imp=anything")[1] is None
    assert len(set(TOKEN_RE.findall(page(admin, f"/products/{kettle}")[0]))) == 1
