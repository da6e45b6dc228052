"""Cached figures: the dashboard and the popular lists come from Flask-Caching until they are
forgotten by name, and what the cache returns is what SQL says.

The app here uses the shop's default cache (files every process shares) in a temporary folder; the
other tests run with caching off so that a count they change shows at once.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from shop.extensions import cache, db
from shop.models import Event
from shop.services import analytics, recommendations
from shop.services.caches import forget_shop_figures
from shop.services.counters import recompute_product_counters
from shop.training.runs import train_and_publish
from tests import factories
from tests.test_analytics import build_analytics_shop
from tests.test_training import build_small_shop

FUNNEL_CLICKS = re.compile(r"<td>Clicked</td><td[^>]*>(\d+)</td>")


@pytest.fixture
def cached(app, tmp_path):
    app.config.update(
        CACHE_TYPE="FileSystemCache", CACHE_DIR=str(tmp_path / "cache"), CACHE_DEFAULT_TIMEOUT=60
    )
    cache.init_app(app)
    return app


@pytest.fixture
def shop_data(cached):
    return build_analytics_shop()


@pytest.fixture
def admin_client(cached, client, auth, admin_user):
    auth.login(email="admin@example.com", password="admin-password")
    return client


@contextmanager
def counting_queries():
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def clicks_in(html: str) -> int:
    return int(FUNNEL_CLICKS.search(html[html.index('id="funnel-table"') :]).group(1))


def sql_clicks() -> int:
    return db.session.scalar(select(func.count(Event.id)).where(Event.kind == "click"))


def test_a_dashboard_reload_in_the_cache_period_runs_no_figure_queries(admin_client, shop_data):
    with counting_queries() as first:
        html_first = admin_client.get("/admin/").get_data(as_text=True)
    with counting_queries() as again:
        html_again = admin_client.get("/admin/").get_data(as_text=True)
    assert len(first) >= 10
    assert len(again) <= 2  # the signed-in admin's row, nothing for the figures
    assert clicks_in(html_again) == clicks_in(html_first) == sql_clicks()
    fresh = analytics.dashboard()
    kept = analytics.cached_dashboard()
    assert kept["totals"] == fresh["totals"] and kept["charts"] == fresh["charts"]
    assert kept["top20"] == fresh["top20"] and kept["funnel"] == fresh["funnel"]


def test_each_date_range_is_cached_on_its_own(admin_client, shop_data):
    all_time = admin_client.get("/admin/").get_data(as_text=True)
    one_day = admin_client.get("/admin/?start=2024-03-12&end=2024-03-12").get_data(as_text=True)
    assert clicks_in(one_day) < clicks_in(all_time)


def test_new_events_show_once_the_figures_are_forgotten(admin_client, shop_data):
    before = clicks_in(admin_client.get("/admin/").get_data(as_text=True))
    factories.make_event(None, shop_data["garden"][2], "click")
    assert clicks_in(admin_client.get("/admin/").get_data(as_text=True)) == before  # cached
    forget_shop_figures()
    assert clicks_in(admin_client.get("/admin/").get_data(as_text=True)) == before + 1


def test_the_popular_lists_are_cached_until_forgotten(cached):
    low, high = factories.make_product("Low"), factories.make_product("High")
    factories.make_event(None, low, "click")
    recompute_product_counters()
    db.session.commit()
    assert [p.id for p in recommendations.top_clicked(2)] == [low.id, high.id]
    for _ in range(3):
        factories.make_event(None, high, "click")
    recompute_product_counters()
    db.session.commit()
    assert [p.id for p in recommendations.top_clicked(2)] == [low.id, high.id]  # cached
    recommendations.clear_popular()
    assert [p.id for p in recommendations.top_clicked(2)] == [high.id, low.id]


def test_a_retrain_forgets_the_cached_figures(cached):
    build_small_shop()
    figures = analytics.cached_dashboard()
    popular = recommendations.popular_ids("click", 5)
    stamp = figures["computed_at"]
    assert analytics.cached_dashboard()["computed_at"] == stamp
    run = train_and_publish(cached, evaluate=False)
    assert run.status == "succeeded", run.error
    assert analytics.cached_dashboard()["computed_at"] > stamp
    assert recommendations.popular_ids("click", 5) == popular  # same data, freshly read
