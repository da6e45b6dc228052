"""The two evaluation protocols (time split, random per-user holdout) in `flask evaluate`, in the
training run's record and on the admin model page, with the guard's ranker choice beside them."""

from __future__ import annotations

import json
import re

import pytest

import shop.recommend
from shop.services import model_store
from shop.training import evaluation, report
from shop.training.runs import train_and_publish
from tests.test_training import build_small_shop

TOPN_KEYS = {"precision", "recall", "ndcg", "map", "coverage", "n_users"}
#: What the engine's guard records in ``metadata_["ranker"]``.
GUARD_REPORT = {
    "chosen": "lambdarank",
    "reason": "best NDCG@10 on held-out validation shoppers",
    "n_users": 212,
    "ndcg@10": {"blend": 0.2311, "lambdarank": 0.2512, "source:als": 0.1804},
    "ranker": {
        "kind": "lambdarank",
        "rounds": 84,
        "top_features": {"taste": 41.5, "popularity": 7.25},
    },
    "protocol": "time",
    "folds": 2,
}


@pytest.fixture
def small_shop(app):
    return build_small_shop()


@pytest.fixture
def as_admin(client, auth, admin_user):
    assert auth.login(email="admin@example.com", password="admin-password").status_code == 302
    return client


def evaluate(runner, tmp_path, *args: str) -> dict:
    out = tmp_path / "evaluation.json"
    result = runner.invoke(args=["evaluate", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    data["_output"] = result.output
    return data


def test_yardsticks_follow_the_engines_variants(monkeypatch):
    monkeypatch.setattr(shop.recommend, "VARIANTS", ("hybrid", "popularity", "als"))
    assert evaluation.topn_variants() == ("popularity", "als", "hybrid")
    monkeypatch.setattr(shop.recommend, "VARIANTS", ("hybrid", "popularity", "ease", "svd"))
    assert evaluation.topn_variants() == ("popularity", "svd", "ease", "hybrid")


def test_evaluate_defaults_to_the_time_split(app, runner, small_shop, tmp_path):
    data = evaluate(runner, tmp_path)

    assert data["protocol"] == "time"
    assert data["topn"]["split"]["protocol"] == "time" and "topn_random" not in data
    assert set(data["topn"]["models"]) == set(evaluation.topn_variants())
    assert "time split at" in data["_output"]


def test_evaluate_random_protocol_holds_out_a_seeded_quarter_per_shopper(
    app, runner, small_shop, tmp_path
):
    data = evaluate(runner, tmp_path, "--protocol", "random", "--k", "5")

    assert data["protocol"] == "random" and "topn" not in data
    section = data["topn_random"]
    assert section["split"]["protocol"] == "random"
    assert section["split"]["test_fraction"] == 0.25 and section["split"]["seed"] == 0
    assert section["split"]["n_test_pairs"] > 0
    models = section["models"]
    assert {"popularity", "hybrid"} <= set(models)
    assert ("ease" in models) == ("ease" in shop.recommend.VARIANTS)
    for scores in models.values():
        assert set(scores) == TOPN_KEYS and 0.0 <= scores["ndcg"] <= 1.0
    assert "random per-user 75/25 holdout (seed 0)" in data["_output"]
    assert "RMSE" in data["_output"]  # the prototype's rating table stays

    again = evaluate(runner, tmp_path, "--protocol", "random", "--k", "5")
    assert again["topn_random"] == section  # seeded: the same holdout, the same figures
    other = evaluate(runner, tmp_path, "--protocol", "random", "--k", "5", "--seed", "1")
    assert other["topn_random"]["split"]["seed"] == 1


def test_evaluate_refuses_an_unknown_protocol(app, runner, small_shop, tmp_path):
    result = runner.invoke(args=["evaluate", "--out", str(tmp_path / "e.json"), "--protocol", "x"])
    assert result.exit_code == 2
    assert "'time'" in result.output and "'random'" in result.output
    assert "--protocol" in runner.invoke(args=["evaluate", "--help"]).output


def test_a_training_run_records_both_protocols(app, small_shop):
    run = train_and_publish(app)

    assert run.status == "succeeded", run.error
    assert run.metrics["topn"]["split"]["protocol"] == "time"
    assert run.metrics["topn_random"]["split"]["protocol"] == "random"
    for key in ("topn", "topn_random"):
        assert {"popularity", "hybrid"} <= set(run.metrics[key]["models"])


# --- The model page ---------------------------------------------------------------------------


def test_model_page_shows_a_table_per_protocol_and_the_ranker_choice(app, as_admin, small_shop):
    run = train_and_publish(app)
    assert run.status == "succeeded", run.error
    engine = model_store.store().get()
    engine.metadata_["ranker"] = GUARD_REPORT

    html = as_admin.get("/admin/model").get_data(as_text=True)

    assert 'id="topn-metrics"' in html and 'id="topn-metrics-random"' in html
    assert "time split at" in html and "random per-user 75/25 holdout (seed 0)" in html
    assert html.count("yardstick") >= 2
    assert "Chosen on validation: <strong data-ranker-choice>lambdarank</strong>" in html
    assert "best NDCG@10 on held-out validation shoppers" in html
    validation = re.search(r'<table[^>]*id="ranker-validation".*?</table>', html, re.S).group(0)
    assert re.findall(r"<td>([\w:]+)</td>", validation) == ["lambdarank", "blend", "source:als"]
    assert "0.2512" in validation and "0.2311" in validation
    assert "ranker: top features" in html and "taste 41.5" in html


def test_model_page_without_a_ranker_record_or_the_random_table_still_renders(as_admin, app):
    from datetime import UTC, datetime

    from shop.extensions import db
    from shop.models import TrainingRun

    db.session.add(
        TrainingRun(
            status="succeeded",
            model_version="old-v1",
            metrics={"k": 10, "topn": {"models": {"hybrid": {"ndcg": 0.1}}}},
            finished_at=datetime.now(UTC),
        )
    )
    db.session.commit()
    tables = report.topn_tables(db.session.get(TrainingRun, 1).metrics)
    assert [t.protocol for t in tables] == ["time", "random"]
    assert tables[0].rows and not tables[1].rows
    assert "Not measured" in tables[1].skipped

    html = as_admin.get("/admin/model").get_data(as_text=True)
    assert "What the model serves" in html and "No model loaded." in html


def test_ranker_choice_reads_the_guards_report():
    choice = report.ranker_choice({"ranker": GUARD_REPORT})

    assert choice.chosen == "lambdarank"
    assert choice.reason == "best NDCG@10 on held-out validation shoppers"
    assert choice.metric == "ndcg@10"
    assert choice.scores == [("lambdarank", 0.2512), ("blend", 0.2311), ("source:als", 0.1804)]
    assert ("n users", "212") in choice.details and ("folds", "2") in choice.details
    assert ("ranker: kind", "lambdarank") in choice.details
    assert ("ranker: top features", "taste 41.5, popularity 7.25") in choice.details


@pytest.mark.parametrize(
    ("record", "chosen", "details"),
    [
        (None, None, None),
        ({}, None, None),
        ("blend", "blend", []),
        ({"choice": "itemknn", "fallback": True}, "itemknn", [("fallback", "yes")]),
        ({"seconds": 1234.5, "protocol": None}, "recorded", [("seconds", "1,234")]),
    ],
)
def test_ranker_choice_reads_whatever_the_engine_records(record, chosen, details):
    meta = {} if record is None else {"ranker": record}
    choice = report.ranker_choice(meta)
    if chosen is None:
        assert choice is None
    else:
        assert choice.chosen == chosen and choice.details == details
