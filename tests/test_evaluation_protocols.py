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
#: The shape the engine's guard (``shop.recommend.guard.choose_ranker``) records today: a score
#: relative to the best single source, and NDCG@10 per holdout protocol.
ENGINE_REPORT = {
    "chosen": "logit",
    "reason": "best NDCG@10 relative to the best single source on held-out validation shoppers",
    "n_users": 83,
    "protocols": ["random", "time"],
    "score": {"blend": 0.9984, "lambdarank": 0.9822, "logit": 1.024, "source:ease": 0.8555},
    "ndcg@10": {
        "random": {"blend": 0.8923, "lambdarank": 0.8616, "logit": 0.8923, "source:ease": 0.7693},
        "time": {"blend": 0.7472, "lambdarank": 0.7487, "logit": 0.7856, "source:ease": 0.06598},
    },
    "ranker": {"kind": "logit", "C": 0.09486832980505137, "top_features": {"taste_rank": -0.282}},
    "folds": ["time", "random"],
}


def ranker_table(html: str) -> list[list[str]]:
    """The guard's table on the model page as the text of its cells, row by row."""
    table = re.search(r'<table[^>]*id="ranker-validation".*?</table>', html, re.S).group(0)
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    ]


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
    assert (
        'Chosen on validation: <strong data-ranker-choice="lambdarank">LambdaRank</strong>' in html
    )
    assert "best NDCG@10 on held-out validation shoppers" in html
    # An older record with one NDCG table: the score against the best source is worked out from it.
    assert ranker_table(html) == [
        ["Contender", "vs best source", "NDCG@10"],
        ["LambdaRank served", "1.39", "0.251"],
        ["tuned blend", "1.28", "0.231"],
        ["source: ALS", "1.00", "0.180"],
    ]
    assert "ranker: top features" in html and "taste 41.5" in html


def test_model_page_shows_the_guards_scores_as_a_table_with_readable_names(
    app, as_admin, small_shop
):
    run = train_and_publish(app)
    assert run.status == "succeeded", run.error
    model_store.store().get().metadata_["ranker"] = ENGINE_REPORT

    html = as_admin.get("/admin/model").get_data(as_text=True)

    assert (
        'Chosen on validation: <strong data-ranker-choice="logit">logistic ranker</strong>' in html
    )
    assert ranker_table(html) == [
        ["Contender", "vs best source", "NDCG@10 random", "NDCG@10 time"],
        ["logistic ranker served", "1.02", "0.892", "0.786"],
        ["tuned blend", "1.00", "0.892", "0.747"],
        ["LambdaRank", "0.98", "0.862", "0.749"],
        ["source: EASE", "0.86", "0.769", "0.066"],
    ]
    card = re.search(r'<div class="card shadow-sm" id="ranker">.*?</dl>', html, re.S).group(0)
    assert 'class="table-primary" data-contender="logit"' in card  # the served one stands out
    text = " ".join(re.sub(r"<[^>]+>", " ", card).split())  # what a reader sees
    assert "source:ease" not in text and "0.06598" not in text  # no engine keys or raw figures
    assert "ndcg@10:" not in text and "protocols" not in text
    assert "ranker: C 0.09487" in text  # the rest is still listed


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
    assert ("validation cases (shoppers with held-out choices, once per holdout)", "212") in (
        choice.details
    ) and ("folds", "2") in choice.details
    assert ("ranker: kind", "lambdarank") in choice.details
    assert ("ranker: top features", "taste 41.5, popularity 7.25") in choice.details
    assert [(c.label, c.chosen) for c in choice.contenders] == [
        ("LambdaRank", True),
        ("tuned blend", False),
        ("source: ALS", False),
    ]
    assert choice.contenders[-1].relative == 1.0 and choice.columns == ["NDCG@10"]


def test_ranker_choice_tabulates_the_engines_scores_per_protocol():
    choice = report.ranker_choice({"ranker": ENGINE_REPORT})

    assert choice.chosen == "logit" and choice.chosen_label == "logistic ranker"
    assert choice.columns == ["NDCG@10 random", "NDCG@10 time"]
    assert [c.name for c in choice.contenders] == ["logit", "blend", "lambdarank", "source:ease"]
    assert choice.contenders[0].relative == 1.024
    assert choice.contenders[-1].figures == (0.7693, 0.06598)
    shown = dict(choice.details)
    assert "ndcg@10: time" not in shown and "protocols" not in shown
    assert shown["ranker: kind"] == "logit" and shown["folds"] == "time, random"


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("lambdarank", "LambdaRank"),
        ("logit", "logistic ranker"),
        ("blend", "tuned blend"),
        ("source:ease", "source: EASE"),
        ("source:itemknn", "source: item k-NN"),
        ("source:taste", "source: taste"),
        ("source:taste_events", "source: taste, every event counted"),
        ("lambdarank:0.25", "LambdaRank, future weight 0.25"),
        ("something_new", "something_new"),
    ],
)
def test_contenders_have_human_labels(name, label):
    assert report.contender_label(name) == label


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
