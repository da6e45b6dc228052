"""The seeder through its two entry points: ``flask seed`` (CLI runner) and ``python seed.py``."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from datetime import date
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import aliased

from shop import create_app
from shop.extensions import db
from shop.models import (
    ORDER_STATUSES,
    AuditEntry,
    Category,
    CategoryBoost,
    CategoryPin,
    Event,
    Like,
    Order,
    OrderEvent,
    OrderLine,
    Product,
    Rating,
    StockMovement,
    User,
)
from shop.services.counters import recompute_product_counters
from tests import factories
from tests.conftest import _test_config

ROOT = Path(__file__).resolve().parents[1]
LaterEvent = aliased(Event)
SMALL = ["--users", "20", "--products", "12", "--events", "800", "--as-of", "2026-01-15", "--quiet"]


@pytest.fixture
def static_dir(app, tmp_path):
    """Pictures go to a temporary static folder, not the working tree."""
    folder = tmp_path / "static"
    app.static_folder = str(folder)
    return folder


@pytest.fixture
def seed(runner, static_dir):
    def _seed(*args: str, seed: int = 7):
        return runner.invoke(args=["seed", *SMALL, "--seed", str(seed), *args])

    return _seed


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _digest() -> str:
    """A fingerprint of the seeded shop by natural keys (ids may differ between databases)."""
    h = hashlib.sha256()
    queries = (
        select(User.email, User.display_name, User.country, User.created_at).order_by(User.email),
        select(Product.sku, Product.name, Product.price, Product.brand, Product.description)
        .add_columns(Category.name)
        .join(Category)
        .order_by(Product.sku),
        select(User.email, Product.sku, Event.kind, Event.quantity, Event.source, Event.created_at)
        .select_from(Event)
        .outerjoin(User, Event.user_id == User.id)
        .join(Product, Event.product_id == Product.id)
        .order_by(Event.id),
        select(User.email, Product.sku, Rating.stars, Rating.review)
        .join(User, Rating.user_id == User.id)
        .join(Product, Rating.product_id == Product.id)
        .order_by(User.email, Product.sku),
    )
    for query in queries:
        for row in db.session.execute(query):
            h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def test_seed_creates_what_the_options_ask_for(seed, static_dir):
    result = seed()
    assert result.exit_code == 0, result.output
    assert _count(User) == 20
    assert _count(Product) == 12
    assert _count(Event) == 800
    assert 8 <= _count(Category) <= 12
    assert _count(Order) > 0 and _count(OrderLine) >= _count(Order)
    assert "events/s" in result.output
    demo = db.session.scalar(select(User).where(User.email == "shopper@example.com"))
    assert demo.display_name == "Demo Shopper"
    assert demo.check_password("shopper-demo-password")
    assert db.session.scalar(select(func.count(Event.id)).where(Event.user_id == demo.id)) > 0
    for product in db.session.scalars(select(Product)):
        assert product.image_path.startswith(f"img/products/{product.sku}-")
        assert product.image_path.endswith(".svg")
        assert (static_dir / product.image_path).read_text().startswith("<svg")


def test_engine_frames_in_memory_are_what_the_shop_reads_after_the_seed(seed):
    """The benchmarks measure the generator's shops without a database: the frames must be the same."""
    from datetime import date

    from shop.seeding.generator import SeedOptions, engine_frames, generate
    from shop.services.interactions import all_interactions

    seed()
    data = generate(SeedOptions(users=20, products=12, events=800, seed=7, as_of=date(2026, 1, 15)))
    memory, products = engine_frames(data)
    user_index = {row["email"]: i for i, row in enumerate(data.users)}
    product_index = {row["sku"]: i for i, row in enumerate(data.products)}
    users = {u.id: user_index[u.email] for u in db.session.scalars(select(User))}
    skus = {p.id: product_index[p.sku] for p in db.session.scalars(select(Product))}
    stored = all_interactions()
    stored["user_id"] = stored["user_id"].map(users)
    stored["product_id"] = stored["product_id"].map(skus)
    columns = ["user_id", "product_id", "kind", "timestamp", "value"]

    def canonical(frame):
        frame = frame.astype({"kind": object, "timestamp": "datetime64[us, UTC]"})
        return frame[columns].sort_values(columns, ignore_index=True)

    pd.testing.assert_frame_equal(canonical(memory), canonical(stored), check_dtype=False)
    assert products["name"].tolist() == [row["name"] for row in data.products]


