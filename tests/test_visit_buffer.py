"""Views and clicks written in batches off the request (shop.services.visits): none is lost when a
worker stops normally, the home page shows them at once, and a batch never half-writes."""

from __future__ import annotations

import signal
import sqlite3
import urllib.request

import pytest
from sqlalchemy import func, select

from bench.servers import flask, gunicorn_process, shop_env
from shop.extensions import db
from shop.models import Event, Product, User
from shop.services import visits
from tests import factories
from tests.conftest import AuthActions


def event_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Event.id)))


@pytest.fixture
def batching(app):
    """Visits wait in the buffer: nothing writes them by time during a test."""
    app.config["SHOP_VISIT_FLUSH_SECONDS"] = 300
    yield visits.buffer_for(app)
    visits.buffer_for(app).stop()


def test_views_wait_and_the_home_page_writes_them_first(app, client, batching):
    kettle = factories.make_product(name="Blue Kettle")
    lamp = factories.make_product(name="Paper Lamp", category="Lighting")
    shopper = factories.make_user(email="shopper@example.com")
    AuthActions(client).login()
    client.get("/orders")
    before, version = event_count(), shopper.activity_version

    assert client.get(f"/products/{kettle.id}?src=home:picks").status_code == 200
    assert client.get(f"/products/{lamp.id}").status_code == 200
    assert client.get(f"/products/{lamp.id}").status_code == 200  # a reload counts once
    assert event_count() == before and batching.waiting() == 3  # two views and a click

    # A server ends each request's transaction; the test client's requests share the test's
    # session, whose sign-in left one open that would hold the writer's connection off.
    db.session.commit()
    home = client.get("/").get_data(as_text=True)
    assert batching.waiting() == 0
    rows = db.session.execute(
        select(Event.kind, Event.product_id, Event.source, Event.user_id)
        .where(Event.id > 0)
        .order_by(Event.id.desc())
        .limit(3)
    ).all()
    assert sorted(rows) == sorted(
        [
            ("view", kettle.id, None, shopper.id),
            ("click", kettle.id, "home:picks", shopper.id),
            ("view", lamp.id, None, shopper.id),
        ]
    )
    db.session.refresh(shopper)
    assert shopper.activity_version > version
    for product in (kettle, lamp):  # in "Recently viewed" on the very page that wrote them
        assert f"/products/{product.id}?src=home:recently-viewed" in home
    counts = db.session.execute(
        select(Product.view_count, Product.click_count).where(Product.id == kettle.id)
    ).one()
    assert tuple(counts) == (1, 1)


def test_a_batch_leaves_out_deleted_products_and_accounts_and_writes_the_rest(app, batching):
    kept = factories.make_product(name="Kept Mug")
    gone = factories.make_product(name="Gone Mug")
    stays, leaves = factories.make_user(), factories.make_user()
    stays_id, leaves_id, gone_id = stays.id, leaves.id, gone.id
    before = event_count()
    visits.record(
        app,
        [
            visits.Visit(kept.id, "view", stays_id),
            visits.Visit(gone_id, "view", stays_id),
            visits.Visit(kept.id, "view", leaves_id),
            visits.Visit(kept.id, "click", None, "home:top", impression_id=999_999),
        ],
    )
    db.session.delete(db.session.get(Product, gone_id))
    db.session.delete(db.session.get(User, leaves_id))
    db.session.commit()
    assert batching.flush() == 2
    rows = db.session.execute(
        select(Event.product_id, Event.user_id, Event.impression_id).where(
            Event.id > 0, Event.product_id == kept.id
        )
    ).all()
    # the click's experiment list no longer exists: the click stays, without it
    assert sorted(rows, key=str) == sorted(
        [(kept.id, stays_id, None), (kept.id, None, None)], key=str
    )
    assert event_count() == before + 2


@pytest.mark.load
def test_views_waiting_in_the_workers_are_written_when_gunicorn_stops_with_sigterm(tmp_path):
    env = shop_env(tmp_path, SHOP_VISIT_FLUSH_SECONDS="300", SHOP_VISIT_BATCH="100000")
    flask(env, "db", "upgrade")
    flask(env, "seed", "--users", "5", "--products", "40", "--events", "20", "--quiet")
    with sqlite3.connect(tmp_path / "shop.db") as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM products WHERE listed ORDER BY id")]
        before = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    pages = ids[:30]
    with gunicorn_process(env, workers=2) as (base, proc):
        for product_id in pages:
            with urllib.request.urlopen(f"{base}/products/{product_id}?src=test", timeout=30) as r:
                assert r.status == 200
        with sqlite3.connect(tmp_path / "shop.db") as conn:
            waiting = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        assert waiting == before  # all in the workers' buffers
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    with sqlite3.connect(tmp_path / "shop.db") as conn:
        written = conn.execute(
            "SELECT kind, count(*) FROM events WHERE id > ? GROUP BY kind ORDER BY kind",
            (0,),
        ).fetchall()
        after = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    assert after - before == 2 * len(pages), written  # a view and a click for each page
