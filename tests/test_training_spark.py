"""`flask train --backend spark`: a model fitted on Spark is published and served like a local one;
without pyspark or Java the command refuses plainly and changes nothing."""

from __future__ import annotations

import html
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import Event, Product, TrainingRun
from shop.services import recommendations
from shop.services.interactions import interaction_count, user_history
from tests.spark_support import spark_or_skip
from tests.test_training import START, build_small_shop


def published(app) -> list[str]:
    folder = Path(app.config["SHOP_MODEL_DIR"])
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def runs_recorded() -> int:
    return db.session.scalar(select(func.count(TrainingRun.id))) or 0


@pytest.fixture
def shop_with_passwords(app):
    return build_small_shop(passwords=2)


def add_a_product_only_old_events_touch(users: list) -> Product:
    """A product viewed and clicked by a few shoppers a month before everything else."""
    product = Product(sku="OLD001", name="Old Lamp", price=Decimal("19.99"))
    db.session.add(product)
    db.session.flush()
    long_ago = START - timedelta(days=30)
    db.session.add_all(
        Event(user_id=user.id, product_id=product.id, kind=kind, source="test", created_at=when)
        for n, user in enumerate(users[:4])
        for kind, when in (
            ("view", long_ago + timedelta(hours=n)),
            ("click", long_ago + timedelta(hours=n, minutes=1)),
        )
    )
    db.session.commit()
    return product


@pytest.mark.spark
def test_train_on_spark_publishes_a_model_the_home_page_serves(
    app, runner, client, auth, shop_with_passwords
):
    spark_or_skip()
    app.config["SPARK_MASTER"] = "local[2]"
    app.config["SPARK_SHUFFLE_PARTITIONS"] = 2
    app.config["SPARK_DRIVER_MEMORY"] = "512m"
    # The worker fits on the newest 300 interactions; Spark's ALS on the whole log, streamed.
    app.config["SHOP_TRAIN_WINDOW_EVENTS"] = 300
    old = add_a_product_only_old_events_touch(shop_with_passwords["users"])
    total = interaction_count()
    assert total > 300

    result = runner.invoke(args=["train", "--backend", "spark", "--no-evaluate"])

    assert result.exit_code == 0, result.output
    assert "Exporting every interaction to Parquet in chunks" in result.output
    assert f"Fitting the served ALS on Spark over all {total:,} interactions" in result.output
    run = db.session.scalars(select(TrainingRun)).one()
    assert run.status == "succeeded"
    assert f"Model version   {run.model_version}" in result.output
    engine = app.extensions["recommender_store"].get()
    assert engine.metadata_["als_backend"] == {"backend": "spark", "master": "local[2]"}
    assert engine.metadata_["training_log"] == {
        "window_limit": 300,
        "window_events": 300,
        "log_events": total,
        "als_events": total,
    }
    assert engine.sources_.als_.item_factors_.shape == (19, engine.als_factors)
    # The window never saw the old product; the served ALS, fitted on the whole log, did.
    position = engine.product_ids_.get_loc(old.id)
    assert not engine.sources_.known_items_[position]
    assert np.abs(engine.sources_.als_.item_factors_[position]).sum() > 0

    user = shop_with_passwords["users"][0]  # favours Kitchen
    assert auth.login(email=user.email, password="correct-horse").status_code == 302
    shown = recommendations.recommended_for(user.id, n=10)
    assert shown.personalised and shown.model_version == run.model_version
    page = html.unescape(client.get("/").get_data(as_text=True))
    assert "Recommended for you" in page and "Based on your activity" in page
    for item in shown.items[:5]:
        assert item.product.name in page and item.reason in page
    # The Spark-fitted factors fold the shopper in on the spot, as the local ALS's do: the ALS
    # list alone is full, personal and new to them.
    history = user_history(user.id)
    als = engine.recommend(history, n=3, variant="als")
    assert len(als) == 3 and all(r.score > 0 for r in als)
    assert not {r.product_id for r in als} & set(history["product_id"])
    assert all(r.reason == "Popular with shoppers like you" for r in als)  # ALS's own reason


def test_train_on_spark_without_pyspark_refuses_and_changes_nothing(
    app, runner, shop_with_passwords, monkeypatch
):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # what an install without the extra sees

    result = runner.invoke(args=["train", "--backend", "spark"])

    assert result.exit_code == 2
    assert "pyspark is not installed" in result.output
    assert "pip install -e '.[spark]'" in result.output
    assert "Nothing was trained" in result.output
    assert runs_recorded() == 0 and published(app) == []


def test_train_on_spark_without_java_refuses_and_changes_nothing(
    app, runner, shop_with_passwords, monkeypatch, tmp_path
):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))

    result = runner.invoke(args=["train", "--backend", "spark"])

    assert result.exit_code == 2
    assert "no Java runtime found" in result.output
    assert runs_recorded() == 0 and published(app) == []


def test_an_unknown_backend_is_refused(app, runner, shop_with_passwords):
    result = runner.invoke(args=["train", "--backend", "hadoop"])
    assert result.exit_code == 2 and "'hadoop' is not one of" in result.output

    app.config["SHOP_TRAIN_BACKEND"] = "hadoop"
    result = runner.invoke(args=["train"])
    assert result.exit_code == 2
    assert "unknown training backend 'hadoop'" in result.output
    assert runs_recorded() == 0 and published(app) == []


def test_train_help_names_the_backends(runner):
    text = runner.invoke(args=["train", "--help"]).output
    assert "--backend [local|spark]" in text and "SPARK_MASTER" in text
