"""What the pages keep between requests never shows a shopper something stale.

Product cards are kept per product state and the engine's "similar" and "also bought" rows per model
version (``shop.product_cards``, ``recommendations._row_for_product``); a price, stock, rating or
purchase changes the very next page, and a kept row answers exactly what the engine would.
"""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from shop.extensions import db, local_cache
from shop.models import CartItem, Product
from shop.services import recommendations, stock
from shop.services.model_store import current_engine
from shop.services.new_products import unseen_for
from shop.services.products import ProductData, update_product
from shop.services.stock import StockReason
from tests import factories
from tests.test_caching import cached, counting_queries  # noqa: F401  a fixture
from tests.test_recommendations_service import signed_in, trained  # noqa: F401  fixtures

CARD = re.compile(r'<div class="card h-100 product-card.*?</div>\s*</div>\s*</div>', re.S)


def card_of(page: str, name: str) -> str:
    [card] = [c for c in CARD.findall(page) if f">{name}</a>" in c]
    return html.unescape(card)


def edit(product: Product, **changes) -> None:
    fields = ProductData.__dataclass_fields__
    data = ProductData(**{**{f: getattr(product, f) for f in fields}, **changes})
    update_product(product, data)
    db.session.commit()


def test_a_price_change_shows_on_the_next_card(client):
    kettle = factories.make_product("Blue Kettle", price="19.99")
    assert "£19.99" in card_of(client.get("/products").get_data(as_text=True), "Blue Kettle")

    edit(kettle, price=kettle.price + 5)

    card = card_of(client.get("/products").get_data(as_text=True), "Blue Kettle")
    assert "£24.99" in card and "£19.99" not in card


def test_a_sell_out_and_a_restock_show_on_the_next_card(client):
    kettle = factories.make_product("Blue Kettle")
    stock.set_count(kettle, 3, StockReason.ADJUST)
    db.session.commit()
    assert "Out of stock" not in card_of(
        client.get("/products").get_data(as_text=True), "Blue Kettle"
    )

    stock.set_count(kettle, 0, StockReason.ADJUST)
    db.session.commit()
    assert "Out of stock" in card_of(client.get("/products").get_data(as_text=True), "Blue Kettle")

    stock.adjust(kettle, 2)
    db.session.commit()
    assert "Out of stock" not in card_of(
        client.get("/products").get_data(as_text=True), "Blue Kettle"
    )


def test_a_rating_shows_on_the_next_card(client, auth, post, shopper):
    kettle = factories.make_product("Blue Kettle")
    assert "(0)" in card_of(client.get("/products").get_data(as_text=True), "Blue Kettle")
    auth.login()

    assert post(f"/feedback/rate/{kettle.id}", data={"stars": "4"}).status_code == 302

    card = card_of(client.get("/products").get_data(as_text=True), "Blue Kettle")
    assert "(1)" in card and "Rated 4.0 out of 5 from 1 rating" in card


def test_a_kept_card_links_to_the_list_it_is_shown_in(client):
    factories.make_product("Blue Kettle")
    client.get("/products")  # kept now
    listing = card_of(client.get("/products").get_data(as_text=True), "Blue Kettle")
    search = card_of(client.get("/search?q=kettle").get_data(as_text=True), "Blue Kettle")
    assert "src=browse:all" in listing and "src=search" in search
    assert "src=browse:all" not in search


def kitchen_tile(client) -> str:
    page = client.get("/").get_data(as_text=True)
    return page.split("?category=kitchen", 1)[1].split("</a>", 1)[0]


def test_category_tiles_are_kept_and_a_hidden_product_changes_them_at_once(
    cached,  # noqa: F811
    client,
):
    kettle = factories.make_product("Blue Kettle")
    factories.make_product("Red Kettle")
    assert "2 products" in kitchen_tile(client)
    with counting_queries() as statements:
        assert "2 products" in kitchen_tile(client)
    assert not any("GROUP BY categories.id" in s for s in statements)  # from the cache

    edit(kettle, listed=False)

    assert "1 product<" in kitchen_tile(client)


def similar_ids(product: Product, **kwargs) -> list[int]:
    return [item.product.id for item in recommendations.similar_products(product, **kwargs).items]


def engine_similar_ids(product: Product, blocked: set[int]) -> list[int]:
    """What the engine answers when asked with the exclusions, as the page did before the cache."""
    engine = current_engine()
    unseen = unseen_for(engine, None)
    recs = engine.similar(product.id, n=5, exclude=sorted(blocked), unseen=unseen)
    return [int(r.product_id) for r in recs]


def test_the_kept_similar_row_answers_what_the_engine_would(app, trained):  # noqa: F811
    kettle = db.session.scalar(select(Product).where(Product.sku == "KIT000"))
    first = similar_ids(kettle, n=5)
    assert len(first) == 5
    assert any("row:similar:" in key for key in _local_keys(app))
    assert first == engine_similar_ids(kettle, {kettle.id})

    # Sold out, hidden and carted products leave the kept row on the next ask, which fills past them.
    sold, hidden, carted = (db.session.get(Product, i) for i in first[:3])
    stock.set_count(sold, 0, StockReason.ADJUST)
    hidden.listed = False
    shopper = trained["users"][0]
    db.session.add(CartItem(user_id=shopper.id, product_id=carted.id, quantity=1))
    db.session.commit()

    after = similar_ids(kettle, n=5, user_id=shopper.id)
    assert len(after) == 5
    assert not {sold.id, hidden.id, carted.id} & set(after)
    assert after == engine_similar_ids(kettle, {kettle.id, sold.id, hidden.id, carted.id})


def test_a_purchase_of_the_last_unit_takes_it_out_of_the_next_product_page(
    client,
    post,
    signed_in,  # noqa: F811
    trained,  # noqa: F811
):
    kettle = db.session.scalar(select(Product).where(Product.sku == "KIT000"))
    page = client.get(f"/products/{kettle.id}").get_data(as_text=True)
    neighbour = db.session.get(Product, similar_ids(kettle, n=5)[0])
    assert f">{html.escape(neighbour.name)}</a>" in page
    stock.set_count(neighbour, 1, StockReason.ADJUST)
    db.session.commit()

    assert post("/cart/add", {"product_id": neighbour.id}).status_code == 302
    placed = post("/checkout", {**factories.checkout_form(), "total": f"{neighbour.price:.2f}"})
    assert placed.status_code == 302 and "/checkout/confirmation/" in placed.headers["Location"]

    page = client.get(f"/products/{kettle.id}").get_data(as_text=True)
    similar = page.split('id="similar"', 1)[1].split("</section>", 1)[0]
    assert f">{html.escape(neighbour.name)}</a>" not in similar
    assert similar.count('class="card h-100 product-card') == 5


def _local_keys(app) -> list[str]:
    backend = local_cache.cache
    return list(getattr(backend, "_cache", {}))
