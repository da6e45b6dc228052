"""Training and publishing the engine: the pipeline, `flask train` and `flask evaluate`."""

from __future__ import annotations

import json
import logging
import os
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select

from shop.extensions import db
from shop.models import Category, Event, Like, Product, Rating, TrainingRun, User
from shop.services import model_store
from shop.training import evaluation, runs
from shop.training.runs import train_and_publish

CATEGORIES = {
    "Kitchen": ["Kettle", "Teapot", "Mug", "Toaster", "Whisk", "Ladle"],
    "Garden": ["Spade", "Rake", "Watering Can", "Trowel", "Hose", "Gloves"],
    "Books": ["Novel", "Atlas", "Cookbook", "Poetry", "Biography", "Comic"],
}
START = datetime(2025, 1, 1, tzinfo=UTC)


def build_small_shop(n_users: int = 24, seed: int = 7, passwords: int = 0) -> dict:
    """A tiny shop whose shoppers each favour one category, with events spread over 60 days.

    Big enough for every part of the evaluation (a time split with later purchases, more than ten
    ratings) and small enough to train in a couple of seconds. The first ``passwords`` shoppers can
    sign in with "correct-horse".
    """
    rng = random.Random(seed)
    products: dict[str, list[Product]] = {}
    for name, items in CATEGORIES.items():
        category = Category(name=name, slug=name.lower())
        db.session.add(category)
        products[name] = [
            Product(
                sku=f"{name[:3].upper()}{i:03d}",
                name=f"{item} {name[:-1] if name.endswith('s') else name}",
                description=f"A {item.lower()} from our {name.lower()} range, made to last.",
                category=category,
                brand="Acme",
                price=Decimal("9.99") + i,
            )
            for i, item in enumerate(items)
        ]
        db.session.add_all(products[name])
    users = [
        User(email=f"shopper{u}@example.com", display_name=f"Shopper {u}") for u in range(n_users)
    ]
    for user in users[:passwords]:
        user.set_password("correct-horse")
    db.session.add_all(users)
    db.session.commit()
    names = list(CATEGORIES)
    events, likes, ratings = [], [], []
    for u, user in enumerate(users):
        favourite = products[names[u % len(names)]]
        other = products[names[(u + 1) % len(names)]]
        chosen = rng.sample(favourite, 5) + rng.sample(other, 1)
        for step, product in enumerate(chosen):
            when = START + timedelta(days=step * 10 + rng.random() * 5, hours=u)
            events.append((user, product, "view", when))
            events.append((user, product, "click", when + timedelta(minutes=1)))
            if step % 2 == 0 or step == len(chosen) - 2:
                events.append((user, product, "purchase", when + timedelta(minutes=5)))
            if step in (1, 3):
                likes.append({"user_id": user.id, "product_id": product.id, "created_at": when})
            if step < 4:
                stars = rng.choice((4, 5, 5)) if product in favourite else rng.choice((1, 2, 3))
                ratings.append(
                    {
                        "user_id": user.id,
                        "product_id": product.id,
                        "stars": stars,
                        "created_at": when,
                        "updated_at": when,
                    }
                )
    db.session.execute(
        insert(Event),
        [
            {
                "user_id": user.id,
                "product_id": product.id,
                "kind": kind,
                "quantity": 1,
                "source": "test",
                "created_at": when,
            }
            for user, product, kind, when in events
        ],
    )
    db.session.execute(insert(Like), likes)
    db.session.execute(insert(Rating), ratings)
    db.session.commit()
    return {"users": users, "products": products}


@pytest.fixture
def small_shop(app):
    return build_small_shop()


def model_dir(app):
    from pathlib import Path

    return Path(app.config["SHOP_MODEL_DIR"])


def test_train_and_publish_fits_saves_points_and_records_the_run(app, small_shop):
    seen = []
    run = train_and_publish(app, progress=lambda pct, msg: seen.append((pct, msg)))

    assert run.status == "succeeded", run.error
    assert run.progress == 100
    assert run.finished_at is not None
    assert run.n_users == 24 and run.n_products == 18 and run.n_interactions > 100
    percents = [pct for pct, _ in seen]
    assert percents == sorted(percents) and percents[-1] == 100
    pointer = json.loads((model_dir(app) / "current.json").read_text())
    assert pointer["version"] == run.model_version
    assert pointer["path"] == f"model-{run.model_version}.joblib"
    assert (model_dir(app) / pointer["path"]).is_file()
    # Saved atomically: nothing but the model and the pointer is left in the folder.
    assert sorted(p.name for p in model_dir(app).iterdir()) == sorted(
        ["current.json", pointer["path"]]
    )
    store = app.extensions["recommender_store"]
    assert store.status().loaded and store.status().version == run.model_version
    stored = db.session.get(TrainingRun, run.id)
    assert stored.status == "succeeded" and stored.model_path.endswith(pointer["path"])
    for model in ("popularity", "hybrid", "svd"):
        assert set(stored.metrics["topn"]["models"][model]) >= {"precision", "recall", "ndcg"}
    assert set(stored.metrics["ratings"]["models"]) >= {"svd", "baseline_only"}


def test_train_and_publish_continues_a_run_the_dashboard_queued(app, small_shop):
    run_id = runs.queue_run("manual")
    result = train_and_publish(app, run_id, evaluate=False)
    assert result.id == run_id
    assert result.status == "succeeded" and result.trigger == "manual"
    assert result.worker == runs.worker_id()
    assert db.session.scalar(select(func.count(TrainingRun.id))) == 1


def test_train_and_publish_leaves_a_run_that_is_no_longer_queued_alone(app, small_shop):
    run_id = runs.queue_run("manual")
    runs.fail_run(run_id, "given up")
    result = train_and_publish(app, run_id, evaluate=False)
    assert result.status == "failed" and result.error == "given up"
    assert not model_dir(app).exists()