def test_prices_are_decimals_with_two_places_and_descriptions_speak_the_category(seed):
    seed()
    for product in db.session.scalars(select(Product)):
        assert product.price > 0
        assert product.price == product.price.quantize(product.price.__class__("0.01"))
        assert product.category.name.lower() in product.description.lower()


def test_same_seed_gives_the_same_shop_and_another_seed_another(seed):
    seed(seed=11)
    first = _digest()
    assert seed("--reset", seed=11).exit_code == 0
    assert _digest() == first
    assert seed("--reset", seed=12).exit_code == 0
    assert _digest() != first


def test_if_empty_leaves_a_filled_database_alone(seed):
    seed()
    before = _digest()
    result = seed("--if-empty", seed=99)
    assert result.exit_code == 0
    assert "nothing seeded" in result.output
    assert _digest() == before


def test_a_filled_database_is_refused_without_reset(seed):
    seed()
    result = seed(seed=8)
    assert result.exit_code == 2
    assert "--reset" in result.output
    assert _count(User) == 20


def test_reset_replaces_everything_including_other_shop_data(seed):
    factories.make_user(email="someone@example.org")
    factories.make_product(name="Old Kettle", sku="OLD-1")
    assert seed("--reset").exit_code == 0
    assert db.session.scalar(select(Product).where(Product.sku == "OLD-1")) is None
    assert db.session.scalar(select(User).where(User.email == "someone@example.org")) is None
    assert _count(Event) == 800


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "0"], "--users"),
        (["--events", "-5"], "--events"),
        (["--products", "abc"], "--products"),
        (["--bogus"], "No such option"),
        (["--admin-email", "a@example.com", "--admin-password", "short"], "at least 8"),
        (["--admin-email", "not-an-email", "--admin-password", "long-enough"], "not a valid email"),
        (["--admin-email", "a@example.com"], "together"),
    ],
)
def test_bad_options_exit_2_with_a_message_and_no_traceback(runner, static_dir, args, message):
    result = runner.invoke(args=["seed", "--quiet", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    assert _count(User) == 0


def test_unmigrated_database_gets_told_to_upgrade(tmp_path):
    app = create_app(_test_config(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path))
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["seed", *SMALL])
        db.engine.dispose()
    assert result.exit_code == 2
    assert "run `flask --app shop db upgrade` first" in result.output
    assert "Traceback" not in result.output


def test_a_database_behind_the_migrations_gets_told_to_upgrade(seed):
    with db.engine.begin() as conn:
        head = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    try:
        result = seed()
    finally:  # on PostgreSQL the database outlives this test
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{head}'")
    assert result.exit_code == 2
    assert "at revision 0001" in result.output and "db upgrade" in result.output
    assert _count(User) == 0


def test_a_failure_mid_seed_leaves_nothing_behind(seed, static_dir, monkeypatch):
    import shop.seeding

    def broken():
        raise RuntimeError("disk full")

    monkeypatch.setattr(shop.seeding, "recompute_product_counters", broken)
    result = seed()
    assert result.exit_code != 0
    db.session.rollback()
    assert _count(User) == _count(Product) == _count(Event) == _count(Order) == 0
    assert not list(static_dir.rglob("*.svg"))


def _direct_counts() -> dict[int, tuple]:
    def per_product(query):
        return dict(db.session.execute(query).all())

    def events(kind):
        return per_product(
            select(Event.product_id, func.count())
            .where(Event.kind == kind)
            .group_by(Event.product_id)
        )

    views, clicks, carts, buys = (events(k) for k in ("view", "click", "add_to_cart", "purchase"))
    likes = per_product(select(Like.product_id, func.count()).group_by(Like.product_id))
    ratings = per_product(select(Rating.product_id, func.count()).group_by(Rating.product_id))
    stars = per_product(
        select(Rating.product_id, func.sum(Rating.stars)).group_by(Rating.product_id)
    )
    return {
        pid: tuple(int(d.get(pid, 0)) for d in (views, clicks, carts, buys, likes, ratings, stars))
        for pid in db.session.scalars(select(Product.id))
    }


def _stored_counts() -> dict[int, tuple]:
    rows = db.session.execute(
        select(
            Product.id,
            Product.view_count,
            Product.click_count,
            Product.cart_count,
            Product.purchase_count,
            Product.like_count,
            Product.rating_count,
            Product.rating_sum,
        )
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def test_counters_equal_direct_counts_after_seeding_and_after_a_rebuild(seed):
    seed()
    assert _stored_counts() == _direct_counts()
    assert sum(c[0] for c in _stored_counts().values()) > 0
    db.session.execute(update(Product).values(view_count=0, like_count=7, rating_sum=0))
    recompute_product_counters()
    db.session.commit()
    assert _stored_counts() == _direct_counts()


def test_the_funnel_ratings_and_likes_have_the_hidden_structure(runner, static_dir):
    args = ["--users", "150", "--products", "40", "--events", "12000", "--seed", "4"]
    result = runner.invoke(args=["seed", *args, "--as-of", "2026-01-15", "--quiet"])
    assert result.exit_code == 0, result.output
    kinds = dict(db.session.execute(select(Event.kind, func.count()).group_by(Event.kind)).all())
    assert 0.15 <= kinds["add_to_cart"] / kinds["click"] <= 0.40
    assert 0.35 <= kinds["purchase"] / kinds["add_to_cart"] <= 0.70

    stars = list(db.session.scalars(select(Rating.stars)))
    assert stars and set(stars) <= {1, 2, 3, 4, 5}
    bought = and_(
        Event.kind == "purchase",
        Event.user_id == Rating.user_id,
        Event.product_id == Rating.product_id,
    )
    purchased_stars = list(
        db.session.scalars(select(Rating.stars).where(select(Event.id).where(bought).exists()))
    )
    other_stars = list(
        db.session.scalars(select(Rating.stars).where(~select(Event.id).where(bought).exists()))
    )
    assert len(purchased_stars) > 2 * len(other_stars)  # people rate what they bought
    assert np.mean(purchased_stars) > np.mean(other_stars)
    # products that sell better are rated better (both follow the hidden quality)
    rated = [p for p in db.session.scalars(select(Product)) if p.rating_count >= 3]
    correlation = np.corrcoef(
        [p.purchase_count for p in rated], [p.rating_sum / p.rating_count for p in rated]
    )[0, 1]
    assert correlation > 0.1
    like_stars = db.session.scalars(
        select(Rating.stars).join(
            Like, and_(Like.user_id == Rating.user_id, Like.product_id == Rating.product_id)
        )
    ).all()
    assert like_stars and min(like_stars) >= 4

    # every purchase follows an add-to-cart, every add-to-cart a click, of the same shopper
    for later, earlier in (("purchase", "add_to_cart"), ("add_to_cart", "click")):
        prior = select(Event.id).where(
            Event.kind == earlier,
            Event.user_id == LaterEvent.user_id,
            Event.product_id == LaterEvent.product_id,
            Event.created_at < LaterEvent.created_at,
        )
        orphans = db.session.scalar(
            select(func.count(LaterEvent.id)).where(LaterEvent.kind == later, ~prior.exists())
        )
        assert orphans == 0
    for order in db.session.scalars(select(Order)):
        assert order.total == sum(line.subtotal for line in order.lines)


def test_admin_is_created_with_the_seed(seed):
    result = seed("--admin-email", "Boss@Example.COM", "--admin-password", "s3cret-pass")
    assert result.exit_code == 0, result.output
    admin = db.session.scalar(select(User).where(User.email == "boss@example.com"))
    assert admin.is_admin and admin.check_password("s3cret-pass")
    assert _count(User) == 21


def test_create_admin_creates_promotes_and_refuses_bad_input(runner):
    result = runner.invoke(args=["create-admin", "ada@example.com", "--password", "long-enough"])
    assert result.exit_code == 0 and "Created admin ada@example.com" in result.output
    ada = db.session.scalar(select(User).where(User.email == "ada@example.com"))
    assert ada.is_admin and ada.check_password("long-enough")

    bob = factories.make_user(email="bob@example.com", password="bobs-password")
    result = runner.invoke(args=["create-admin", "bob@example.com"], input="\n\n")
    assert result.exit_code == 0 and "Promoted admin bob@example.com" in result.output
    db.session.refresh(bob)
    assert bob.is_admin and bob.check_password("bobs-password")

    result = runner.invoke(
        args=["create-admin", "cy@example.com"], input="new-password\nnew-password\n"
    )
    assert result.exit_code == 0
    assert db.session.scalar(select(User).where(User.email == "cy@example.com")).is_admin

    bad = runner.invoke(args=["create-admin", "not an email", "--password", "long-enough"])
    assert bad.exit_code == 2 and "not a valid email" in bad.output
    short = runner.invoke(args=["create-admin", "dee@example.com", "--password", "short"])
    assert short.exit_code == 2 and "at least 8" in short.output
    assert db.session.scalar(select(User).where(User.email == "dee@example.com")) is None


def test_seed_py_runs_the_same_command_as_a_script(tmp_path, migrated_template):
    if not isinstance(migrated_template, Path):
        pytest.skip("seed.py is exercised against a SQLite copy only")
    db_path = tmp_path / "script.db"
    shutil.copyfile(migrated_template, db_path)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "SHOP_INSTANCE_DIR": str(tmp_path),
        "SHOP_ENV": "development",
    }
    before = set((ROOT / "static" / "img" / "products").glob("*.svg"))
    args = [
        sys.executable,
        "seed.py",
        "--users",
        "5",
        "--products",
        "8",
        "--events",
        "300",
        "--quiet",
    ]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "300 events" in done.stdout and "events/s" in done.stdout
    app = create_app(_test_config(env["DATABASE_URL"], tmp_path))
    with app.app_context():
        pictures = [ROOT / "static" / p for p in db.session.scalars(select(Product.image_path))]
        db.engine.dispose()
    assert len(pictures) == 8 and all(p.is_file() for p in pictures)
    for picture in set(pictures) - before:  # the script wrote into the working tree's static/
        picture.unlink()
    again = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2
    assert "--reset" in again.stderr and "Traceback" not in again.stderr


# --- stock, order statuses and products off sale (issue 23, item 9) ------------------------------

ADMIN = ["--admin-email", "admin@example.com", "--admin-password", "admin-demo-password"]
NEXT_STEP = {None: {"placed"}, "placed": {"paid", "cancelled"}, "paid": {"shipped", "cancelled"}}
NEXT_STEP |= {"shipped": {"delivered"}}


def _stock_by_sku() -> dict[str, tuple]:
    return {
        sku: (stock, listed)
        for sku, stock, listed in db.session.execute(
            select(Product.sku, Product.stock, Product.listed)
        )
    }


def _statuses() -> list[tuple]:
    query = (
        select(User.email, Order.created_at, Order.status, Order.total)
        .join(User, Order.user_id == User.id)
        .order_by(Order.created_at, User.email)
    )
    return [tuple(row) for row in db.session.execute(query)]


def _assert_ledgers_replay_to_the_stock() -> None:
    products = {p.id: p for p in db.session.scalars(select(Product))}
    moves = db.session.scalars(
        select(StockMovement).order_by(StockMovement.created_at, StockMovement.id)
    ).all()
    running: dict[int, int] = {}
    for move in moves:
        if move.product_id not in running:
            assert move.reason == "initial" and move.change == move.stock_after
            assert move.created_at <= products[move.product_id].created_at
        running[move.product_id] = running.get(move.product_id, 0) + move.change
        assert move.stock_after == running[move.product_id] >= 0
    assert running == {pid: p.stock for pid, p in products.items()}
    # every line took its units with an order movement; a cancelled order gave them all back
    taken = {
        (m.order_id, m.product_id): -m.change for m in moves if m.reason == "order"
    }  # fmt: skip
    given = {(m.order_id, m.product_id): m.change for m in moves if m.reason == "cancel"}
    lines = db.session.execute(
        select(OrderLine.order_id, OrderLine.product_id, OrderLine.quantity, Order.status).join(
            Order
        )
    ).all()
    assert taken == {(o, p): q for o, p, q, _ in lines}
    assert given == {(o, p): q for o, p, q, status in lines if status == "cancelled"}


def _assert_every_history_runs_from_placed_to_the_status() -> None:
    events: dict[int, list[OrderEvent]] = {}
    for event in db.session.scalars(select(OrderEvent).order_by(OrderEvent.id)):
        events.setdefault(event.order_id, []).append(event)
    for order in db.session.scalars(select(Order)):
        steps = events[order.id]
        assert steps[0].to_status == "placed" and steps[0].created_at == order.created_at
        previous = None
        for step in steps:
            assert step.from_status == previous and step.to_status in NEXT_STEP[previous]
            previous = step.to_status
        times = [step.created_at for step in steps]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert steps[-1].to_status == order.status and order.updated_at == times[-1]
        if order.status == "cancelled":
            assert steps[-1].note  # the reason


def test_every_product_is_counted_a_few_low_a_few_sold_out_and_two_hidden(seed, auth, client):
    result = seed(*ADMIN)
    assert result.exit_code == 0, result.output
    products = db.session.scalars(select(Product)).all()
    assert all(p.stock is not None for p in products)
    low = [p for p in products if 0 < p.stock <= 5]
    sold_out = [p for p in products if p.stock == 0]
    hidden = [p for p in products if not p.listed]
    assert low and sold_out and len(hidden) == 2
    assert "1 low, 1 sold out, 2 hidden" in result.output
    # what the admin sees: the low-stock and sold-out lists, the hidden products
    auth.login(email="admin@example.com", password="admin-demo-password")
    low_page = client.get("/admin/products?stock=low").get_data(as_text=True)
    assert all(escape(p.name) in low_page and f"Only {p.stock} left" in low_page for p in low)
    out_page = client.get("/admin/products?stock=out").get_data(as_text=True)
    assert all(escape(p.name) in out_page for p in sold_out) and "Out of stock" in out_page
    hidden_page = client.get("/admin/products?listed=hidden").get_data(as_text=True)
    assert all(escape(p.name) in hidden_page for p in hidden)
    # each hidden product has the admin's audit entry, after its last sale
    admin = db.session.scalar(select(User).where(User.email == "admin@example.com"))
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.target_id)).all()
    assert [(e.target_type, e.target_id) for e in entries] == [
        ("product", p.id) for p in sorted(hidden, key=lambda p: p.id)
    ]
    for entry in entries:
        assert (entry.action, entry.actor_id, entry.actor_email) == (
            "product.update", admin.id, "admin@example.com"
        )  # fmt: skip
        assert (entry.before, entry.after) == ({"listed": True}, {"listed": False})
        assert entry.summary.startswith("Hidden: ")
        last_sale = db.session.scalar(
            select(func.max(Order.created_at))
            .join(OrderLine)
            .where(OrderLine.product_id == entry.target_id)
        )
        assert last_sale is None or last_sale < entry.created_at


