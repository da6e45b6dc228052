"""The seeder through its two entry points: ``flask seed`` (CLI runner) and ``python seed.py``."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import aliased

from shop import create_app
from shop.extensions import db
from shop.models import (
    Category,
    Event,
    Like,
    Order,
    OrderLine,
    Product,
    Rating,
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