def test_train_command_is_refused_while_another_run_is_active(app, runner, small_shop):
    runs.queue_run("manual")
    result = runner.invoke(args=["train", "--no-evaluate"])
    assert result.exit_code == 1
    assert "Training run #1 is queued" in result.output


def test_model_versions_are_unique_and_old_model_files_are_pruned(app, small_shop):
    folder = model_dir(app)
    folder.mkdir(parents=True, exist_ok=True)
    old = []
    for i in range(6):
        path = folder / f"model-2020010{i}T000000Z-0000000{i}.joblib"
        path.write_bytes(b"old model")
        stamp = (START - timedelta(days=10 - i)).timestamp()
        os.utime(path, (stamp, stamp))
        old.append(path)

    first = train_and_publish(app, evaluate=False)
    second = train_and_publish(app, evaluate=False)

    assert first.model_version != second.model_version
    left = sorted(p.name for p in folder.glob("model-*.joblib"))
    assert len(left) == model_store.KEEP_MODELS
    assert f"model-{second.model_version}.joblib" in left
    assert f"model-{first.model_version}.joblib" in left
    assert not old[0].exists() and not old[1].exists() and not old[2].exists()


def test_train_command_prints_version_counts_and_metrics(app, runner, small_shop):
    result = runner.invoke(args=["train"])
    assert result.exit_code == 0, result.output
    run = db.session.scalars(select(TrainingRun)).one()
    assert f"Model version   {run.model_version}" in result.output
    assert "[100%]" in result.output
    assert "24 shoppers" in result.output and "18 products" in result.output
    assert "NDCG@10" in result.output and "RMSE" in result.output
    assert "hybrid" in result.output


def test_train_if_missing_keeps_a_loadable_model(app, runner, small_shop):
    assert runner.invoke(args=["train", "--no-evaluate"]).exit_code == 0
    result = runner.invoke(args=["train", "--if-missing"])
    assert result.exit_code == 0
    assert "nothing to do" in result.output
    assert db.session.scalar(select(func.count(TrainingRun.id))) == 1


def test_train_if_missing_on_a_fresh_clone_trains_without_warning_of_the_fallback(
    app, runner, small_shop, caplog
):
    with caplog.at_level(logging.INFO, logger="shop.services.model_store"):
        result = runner.invoke(args=["train", "--if-missing", "--no-evaluate"])

    assert result.exit_code == 0, result.output
    assert "Model version" in result.output
    assert "fall back to popularity" not in caplog.text  # it is fixing that, not suffering it
    assert "personalised lists are back" not in caplog.text  # nothing was said to be gone
    assert model_store.store().get() is not None


def test_a_page_still_warns_of_the_fallback_after_a_quiet_check(app, caplog):
    assert not model_store.has_loadable_model(app)
    with caplog.at_level(logging.WARNING, logger="shop.services.model_store"):
        model_store.store().invalidate()
        assert model_store.current_engine() is None
    assert "fall back to popularity: no trained model" in caplog.text


def test_train_if_missing_trains_when_the_model_file_is_broken(app, runner, small_shop):
    assert runner.invoke(args=["train", "--no-evaluate"]).exit_code == 0
    pointer = json.loads((model_dir(app) / "current.json").read_text())
    (model_dir(app) / pointer["path"]).write_bytes(b"not a model")
    result = runner.invoke(args=["train", "--if-missing", "--no-evaluate"])
    assert result.exit_code == 0, result.output
    assert "Model version" in result.output
    assert db.session.scalar(select(func.count(TrainingRun.id))) == 2


def test_train_on_an_empty_shop_says_to_seed_first(app, runner):
    result = runner.invoke(args=["train"])
    assert result.exit_code == 2
    assert "no interactions yet: run `flask --app shop seed`" in result.output
    assert not (model_dir(app) / "current.json").exists()


def test_train_and_evaluate_have_help_text(runner):
    train_help = runner.invoke(args=["train", "--help"]).output
    assert "--if-missing" in train_help and "--no-evaluate" in train_help
    assert "Train the recommendation engine" in train_help
    evaluate_help = runner.invoke(args=["evaluate", "--help"]).output
    assert "--out" in evaluate_help and "--k" in evaluate_help


def test_evaluate_command_writes_every_metric_to_json(app, runner, small_shop, tmp_path):
    out = tmp_path / "evaluation.json"
    result = runner.invoke(args=["evaluate", "--out", str(out), "--k", "5"])
    assert result.exit_code == 0, result.output
    assert "RMSE" in result.output and "P@5" in result.output
    data = json.loads(out.read_text())
    assert data["k"] == 5
    models = data["topn"]["models"]
    assert set(models) == set(evaluation.topn_variants())  # EASE too, when the engine has it
    assert {"popularity", "content", "itemknn", "als", "svd", "hybrid"} <= set(models)
    for scores in models.values():
        assert set(scores) == {"precision", "recall", "ndcg", "map", "coverage", "n_users"}
        assert 0.0 <= scores["precision"] <= 1.0 and 0.0 <= scores["coverage"] <= 1.0
    assert data["topn"]["split"]["n_test_pairs"] > 0
    ratings = data["ratings"]["models"]
    assert {"svd", "baseline_only", "global_mean"} <= set(ratings)
    for scores in ratings.values():
        assert scores["rmse"] > 0 and scores["mae"] > 0 and scores["n_test"] > 0


def test_evaluate_on_an_empty_shop_says_to_seed_first(runner, tmp_path):
    result = runner.invoke(args=["evaluate", "--out", str(tmp_path / "e.json")])
    assert result.exit_code == 2
    assert "no interactions yet" in result.output
    assert not (tmp_path / "e.json").exists()
