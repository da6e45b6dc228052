"""A signed-in shopper's searches are kept, and their words are readable as a recommendation signal."""

from __future__ import annotations

from sqlalchemy import func, select

from shop.extensions import db
from shop.models import SearchQuery
from shop.search.history import recent_search_terms, record_search
from tests import factories


def _stored() -> list[tuple[str, int]]:
    rows = db.session.execute(
        select(SearchQuery.text, SearchQuery.result_count).order_by(SearchQuery.id)
    )
    return [tuple(row) for row in rows]


def test_a_signed_in_shoppers_search_is_recorded_with_its_result_count(client, auth, shopper):
    factories.make_product("Blue Kettle")
    auth.login()

    client.get("/search?q=Blue+KETTLES")
    client.get("/search?q=zzqqxx")

    assert _stored() == [("Blue KETTLES", 1), ("zzqqxx", 0)]


def test_turning_a_page_or_ticking_a_facet_is_not_another_search(client, auth, shopper):
    factories.make_product("Blue Kettle")
    auth.login()

    client.get("/search?q=kettle")
    client.get("/search?q=kettle&category=kitchen")
    client.get("/search?q=Kettle&page=2")

    assert _stored() == [("kettle", 1)]


def test_visitors_searches_are_not_recorded(client):
    factories.make_product("Blue Kettle")

    client.get("/search?q=kettle")
    client.get("/search/suggest?q=kettle")

    assert db.session.scalar(select(func.count(SearchQuery.id))) == 0


def test_recent_search_terms_are_distinct_words_newest_first(app, shopper):
    other = factories.make_user(email="other@example.com")
    for text in ("blue kettles", "Garden LANTERN", "kettle", "blue mug"):
        record_search(shopper.id, text, 1)
        db.session.commit()
    record_search(other.id, "secret", 1)
    db.session.commit()

    assert recent_search_terms(shopper.id, limit=10) == [
        "blue",
        "mug",
        "kettle",
        "garden",
        "lantern",
        "kettles",
    ]
    assert recent_search_terms(shopper.id, limit=2) == ["blue", "mug"]
    assert recent_search_terms(shopper.id, limit=0) == []
    assert recent_search_terms(other.id + 100) == []


def test_a_search_without_words_is_not_recorded(app, shopper):
    assert record_search(shopper.id, "  '\" *  ", 0) is None
    assert record_search(shopper.id, "kettle", 3) is not None
