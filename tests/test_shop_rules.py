"""The shop's rules in every list, read from the database at request time.

One product is hidden and another sold out, both ones the shopper's history would have had
recommended, and a third is put in the shopper's cart. Then every page and endpoint that lists
products is walked, as that shopper and as a visitor: none of the three is recommended anywhere,
the hidden one is shown nowhere (its page is a 404 except to an admin), and every list keeps its
full length because the engine is asked for more.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from shop.extensions import db
from shop.models import CartItem, Category, Event, Product
from shop.services import recommendations
from shop.services.counters import recompute_product_counters
from shop.services.new_products import forget_unseen
from shop.training.runs import train_and_publish
from tests.test_catalog import section
from tests.test_training import build_small_shop

#: Extra products per category, so that every list can stay full after three are taken out.
EXTRA = {
    "Kitchen": ["Saucepan", "Colander", "Grater", "Peeler", "Sieve", "Jug"],
    "Garden": ["Shears", "Hoe", "Planter", "Sprinkler", "Kneeler", "Twine"],
    "Books": ["Memoir", "Thriller", "Essays", "Fable", "Diary", "Almanac"],
}
#: The lists on the pages, by section id, and the length each asks for.
HOME_LISTS = {"for-you": 10, "top-clicked": 5, "best-sellers": 5}
PRODUCT_LISTS = {"similar": 5, "also-bought": 5}


def card_ids(html: str) -> list[int]:
    """Product ids of the cards in a piece of a page, in order, once each."""
    return list(dict.fromkeys(int(i) for i in re.findall(r'href="/products/(\d+)', html)))


def section_or_none(html: str, section_id: str) -> str | None:
    return section(html, section_id) if f'<section id="{section_id}"' in html else None


@pytest.fixture
def shop(app):
    """The small training shop with a deeper catalogue, trained, and one signed-in shopper."""
    built = build_small_shop()
    when = datetime(2025, 2, 1, tzinfo=UTC)
    rows = []
    users = built["users"]
    for name, items in EXTRA.items():
        category = db.session.scalar(select(Category).where(Category.name == name))
        for i, item in enumerate(items):
            product = Product(
                sku=f"X{name[:3].upper()}{i:03d}",
                name=f"{item} {name}",
                description=f"A {item.lower()} from our {name.lower()} range, made to last.",
                category=category,
                brand="Acme",
                price=Decimal("4.99") + i,
                stock=20,
            )
            db.session.add(product)
            db.session.flush()
            for u in range(i % 3, len(users), 5):
                for kind, minutes in (("view", 0), ("click", 1), ("purchase", 3)):
                    rows.append(
                        {
                            "user_id": users[u].id,
                            "product_id": product.id,
                            "kind": kind,
                            "quantity": 1,
                            "created_at": when + timedelta(days=u, minutes=minutes),
                        }
                    )
    db.session.execute(insert(Event), rows)
    recompute_product_counters()
    users[0].set_password("correct-horse")
    db.session.commit()
    run = train_and_publish(app, evaluate=False)
    assert run.status == "succeeded", run.error
    forget_unseen()
    recommendations.clear_popular()
    built["shopper"] = users[0]
    return built


@pytest.fixture
def ruled(shop, client, auth):
    """Hide the shopper's first recommendation, sell out the second, cart the third."""
    shopper = shop["shopper"]
    before = recommendations.recommended_for(shopper.id, n=10)
    assert len(before.items) == 10 and before.personalised
    hidden, sold_out, carted = (item.product for item in before.items[:3])
    hidden.listed = False
    sold_out.stock = 0
    db.session.add(CartItem(user_id=shopper.id, product_id=carted.id, quantity=1))
    db.session.commit()
    assert auth.login(email=shopper.email, password="correct-horse").status_code == 302
    return {"hidden": hidden, "sold_out": sold_out, "carted": carted, "shopper": shopper}


def all_product_ids() -> list[int]:
    return list(db.session.scalars(select(Product.id).order_by(Product.id)))


def check_home(client, ruled, signed_in: bool) -> None:
    page = client.get("/").get_data(as_text=True)
    never = {ruled["hidden"].id, ruled["sold_out"].id}
    if signed_in:
        never.add(ruled["carted"].id)
    lists = dict(HOME_LISTS) if signed_in else {"top-clicked": 5, "best-sellers": 5}
    for section_id, length in lists.items():
        shown = card_ids(section(page, section_id))
        assert len(shown) == length, f"{section_id} is short: {shown}"
        assert not never & set(shown), f"{section_id} shows {never & set(shown)}"
    for section_id in ("because-liked", "buy-again", "recently-viewed", "new-in"):
        part = section_or_none(page, section_id)
        if part is not None:
            assert not never & set(card_ids(part)), section_id
    assert ruled["hidden"].name not in page


def test_no_list_recommends_hidden_sold_out_or_carted_products(client, ruled):
    check_home(client, ruled, signed_in=True)
    never = {ruled["hidden"].id, ruled["sold_out"].id, ruled["carted"].id}
    # The API first: each product page below is a view, and viewed products leave the shopper's
    # discoveries.
    answer = client.get(f"/recommend?user_id={ruled['shopper'].id}&n=10").get_json()
    served = [item["product_id"] for item in answer["recommendations"]]
    assert len(served) == 10 and not never & set(served)
    walked = 0
    for product_id in all_product_ids():
        response = client.get(f"/products/{product_id}")
        if product_id == ruled["hidden"].id:
            assert response.status_code == 404
            continue
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        for section_id, length in PRODUCT_LISTS.items():
            part = section_or_none(page, section_id)
            if part is None:
                continue
            shown = card_ids(part)
            assert not never & set(shown), f"/products/{product_id} {section_id}: {shown}"
            if section_id == "similar":
                assert len(shown) == length, f"/products/{product_id} similar is short"
        assert ruled["hidden"].name not in page
        walked += 1
    assert walked == len(all_product_ids()) - 1


