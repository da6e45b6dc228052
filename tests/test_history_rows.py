"""The home page's rows: discovery that is served exactly as it is measured, and the shopper's own
history ("Recently viewed", "Buy it again") kept apart from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shop.extensions import db
from shop.models import Event, Order, OrderLine
from shop.recommend.evaluation import engine_scorer
from shop.services import history_lists, model_store, recommendations
from shop.services.interactions import touched_product_ids, user_history
from shop.training.runs import train_and_publish
from tests import factories
from tests.test_catalog import section
from tests.test_training import build_small_shop

START = datetime(2025, 3, 1, 12, tzinfo=UTC)


def ids(shown) -> list[int]:
    return [item.product.id for item in shown.items]


def view(user, product, when: datetime, kind: str = "view") -> None:
    db.session.add(Event(user_id=user.id, product_id=product.id, kind=kind, created_at=when))
    db.session.commit()


def order(user, products, when: datetime) -> Order:
    placed = Order(user_id=user.id, total=Decimal("1.00"), created_at=when)
    placed.lines = [OrderLine(product_id=p.id, quantity=1, unit_price=p.price) for p in products]
    db.session.add(placed)
    # Checkout records a purchase event per line, as here: what was bought is in the history.
    db.session.add_all(
        Event(user_id=user.id, product_id=p.id, kind="purchase", created_at=when) for p in products
    )
    db.session.commit()
    return placed


@pytest.fixture
def trained(app):
    shop = build_small_shop()
    shop["users"][0].set_password("correct-horse")
    db.session.commit()
    run = train_and_publish(app, evaluate=False)
    assert run.status == "succeeded", run.error
    return shop


# --- served = measured ---------------------------------------------------------------------------


def test_recommended_for_you_is_the_list_the_evaluation_scores(trained):
    engine = model_store.current_engine()
    evaluated = engine_scorer(engine, "hybrid", k=10)
    for user in trained["users"][:8]:
        served = recommendations.recommended_for(user.id, n=10)
        assert served.personalised
        assert ids(served) == list(evaluated(user.id, user_history(user.id)))


def test_a_product_the_shopper_only_viewed_leaves_recommended_for_you(trained):
    user = trained["users"][4]
    before = recommendations.recommended_for(user.id, n=10)
    glanced = before.items[0].product

    view(user, glanced, START + timedelta(days=400))  # looked at it, nothing more

    after = recommendations.recommended_for(user.id, n=10)
    assert glanced.id not in ids(after)
    assert after.items and not touched_product_ids(user.id) & set(ids(after))


def test_the_api_serves_the_same_discovery_list(client, auth, trained):
    user = trained["users"][0]
    assert auth.login(email=user.email, password="correct-horse").status_code == 302

    answer = client.get(f"/recommend?user_id={user.id}&n=10").get_json()

    served = [item["product_id"] for item in answer["recommendations"]]
    assert served == ids(recommendations.recommended_for(user.id, n=10))
    assert not set(served) & touched_product_ids(user.id)


def test_without_a_model_the_popular_fallback_leaves_out_touched_products_too(app, shopper):
    popular = [factories.make_product(f"Lamp {i}") for i in range(4)]
    for i, product in enumerate(popular):
        for _ in range(5 - i):
            factories.make_event(None, product, "click")
    view(shopper, popular[0], START)

    shown = recommendations.recommended_for(shopper.id, n=3)

    assert ids(shown) == [p.id for p in popular[1:]]


# --- Recently viewed ----------------------------------------------------------------------------


def test_recently_viewed_lists_distinct_viewed_or_clicked_products_newest_first(app, shopper):
    kettle, mug, lamp, rug = (factories.make_product(n) for n in ("Kettle", "Mug", "Lamp", "Rug"))
    view(shopper, kettle, START)
    view(shopper, mug, START + timedelta(hours=1))
    view(shopper, kettle, START + timedelta(hours=2), kind="click")  # seen again: moves up
    factories.make_event(shopper, lamp, "purchase")  # bought without a view: not a view
    view(factories.make_user(), rug, START + timedelta(hours=3))  # someone else's

    shown = history_lists.recently_viewed(shopper.id, n=5)

    assert ids(shown) == [kettle.id, mug.id]
    assert history_lists.recently_viewed(shopper.id, n=1).items[0].product == kettle


# --- Buy it again -------------------------------------------------------------------------------


def test_rebuy_scores_weigh_own_repeats_shop_wide_repeats_and_recency():
    scores = history_lists.rebuy_scores(
        orders=[3, 1, 1, 2, 2],
        days_before_latest=[0, 0, 0, 0, 180],
        buyers=[1, 10, 10, 1, 1],
        repeat_buyers=[1, 6, 0, 1, 1],
        half_life_days=90,
    )
    assert scores[2] == 0.0  # bought once, never re-bought by anyone: no sign of a re-buy
    assert scores[0] > scores[3] > scores[1] > 0.0  # own repeats count, then the shop's
    assert scores[4] == pytest.approx(scores[3] / 4)  # two half-lives older
    with pytest.raises(ValueError, match="no purchases"):
        history_lists.rebuy_scores([], [], [], [])


def test_buy_it_again_orders_by_repeats_and_recency_with_reasons(app, shopper):
    tea, soap, candle, vase = (
        factories.make_product(n) for n in ("Tea Caddy", "Olive Soap", "Candle", "Glass Vase")
    )
    other = factories.make_user()
    order(shopper, [tea, soap, vase], START)
    order(shopper, [tea], START + timedelta(days=30))
    order(shopper, [tea, candle], START + timedelta(days=60))
    # Soap is re-bought by others; the vase never is, by anyone.
    order(other, [soap, vase], START)
    order(other, [soap], START + timedelta(days=10))

    shown = history_lists.buy_it_again(shopper.id, n=5)

    assert ids(shown) == [tea.id, soap.id]
    assert shown.items[0].reason == "You have bought this 3 times"
    assert shown.items[1].reason == "50% of its buyers buy it again"
    assert shown.source == "home:buy-again"


def test_buy_it_again_is_empty_where_nobody_buys_anything_twice(app, shopper):
    kettle, mug = factories.make_product("Kettle"), factories.make_product("Mug")
    order(shopper, [kettle], START)
    order(shopper, [mug], START + timedelta(days=3))

    assert not history_lists.buy_it_again(shopper.id)
    assert not history_lists.buy_it_again(factories.make_user().id)


# --- On the page --------------------------------------------------------------------------------


def test_home_page_shows_buy_it_again_and_recently_viewed_rows(client, auth, shopper):
    tea, mug = factories.make_product("Tea Caddy"), factories.make_product("Stoneware Mug")
    order(shopper, [tea], START)
    order(shopper, [tea], START + timedelta(days=20))
    view(shopper, mug, START + timedelta(days=21))
    auth.login()

    html = client.get("/").get_data(as_text=True)

    again = section(html, "buy-again")
    assert "Buy it again" in again and "Tea Caddy" in again
    assert "You have bought this 2 times" in again and "src=home:buy-again" in again
    recent = section(html, "recently-viewed")
    assert "Stoneware Mug" in recent and "src=home:recently-viewed" in recent
    # Seen, so not a discovery (and with both products seen there is nothing left to discover).
    assert '<section id="for-you"' not in html


def test_home_page_has_no_history_rows_for_a_new_shopper(client, auth, shopper):
    factories.make_product("Teapot")
    auth.login()

    html = client.get("/").get_data(as_text=True)

    assert '<section id="buy-again"' not in html
    assert '<section id="recently-viewed"' not in html
