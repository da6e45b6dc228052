"""Faults: a retrain killed half-way, and a database error in the middle of a checkout.

(A missing, truncated or other-version model file is covered in test_recommendations_service.)
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time

import pytest
from sqlalchemy import func, select, text

from bench.servers import BIN, ROOT, flask, shop_env
from shop.extensions import db
from shop.models import CartItem, Event, Order, OrderLine
from tests import factories
from tests.conftest import ON_POSTGRES, csrf_token
from tests.factories import checkout_form


@pytest.mark.slow
def test_a_retrain_killed_half_way_leaves_the_previous_model_serving(tmp_path):
    env = shop_env(tmp_path)
    flask(env, "db", "upgrade")
    flask(env, "seed", "--users", "60", "--products", "50", "--events", "6000", "--quiet")
    flask(env, "train", "--no-evaluate")
    models = tmp_path / "models"
    pointer_before = json.loads((models / "current.json").read_text())
    files_before = {p.name for p in models.iterdir()}

    proc = subprocess.Popen(
        [str(BIN / "flask"), "--app", "shop", "train"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Wait until the run is under way (its row says so), then kill it without warning.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sqlite3.connect(tmp_path / "shop.db") as conn:
            row = conn.execute(
                "SELECT status, progress FROM training_runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
        if row and row[0] == "running" and row[1] > 0 and proc.poll() is None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed; make it bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    assert json.loads((models / "current.json").read_text()) == pointer_before
    leftovers = {p.name for p in models.iterdir()} - files_before
    assert not [name for name in leftovers if not name.endswith(".tmp")], leftovers

    # The site, started afresh, serves the previous model.
    check = subprocess.run(
        [
            str(BIN / "python"),
            "-c",
            "from shop import create_app\n"
            "app = create_app()\n"
            "with app.app_context():\n"
            "    s = app.extensions['recommender_store'].status()\n"
            "    print(s.loaded, s.version)\n",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.split()[:2] == ["True", pointer_before["version"]]


@pytest.mark.skipif(ON_POSTGRES, reason="the fault is injected with a SQLite trigger")
def test_a_database_error_during_checkout_leaves_no_half_order(client, auth, shopper):
    kettle = factories.make_product(name="Blue Kettle")
    mug = factories.make_product(name="Red Mug")
    auth.login()
    for product in (kettle, mug):
        client.post(
            "/cart/add",
            data={"csrf_token": csrf_token(client, "/"), "product_id": product.id, "quantity": 2},
        )
    # The disk "fills up" when the second line's purchase event is written.
    db.session.execute(
        text(
            "CREATE TRIGGER fail_second_purchase BEFORE INSERT ON events "
            f"WHEN new.kind = 'purchase' AND new.product_id = {mug.id} "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    )
    db.session.commit()

    response = client.post(
        "/checkout", data={"csrf_token": csrf_token(client, "/cart"), **checkout_form()}
    )

    assert response.status_code == 503
    assert "nothing was charged" in response.get_data(as_text=True).lower()
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Order.id))) == 0
    assert db.session.scalar(select(func.count(OrderLine.id))) == 0
    assert db.session.scalar(select(func.count(Event.id)).where(Event.kind == "purchase")) == 0
    assert db.session.scalar(select(func.count(CartItem.id))) == 2  # the cart is still there

    db.session.execute(text("DROP TRIGGER fail_second_purchase"))
    db.session.commit()
    response = client.post(
        "/checkout", data={"csrf_token": csrf_token(client, "/cart"), **checkout_form()}
    )
    assert response.status_code == 302
    assert db.session.scalar(select(func.count(Order.id))) == 1


def test_a_truncated_model_is_reported_on_the_admin_page_and_the_site_keeps_serving(
    app, client, auth, admin_user, caplog
):
    from pathlib import Path

    from shop.recommend import HybridRecommender
    from shop.services.interactions import all_interactions, products_frame

    shopper = factories.make_user(email="s@example.com")
    products = [factories.make_product(name=f"Thing {i}") for i in range(6)]
    for product in products[:4]:
        factories.make_event(shopper, product, "purchase")
    engine = HybridRecommender(random_state=0).fit(all_interactions(), products_frame())
    store = app.extensions["recommender_store"]
    path = Path(store.model_dir) / "model-test.joblib"
    store.model_dir.mkdir(parents=True, exist_ok=True)
    engine.save(path)
    store.write_pointer(path, "test-version")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    assert client.get("/").status_code == 200
    assert client.get(f"/products/{products[0].id}").status_code == 200
    assert "fall back to popularity" in caplog.text
    auth.login(email="admin@example.com", password="admin-password")
    html = client.get("/admin/model").get_data(as_text=True)
    assert "Serving popularity fallback:" in html
    assert "could not be loaded" in html


def test_a_model_that_loads_but_fails_on_use_costs_the_list_not_the_page(
    app, client, auth, shopper, caplog, monkeypatch
):
    from pathlib import Path

    from shop.recommend import HybridRecommender
    from shop.services.interactions import all_interactions, products_frame

    products = [factories.make_product(name=f"Thing {i}") for i in range(6)]
    for product in products[:3]:
        factories.make_event(shopper, product, "purchase")
    engine = HybridRecommender(random_state=0).fit(all_interactions(), products_frame())
    store = app.extensions["recommender_store"]
    store.model_dir.mkdir(parents=True, exist_ok=True)
    path = Path(store.model_dir) / "model-test.joblib"
    engine.save(path)
    store.write_pointer(path, "test-version")

    def broken(*args, **kwargs):
        raise AttributeError("'SVDModel' object has no attribute 'item_factors32_'")

    for method in ("recommend", "similar", "also_bought"):
        monkeypatch.setattr(HybridRecommender, method, broken)
    auth.login()

    home = client.get("/")
    assert home.status_code == 200
    assert "Popular with shoppers right now" in home.get_data(as_text=True)
    assert client.get(f"/products/{products[4].id}").status_code == 200
    api = client.get(f"/recommend?user_id={shopper.id}&n=3")
    assert api.status_code == 200 and api.json["recommendations"]
    assert "The recommendation model failed" in caplog.text