def test_a_visitor_sees_the_same_rules(client, ruled):
    client.post("/auth/logout", data={"csrf_token": ""})
    client.delete_cookie("session")
    check_home(client, ruled, signed_in=False)
    assert client.get(f"/products/{ruled['hidden'].id}").status_code == 404
    similar = card_ids(
        section(client.get(f"/products/{ruled['carted'].id}").data.decode(), "similar")
    )
    assert len(similar) == PRODUCT_LISTS["similar"]
    assert not {ruled["hidden"].id, ruled["sold_out"].id} & set(similar)


def test_the_hidden_product_is_nowhere_a_shopper_looks(app, client, ruled):
    app.config["SHOP_BASE_URL"] = "https://shop.example"  # a sitemap lists absolute URLs
    hidden, sold_out = ruled["hidden"], ruled["sold_out"]
    category = hidden.category
    pages = [
        "/products",
        f"/products?category={category.slug}",
        f"/products?category={category.slug}&sort=price",
        f"/search?q={hidden.name.split()[0]}",
        f"/search?q={category.name}",
    ]
    for path in pages:
        page = client.get(path).get_data(as_text=True)
        assert hidden.name not in page, path
        assert f'href="/products/{hidden.id}' not in page, path
    suggestions = client.get(f"/search/suggest?q={hidden.name.split()[0][:4]}").get_json()
    assert hidden.name not in {item["label"] for item in suggestions["suggestions"]}
    sitemap = client.get("/sitemap.xml").get_data(as_text=True)
    assert f"/products/{hidden.id}<" not in sitemap
    assert f"/products/{sold_out.id}<" in sitemap  # sold out is still a page worth finding


def test_sold_out_products_stay_in_the_listing_marked_and_last(client, ruled):
    sold_out = ruled["sold_out"]
    page = client.get(f"/products?category={sold_out.category.slug}").get_data(as_text=True)
    ids = card_ids(page)
    assert ids[-1] == sold_out.id
    card = page[page.index(f'href="/products/{sold_out.id}') :]
    assert "Out of stock" in card[: card.index("</article>") if "</article>" in card else 2000]
    results = client.get(f"/search?q={sold_out.name.split()[0]}").get_data(as_text=True)
    assert sold_out.name in results and "Out of stock" in results


def test_hidden_page_is_a_404_for_shoppers_and_shown_to_admins_with_a_banner(
    client, auth, ruled, admin_user
):
    hidden = ruled["hidden"]
    assert client.get(f"/products/{hidden.id}").status_code == 404
    auth.logout()
    assert client.get(f"/products/{hidden.id}").status_code == 404
    assert auth.login(email=admin_user.email, password="admin-password").status_code == 302
    page = client.get(f"/products/{hidden.id}")
    assert page.status_code == 200
    assert "Hidden from shoppers." in page.get_data(as_text=True)


def test_a_product_back_on_sale_is_recommended_again_on_the_next_request(client, ruled):
    sold_out = ruled["sold_out"]
    shopper = ruled["shopper"]
    assert sold_out.id not in [
        i.product.id for i in recommendations.recommended_for(shopper.id).items
    ]
    sold_out.stock = 4
    db.session.commit()
    answer = client.get(f"/recommend?user_id={shopper.id}&n=10").get_json()
    assert sold_out.id in [item["product_id"] for item in answer["recommendations"]]


def test_a_hidden_product_is_never_the_reason_for_a_list(client, post, ruled):
    liked_first, liked_last = ruled["sold_out"], ruled["hidden"]
    liked_last.listed = True
    db.session.commit()
    for product in (liked_first, liked_last):
        assert post(f"/feedback/like/{product.id}").status_code == 302
    assert f"Because you liked {liked_last.name}" in client.get("/").get_data(as_text=True)

    liked_last.listed = False
    db.session.commit()
    page = client.get("/").get_data(as_text=True)
    assert liked_last.name not in page
    assert f"Because you liked {liked_first.name}" in page


def test_a_product_added_in_the_admin_area_is_similar_on_the_next_request(
    client, auth, post, shop, admin_user
):
    kettle = db.session.scalar(select(Product).where(Product.name == "Kettle Kitchen"))
    auth.logout()
    assert auth.login(email=admin_user.email, password="admin-password").status_code == 302
    response = post(
        "/admin/products/new",
        {
            "name": "Whistling Kettle Kitchen",
            "sku": "NEW-KETTLE",
            "description": "A whistling kettle from our kitchen range: a kettle made to last.",
            "category": str(kettle.category_id),
            "brand": "Acme",
            "price": "31.00",
            "stock": "9",
            "low_stock_threshold": "",
            "listed": "y",
        },
    )
    assert response.status_code == 302
    new = db.session.scalar(select(Product).where(Product.sku == "NEW-KETTLE"))
    auth.logout()

    # No retrain: the model in the store was fitted before the product existed.
    similar = card_ids(section(client.get(f"/products/{kettle.id}").data.decode(), "similar"))
    assert similar[0] == new.id
    own = card_ids(section(client.get(f"/products/{new.id}").data.decode(), "similar"))
    assert len(own) == PRODUCT_LISTS["similar"] and new.id not in own
    assert card_ids(section(client.get("/").data.decode(), "new-in"))[0] == new.id
