"""One cart, many tabs: adds, quantity changes and removes of the same lines race over real HTTP.

gunicorn with 4 workers serves the test's own SQLite file; one signed-in shopper sends 40
add/remove pairs of the same product at once, with 20 quantity changes among them. Before the
cart routes read what their answer needs before committing (2507912), an add whose row a racing
remove had deleted answered 500: 3 and 4 of the 100 answers in two runs of this test. Every answer must be a redirect (or a clear 4xx), and the cart must end
consistent: one row per product at most, each with a quantity of 1 or more, and one add_to_cart
event for every add the shop accepted.
"""

from __future__ import annotations

import re
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from bench.loadgen import LoopbackBrowser
from bench.servers import gunicorn, shop_env
from shop.extensions import db
from shop.models import CartItem, Event
from tests import factories

pytestmark = [pytest.mark.load, pytest.mark.slow]

PAIRS = 40
PASSWORD = "cart-race-password"
PRODUCTS = 1  # every request races for the same cart line


def test_40_racing_add_remove_pairs_on_one_cart_give_no_5xx_and_a_consistent_cart(app, tmp_path):
    products = [factories.make_product(name=f"Racing Mug {i}") for i in range(PRODUCTS)]
    shopper = factories.make_user(email="racer@example.com", password=PASSWORD)
    product_ids, shopper_id = [p.id for p in products], shopper.id

    env = shop_env(tmp_path, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"])
    log = tmp_path / "gunicorn.log"
    answers: list[tuple[str, int, str]] = []
    errors: list[str] = []
    with gunicorn(env, workers=4, log=log) as base:
        browser = LoopbackBrowser(base)
        status, _ = browser.login("racer@example.com", PASSWORD)
        assert status == 302, "the shopper could not sign in"
        token = browser.csrf("/cart")
        requests = []
        for i in range(PAIRS):
            product_id = product_ids[i % len(product_ids)]
            form = {"csrf_token": token, "product_id": str(product_id), "quantity": "1"}
            requests.append(("add", "/cart/add", form))
            requests.append(("remove", f"/cart/remove/{product_id}", {"csrf_token": token}))
            if i % 2:
                form = {"csrf_token": token, "quantity": str(1 + i % 3)}
                requests.append(("update", f"/cart/update/{product_id}", form))
        start = threading.Barrier(len(requests))

        def send(action: str, path: str, form: dict) -> None:
            try:
                start.wait(timeout=30)
                status, headers, _ = browser.request("POST", path, form)
                answers.append((action, status, headers.get("Location", "")))
            except Exception as exc:  # noqa: BLE001 (reported below)
                errors.append(f"{action} {path}: {exc!r}")

        threads = [threading.Thread(target=send, args=request) for request in requests]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        status, _, cart_page = browser.request("GET", "/cart")

    server_log = log.read_text()
    assert not errors, errors
    assert len(answers) == len(requests)
    statuses = Counter(status for _, status, _ in answers)
    assert all(s < 500 for s in statuses), (statuses, server_log[-3000:])
    assert set(statuses) <= {302, 303, 409}, statuses
    assert "Traceback" not in server_log, server_log[-3000:]
    assert status == 200

    db.session.rollback()  # end the read snapshot taken before the server wrote
    rows = db.session.execute(
        select(CartItem.product_id, CartItem.quantity).where(CartItem.user_id == shopper_id)
    ).all()
    assert len({product_id for product_id, _ in rows}) == len(rows) <= len(product_ids)
    assert all(quantity >= 1 for _, quantity in rows), rows
    for product_id, quantity in rows:  # the cart page shows what the database holds
        assert re.search(rf'id="qty-{product_id}"[^>]*value="{quantity}"', cart_page), product_id
    accepted_adds = sum(
        1 for action, s, to in answers if action == "add" and s == 302 and "/products/" in to
    )
    recorded_adds = db.session.scalar(
        select(func.count(Event.id)).where(Event.user_id == shopper_id, Event.kind == "add_to_cart")
    )
    assert recorded_adds == accepted_adds == PAIRS, answers
