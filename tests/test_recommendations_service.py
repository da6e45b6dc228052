"""The trained engine on the shop's pages: personal lists, fold-in, product lists and safe fallbacks."""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from shop.extensions import db
from shop.models import Event, Product, TrainingRun
from shop.recommend import HybridRecommender, persistence
from shop.services import model_store, recommendations
from shop.training.runs import train_and_publish
from tests import factories
from tests.test_training import build_small_shop

FALLBACK_LOG = "Recommendations fall back to popularity"


@pytest.fixture
def trained(app):
    shop = build_small_shop(passwords=2)
    run = train_and_publish(app, evaluate=False)
    assert run.status == "succeeded", run.error
    shop["run"] = run
    shop["model_file"] = Path(app.config["SHOP_MODEL_DIR"]) / f"model-{run.model_version}.joblib"
    return shop


@pytest.fixture
def signed_in(client, auth, trained):
    user = trained["users"][0]
    assert auth.login(email=user.email, password="correct-horse").status_code == 302
    return user


def page_text(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def ids(shown) -> list[int]:
    return [item.product.id for item in shown.items]


def test_home_page_shows_personal_recommendations_with_reasons(client, signed_in, trained):
    shown = recommendations.recommended_for(signed_in.id, n=10)
    assert shown.personalised and shown.model_version == trained["run"].model_version

    page = page_text(client.get("/"))

    assert "Recommended for you" in page
    assert "Based on your activity" in page
    for item in shown.items[:5]:
        assert item.product.name in page
        assert item.reason in page
    assert any(
        item.reason.startswith(("Because you", "Similar to", "Customers who"))
        for item in shown.items
    )


def test_a_shopper_without_history_is_told_the_list_is_popular_not_personal(client, auth, trained):
    newcomer = factories.make_user("newcomer@example.com", "correct-horse", "Nell Newcomer")
    shown = recommendations.recommended_for(newcomer.id, n=10)
    assert shown.items and not shown.personalised

    assert auth.login(email=newcomer.email, password="correct-horse").status_code == 302
    page = page_text(client.get("/"))
    assert '<section id="for-you"' not in page  # the shop's lists, not a "personal" copy of them
    assert "Popular now: what shoppers open most" in page
    assert "Based on your activity" not in page


def test_a_new_like_changes_the_next_list_without_retraining(client, post, signed_in, trained):
    before = recommendations.recommended_for(signed_in.id, n=6)
    liked = before.items[0].product

    response = post(f"/feedback/like/{liked.id}")
    assert response.status_code == 302

    after = recommendations.recommended_for(signed_in.id, n=6)
    assert after.model_version == before.model_version  # the same model, no retraining
    assert liked.id not in ids(after)
    assert ids(after) != ids(before)
    assert f"Because you liked {liked.name}" in page_text(client.get("/"))


def test_a_new_rating_changes_the_next_list_without_retraining(client, post, signed_in, trained):
    before = recommendations.recommended_for(signed_in.id, n=6)
    rated = before.items[1].product

    response = post(f"/feedback/rate/{rated.id}", data={"stars": "5", "review": ""})
    assert response.status_code == 302

    after = recommendations.recommended_for(signed_in.id, n=6)
    assert rated.id not in ids(after)
    assert ids(after) != ids(before)


def test_product_page_shows_similar_and_bought_together_lists(client, trained):
    kettle = db.session.scalar(select(Product).where(Product.sku == "KIT000"))
    page = page_text(client.get(f"/products/{kettle.id}"))

    assert "Similar products" in page
    assert f"Similar to {kettle.name}" in page
    assert "Customers who bought this also bought" in page
    assert f"Customers who bought {kettle.name} also bought this" in page
    together = recommendations.also_bought(kettle)
    assert together.items and kettle.id not in ids(together)


def test_missing_model_file_falls_back_to_popularity_and_logs(
    app, client, signed_in, trained, caplog
):
    trained["model_file"].unlink()
    model_store.store().invalidate()

    with caplog.at_level(logging.WARNING, logger="shop.services.model_store"):
        page = page_text(client.get("/"))
        shown = recommendations.recommended_for(signed_in.id, n=5)

    assert "Recommended for you" in page and "Popular right now" in page
    assert shown.model_version is None and len(shown.items) == 5
    assert all(item.reason == "Popular with shoppers right now" for item in shown.items)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(FALLBACK_LOG in m and "missing" in m for m in warnings)
    api = client.get(f"/recommend?user_id={signed_in.id}").get_json()
    assert api["fallback"] is True and api["model_version"] is None


def test_truncated_model_file_falls_back_and_logs(client, signed_in, trained, caplog):
    raw = trained["model_file"].read_bytes()
    trained["model_file"].write_bytes(raw[: len(raw) // 2])
    model_store.store().invalidate()

    with caplog.at_level(logging.WARNING, logger="shop.services.model_store"):
        page = page_text(client.get("/"))

    assert "Popular right now" in page
    kettle = db.session.scalar(select(Product).where(Product.sku == "KIT000"))
    assert client.get(f"/products/{kettle.id}").status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(FALLBACK_LOG in m and "truncated" in m for m in warnings)
    assert not model_store.store().status().loaded


def test_model_written_by_another_engine_version_falls_back_and_logs(
    client, signed_in, trained, caplog
):
    path = trained["model_file"]
    raw = path.read_bytes()
    end = raw.index(b"\n", len(persistence.MAGIC))
    header = json.loads(raw[len(persistence.MAGIC) : end])
    header["version"] = persistence.FORMAT_VERSION + 1
    path.write_bytes(persistence.MAGIC + json.dumps(header).encode() + raw[end:])
    model_store.store().invalidate()

    with caplog.at_level(logging.WARNING, logger="shop.services.model_store"):
        page = page_text(client.get("/"))

    assert "Popular right now" in page
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(FALLBACK_LOG in m and "version" in m for m in warnings)


def test_crash_during_training_keeps_the_previous_model_and_marks_the_run_failed(
    app, trained, monkeypatch, caplog
):
    folder = Path(app.config["SHOP_MODEL_DIR"])
    pointer_before = (folder / "current.json").read_text()
    files_before = sorted(p.name for p in folder.iterdir())

    def broken_fit(self, interactions, products):
        raise RuntimeError("out of memory while fitting ALS")

    monkeypatch.setattr(HybridRecommender, "fit", broken_fit)
    with caplog.at_level(logging.ERROR):
        run = train_and_publish(app)

    assert run.status == "failed"
    assert "out of memory while fitting ALS" in run.error
    assert run.finished_at is not None and run.model_version is None
    assert db.session.get(TrainingRun, run.id).status == "failed"
    assert (folder / "current.json").read_text() == pointer_before
    assert sorted(p.name for p in folder.iterdir()) == files_before
    model_store.store().invalidate()
    assert model_store.store().status().version == trained["run"].model_version
    user = trained["users"][0]
    assert recommendations.recommended_for(user.id).model_version == trained["run"].model_version
    assert any("failed" in r.getMessage() for r in caplog.records)


def test_crash_while_saving_leaves_no_half_written_file(app, trained, monkeypatch):
    folder = Path(app.config["SHOP_MODEL_DIR"])
    files_before = sorted(p.name for p in folder.iterdir())

    def broken_dump(obj, path, *, kind):
        Path(path).write_bytes(b"half a model")
        raise OSError("No space left on device")

    monkeypatch.setattr(persistence, "dump", broken_dump)
    run = train_and_publish(app, evaluate=False)

    assert run.status == "failed" and "No space left on device" in run.error
    assert sorted(p.name for p in folder.iterdir()) == files_before
    assert json.loads((folder / "current.json").read_text())["version"] == (
        trained["run"].model_version
    )


def test_recommendations_never_repeat_purchases(trained):
    user = trained["users"][3]
    bought = set(
        db.session.scalars(
            select(Event.product_id).where(Event.user_id == user.id, Event.kind == "purchase")
        )
    )
    shown = recommendations.recommended_for(user.id, n=10)
    assert shown.items and not set(ids(shown)) & bought
