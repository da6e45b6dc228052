"""Load: simulated shoppers against gunicorn with several workers sharing one SQLite file.

The run is bounded (fixed time and request budget, loopback only). Afterwards the database must hold
exactly the ratings, likes and orders the server accepted: nothing lost, nothing twice, and no 5xx.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest

from bench.loadgen import run_load
from bench.servers import gunicorn, prepare_shop, shop_env

pytestmark = [pytest.mark.load, pytest.mark.slow]


def test_concurrent_shoppers_lose_no_writes_and_get_no_5xx(tmp_path):
    env = shop_env(tmp_path)
    prepare_shop(env, users=40, products=60, events=4000)
    db_file = tmp_path / "shop.db"
    with sqlite3.connect(db_file) as conn:
        product_ids = [row[0] for row in conn.execute("SELECT id FROM products ORDER BY id")]

    with gunicorn(env, workers=4, log=tmp_path / "gunicorn.log") as base:
        stats, ledger, emails = run_load(
            base, product_ids, shoppers=10, duration=25, max_requests=4000, seed=1, run_id="t"
        )

    log = (tmp_path / "gunicorn.log").read_text()
    total = sum(stats.statuses.values())
    assert total > 200, f"too few requests completed: {stats.statuses}"
    assert not stats.transport_errors, stats.transport_errors[:5]
    assert not stats.server_errors, (stats.server_errors[:5], log[-3000:])
    assert "database is locked" not in log
    assert len(emails) == 10
    assert ledger.ratings and ledger.likes and ledger.orders, "the mix must have written something"

    with sqlite3.connect(db_file) as conn:
        ratings = {
            (email, pid): stars
            for email, pid, stars in conn.execute(
                "SELECT u.email, r.product_id, r.stars FROM ratings r JOIN users u ON u.id = r.user_id "
                "WHERE u.email LIKE 'load-t-%'"
            )
        }
        likes = {
            (email, pid)
            for email, pid in conn.execute(
                "SELECT u.email, l.product_id FROM likes l JOIN users u ON u.id = l.user_id "
                "WHERE u.email LIKE 'load-t-%'"
            )
        }
        orders = Counter(
            dict(
                conn.execute(
                    "SELECT u.email, count(*) FROM orders o JOIN users u ON u.id = o.user_id "
                    "WHERE u.email LIKE 'load-t-%' GROUP BY u.email"
                ).fetchall()
            )
        )
        units = Counter(
            {
                (email, pid): qty
                for email, pid, qty in conn.execute(
                    "SELECT u.email, ol.product_id, sum(ol.quantity) FROM order_lines ol "
                    "JOIN orders o ON o.id = ol.order_id JOIN users u ON u.id = o.user_id "
                    "WHERE u.email LIKE 'load-t-%' GROUP BY u.email, ol.product_id"
                )
            }
        )
        purchase_events = conn.execute(
            "SELECT count(*) FROM events e JOIN users u ON u.id = e.user_id "
            "WHERE u.email LIKE 'load-t-%' AND e.kind = 'purchase'"
        ).fetchone()[0]
        lines = conn.execute(
            "SELECT count(*) FROM order_lines ol JOIN orders o ON o.id = ol.order_id "
            "JOIN users u ON u.id = o.user_id WHERE u.email LIKE 'load-t-%'"
        ).fetchone()[0]

    assert ratings == ledger.ratings
    assert likes == {key for key, liked in ledger.likes.items() if liked}
    assert orders == ledger.orders
    assert units == ledger.ordered_units
    assert purchase_events == lines