def test_the_demo_shop_sells_out_a_best_seller_but_none_of_the_demo_shoppers_favourites(
    runner, static_dir
):
    args = ["seed", "--as-of", "2026-01-15", "--quiet", "--events", "20000"]
    assert runner.invoke(args=args).exit_code == 0
    products = db.session.scalars(select(Product).order_by(Product.purchase_count.desc())).all()
    assert sum(p.stock == 0 for p in products) == 3
    assert sum(0 < p.stock <= 5 for p in products) == 4
    assert sum(not p.listed for p in products) == 2
    assert any(p.stock == 0 for p in products[: len(products) // 4])
    demo = db.session.scalar(select(User).where(User.email == "shopper@example.com"))
    favourites = db.session.execute(
        select(OrderLine.product_id)
        .join(Order)
        .where(Order.user_id == demo.id)
        .group_by(OrderLine.product_id)
        .order_by(func.sum(OrderLine.quantity).desc(), OrderLine.product_id)
        .limit(5)
    ).scalars()
    for product_id in favourites:
        product = db.session.get(Product, product_id)
        assert product.listed and product.stock > 5
    # the popular, in-stock products are stocked deeper than the slow ones
    counted = [p for p in products if p.listed and p.stock > 5]
    top, tail = counted[: len(counted) // 4], counted[-len(counted) // 4 :]
    assert np.median([p.stock for p in top]) > np.median([p.stock for p in tail])
    _assert_ledgers_replay_to_the_stock()


def test_the_stock_ledger_replays_to_every_products_stock(seed):
    assert seed().exit_code == 0
    _assert_ledgers_replay_to_the_stock()


def test_orders_are_in_every_status_each_with_its_history(seed):
    assert seed(*ADMIN).exit_code == 0
    assert {status for _, _, status, _ in _statuses()} == set(ORDER_STATUSES)
    _assert_every_history_runs_from_placed_to_the_status()
    # the older the order, the further it got
    ages = dict(
        db.session.execute(
            select(Order.status, func.min(Order.created_at)).group_by(Order.status)
        ).all()
    )
    assert ages["delivered"] < ages["placed"]


def test_the_demo_shopper_has_an_order_on_its_way_and_one_shipped(seed, auth, client):
    assert seed().exit_code == 0
    demo = db.session.scalar(select(User).where(User.email == "shopper@example.com"))
    mine = db.session.scalars(
        select(Order.status).where(Order.user_id == demo.id).order_by(Order.created_at.desc())
    ).all()
    assert mine[0] in ("placed", "paid") and "shipped" in mine
    # her orders page, newest first, shows both
    auth.login(email="shopper@example.com", password="shopper-demo-password")
    page = client.get("/orders").get_data(as_text=True).lower()
    assert re.search(r"\bshipped\b", page)
    header = 1 if mine[0] == "placed" else 0  # the "Placed" column
    assert len(re.findall(rf"\b{mine[0]}\b", page)) > header


def test_the_experiments_orders_take_stock_and_move_along_too(seed):
    assert seed("--with-experiment").exit_code == 0
    experiment_orders = db.session.scalar(
        select(func.count(func.distinct(OrderLine.order_id))).where(
            OrderLine.impression_id.is_not(None)
        )
    )
    assert experiment_orders > 0
    _assert_ledgers_replay_to_the_stock()
    _assert_every_history_runs_from_placed_to_the_status()


def test_same_seed_gives_the_same_stock_and_statuses(seed):
    assert seed(*ADMIN, seed=11).exit_code == 0
    first = (_stock_by_sku(), _statuses())
    assert seed("--reset", *ADMIN, seed=11).exit_code == 0
    assert (_stock_by_sku(), _statuses()) == first
    assert seed("--reset", *ADMIN, seed=12).exit_code == 0
    assert (_stock_by_sku(), _statuses()) != first


def test_reset_clears_the_ledger_histories_audit_log_and_merchandising(seed):
    assert seed(*ADMIN).exit_code == 0
    product = db.session.scalars(select(Product)).first()
    db.session.add(CategoryPin(category_id=product.category_id, product_id=product.id, position=1))
    db.session.add(
        CategoryBoost(
            category_id=product.category_id,
            weight=2.0,
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 1, 31),
        )
    )
    db.session.commit()
    assert seed("--reset", *ADMIN).exit_code == 0
    assert _count(CategoryPin) == 0 and _count(CategoryBoost) == 0
    assert _count(AuditEntry) == 2
    assert _count(StockMovement) == _count(Product) + _count(OrderLine) + db.session.scalar(
        select(func.count(OrderLine.id)).join(Order).where(Order.status == "cancelled")
    )
    _assert_ledgers_replay_to_the_stock()
    _assert_every_history_runs_from_placed_to_the_status()


def test_without_an_admin_the_products_are_hidden_with_no_audit_entry(seed):
    assert seed().exit_code == 0
    assert db.session.scalar(select(func.count(Product.id)).where(Product.listed.is_(False))) == 2
    assert _count(AuditEntry) == 0
