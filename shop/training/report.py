"""The report tables of training runs: metric tables, the guard's choice, history, a run's JSON.

What the admin's model page and ``flask train``/``flask evaluate`` show. Runs are queued and fitted
elsewhere (:mod:`shop.training.tasks`, :mod:`shop.training.runs`); this module only reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select

from shop.extensions import db
from shop.models import TrainingRun
from shop.training.evaluation import PROTOCOLS, RANDOM_TEST_FRACTION, topn_key

# --- Reading a run's metrics for the model page -----------------------------------------------

#: How the history table names what started a run.
TRIGGER_LABELS = {"manual": "by hand", "scheduled": "scheduled", "command": "command line"}

TOPN_COLUMNS = ("precision", "recall", "ndcg", "map", "coverage", "n_users")
RATING_COLUMNS = ("rmse", "mae", "n_test")


def _section(metrics: dict | None, name: str) -> tuple[dict, str | None]:
    section = (metrics or {}).get(name) or {}
    if not isinstance(section, dict):
        return {}, None
    if "skipped" in section:
        return {}, str(section["skipped"])
    return section.get("models") or {}, None


def _model_rows(
    metrics: dict | None, name: str, columns: tuple[str, ...]
) -> tuple[list[dict], str | None]:
    """One table row per algorithm in a metrics section, with only the given columns."""
    models, skipped = _section(metrics, name)
    rows = [
        {"model": model, **{c: values.get(c) for c in columns}}
        for model, values in models.items()
        if isinstance(values, dict)
    ]
    return rows, skipped


def topn_rows(metrics: dict | None, protocol: str = "time") -> tuple[list[dict], str | None]:
    """Ranking metrics per algorithm (best NDCG first), and why they are missing if they are."""
    rows, skipped = _model_rows(metrics, topn_key(protocol), TOPN_COLUMNS)
    rows.sort(key=lambda r: -(r["ndcg"] or 0.0))
    return rows, skipped


@dataclass(frozen=True)
class TopNTable:
    """One evaluation protocol's table on the model page."""

    protocol: str
    caption: str
    rows: list[dict]
    skipped: str | None


def topn_tables(metrics: dict | None) -> list[TopNTable]:
    """A table per evaluation protocol, the time split first; a run from before a protocol existed
    says it was not measured rather than showing nothing."""
    k = int((metrics or {}).get("k", 10))
    tables = []
    for protocol in PROTOCOLS:
        rows, skipped = topn_rows(metrics, protocol)
        section = (metrics or {}).get(topn_key(protocol))
        split = section.get("split", {}) if isinstance(section, dict) else {}
        if metrics and section is None:
            skipped = "Not measured for this model (it was trained before this protocol existed)."
        tables.append(TopNTable(protocol, protocol_caption(protocol, split, k), rows, skipped))
    return tables


#: How the model page names the guard's contenders; a single source is "source: <its name>".
CONTENDER_LABELS = {"lambdarank": "LambdaRank", "logit": "logistic ranker", "blend": "tuned blend"}
SOURCE_LABELS = {
    "als": "ALS",
    "ease": "EASE",
    "svd": "SVD",
    "itemknn": "item k-NN",
    "copurchase": "co-purchase",
    "new": "new arrivals",
    "taste_events": "taste, every event counted",
}
_SOURCE = "source:"


def contender_label(name: str) -> str:
    """``"source:ease"`` -> ``"source: EASE"``, ``"logit"`` -> ``"logistic ranker"``; others as they are."""
    if name.startswith(_SOURCE):
        source = name.removeprefix(_SOURCE)
        return f"source: {SOURCE_LABELS.get(source, source)}"
    # "lambdarank:0.5": LambdaRank serving half the shopper's future, half the gaps in their past.
    kind, _, weight = name.partition(":")
    if weight and kind in CONTENDER_LABELS:
        return f"{CONTENDER_LABELS[kind]}, future weight {weight}"
    return CONTENDER_LABELS.get(name, name)


@dataclass(frozen=True)
class Contender:
    """One row of the guard's table on the model page."""

    name: str
    label: str
    #: Its validation NDCG divided by the best single source's (1.0: as good as the best source).
    relative: float | None
    #: Its figure in each of :attr:`RankerChoice.columns`, None where it has none.
    figures: tuple[float | None, ...]
    chosen: bool


@dataclass(frozen=True)
class RankerChoice:
    """What the engine's guard chose to serve, and the validation figures behind the choice."""

    chosen: str
    reason: str | None = None
    #: The candidates' validation scores, best first: (metric, [(candidate, score), ...]).
    metric: str | None = None
    scores: list[tuple[str, float]] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)
    #: The table the page shows: a row per contender (best first) and the headers of its figures.
    contenders: list[Contender] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    @property
    def chosen_label(self) -> str:
        return contender_label(self.chosen)


#: Keys of ``metadata_["ranker"]`` that may name the choice, in the order they are tried.
_CHOICE_KEYS = ("chosen", "choice", "served", "ranker", "name", "kind")


def _shown_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_shown_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_shown_value(v) for v in value)
    return str(value)


def _is_score_table(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values())
    )


#: Record keys whose own name would mislead an owner: the guard's "n_users" counts validation cases
#: (a shopper with held-out choices in both holdouts counts twice), not the shoppers learned from.
DETAIL_LABELS = {"n_users": "validation cases (shoppers with held-out choices, once per holdout)"}


def _label(name: Any) -> str:
    return DETAIL_LABELS.get(str(name), str(name).replace("_", " "))


def _metric_label(name: str) -> str:
    head, at, k = name.partition("@")
    return f"{head.upper()}{at}{k}" if head.lower() in ("ndcg", "map") else _label(name)


#: The key under which the guard records each contender's score relative to the best single source.
_RELATIVE = "score"


def _contenders(record: dict, chosen: str | None) -> tuple[list[Contender], list[str], set[str]]:
    """The guard's scores as one table: relative score first, then each metric (per protocol).

    Reads flat tables (``{"ndcg@10": {contender: value}}``) and tables per protocol
    (``{"ndcg@10": {"time": {...}, "random": {...}}}``). Without a recorded relative score it is
    worked out from the first table against its best single source. Returns the rows, the column
    headers and the record keys the table used, so they are not listed again as details.
    """
    tables: list[tuple[str, dict]] = []
    used: set[str] = set()
    relative: dict | None = None
    for name, value in record.items():
        if name == _RELATIVE and _is_score_table(value):
            relative = value
            used.add(name)
        elif _is_score_table(value):
            tables.append((_metric_label(name), value))
            used.add(name)
        elif isinstance(value, dict) and value and all(map(_is_score_table, value.values())):
            tables += [(f"{_metric_label(name)} {sub}", t) for sub, t in value.items()]
            used.add(name)
    if relative is None and tables:
        first = tables[0][1]
        best = max((v for n, v in first.items() if str(n).startswith(_SOURCE)), default=0)
        relative = {n: v / best for n, v in first.items()} if best > 0 else None
    names = list(dict.fromkeys([*(relative or {}), *(n for _, t in tables for n in t)]))
    if not names:
        return [], [], used
    rows = [
        Contender(
            name=str(n),
            label=contender_label(str(n)),
            relative=float(relative[n]) if relative and n in relative else None,
            figures=tuple(float(t[n]) if n in t else None for _, t in tables),
            chosen=n == chosen,
        )
        for n in names
    ]
    rows.sort(key=lambda c: -(c.relative if c.relative is not None else (c.figures or [0])[0] or 0))
    if any(isinstance(record.get(k), dict) for k in used - {_RELATIVE}):
        used.add("protocols")  # the per-protocol columns name them
    return rows, [header for header, _ in tables], used


def ranker_choice(metadata: dict | None) -> RankerChoice | None:
    """The guard's choice from the served model's metadata, or None when the model records none.

    The engine records it as ``metadata_["ranker"]``: a name, or a mapping with the name, the reason,
    the candidates' validation scores (a mapping of numbers, shown as a table) and whatever else it
    keeps (listed as it is, nested mappings one level deep), so a new figure shows up without a
    change here.
    """
    record = (metadata or {}).get("ranker")
    if record is None or record == {}:
        return None
    if not isinstance(record, dict):
        return RankerChoice(_shown_value(record))
    key = next((k for k in _CHOICE_KEYS if isinstance(record.get(k), str)), None)
    reason = record.get("reason")
    metric = next((name for name, value in record.items() if _is_score_table(value)), None)
    scores = sorted(
        ((str(name), float(v)) for name, v in (record[metric] if metric else {}).items()),
        key=lambda pair: -pair[1],
    )
    contenders, columns, tabled = _contenders(record, record[key] if key else None)
    details = []
    for name, value in record.items():
        if name in (key, "reason", metric) or name in tabled or value is None:
            continue
        if isinstance(value, dict):
            details += [
                (f"{_label(name)}: {_label(sub)}", _shown_value(v))
                for sub, v in value.items()
                if v is not None
            ]
        else:
            details.append((_label(name), _shown_value(value)))
    return RankerChoice(
        chosen=record[key] if key else "recorded",
        reason=str(reason) if reason is not None else None,
        metric=metric,
        scores=scores,
        details=details,
        contenders=contenders,
        columns=columns,
    )


def rating_rows(metrics: dict | None) -> tuple[list[dict], str | None]:
    """Rating-prediction errors per algorithm (lowest RMSE first), and why they are missing."""
    rows, skipped = _model_rows(metrics, "ratings", RATING_COLUMNS)
    rows.sort(key=lambda r: r["rmse"] if r["rmse"] is not None else float("inf"))
    return rows, skipped


def headline(metrics: dict | None, model: str = "hybrid") -> dict[str, float | None]:
    """The figures the history table compares between runs: the served model and the baseline."""
    models, _ = _section(metrics, "topn")
    served = models.get(model) or {}
    baseline = models.get("popularity") or {}
    return {
        "k": (metrics or {}).get("k", 10),
        "recall": served.get("recall"),
        "ndcg": served.get("ndcg"),
        "precision": served.get("precision"),
        "baseline_ndcg": baseline.get("ndcg"),
        "vs_best_sellers": personal_vs_best_sellers(metrics, model),
        "total_seconds": ((metrics or {}).get("seconds") or {}).get("total"),
    }


# --- The model page in the owner's words -------------------------------------------------------

#: What the evaluation counts as a shopper choosing a product (the time split's positives).
CHOSEN = "bought, liked or put in their cart"


def personal_vs_best_sellers(metrics: dict | None, model: str = "hybrid") -> float | None:
    """How many times as often the personal list held what shoppers chose next as the best-seller
    list did: the served model's recall@k over popularity's, on the time split. None when either is
    missing or best sellers found nothing to divide by."""
    models, _ = _section(metrics, "topn")
    served = (models.get(model) or {}).get("recall")
    baseline = (models.get("popularity") or {}).get("recall")
    if served is None or not baseline:
        return None
    return float(served) / float(baseline)


@dataclass(frozen=True)
class PlainSummary:
    """The model page's lead: one sentence an owner can act on, and the counts behind it."""

    sentence: str
    ratio: float | None = None
    #: Days of history the comparison was measured on (the time split's cut to the last event).
    days: int | None = None
    #: Shoppers whose later choices were hidden from the model and used to check it.
    tested_shoppers: int | None = None
    since: str | None = None


def _when(metrics: dict) -> tuple[int | None, str | None]:
    split = (metrics.get("topn") or {}).get("split") or {}
    if not split.get("cut"):
        return None, None
    cut = pd.Timestamp(split["cut"])
    since = cut.strftime("%d %b %Y").lstrip("0")
    if not split.get("end"):
        return None, since
    seconds = (pd.Timestamp(split["end"]) - cut).total_seconds()
    return max(1, -(-int(seconds) // 86400)), since


def plain_summary(metrics: dict | None, model: str = "hybrid") -> PlainSummary:
    """The lead: "Personal recommendations are 1.8× as likely to be bought, liked or put in a cart
    as best sellers, measured on the last 12 days of history", or an honest sentence when there is
    no such figure or it is below 1."""
    models, skipped = _section(metrics, "topn")
    if not metrics or (not models and not skipped):
        return PlainSummary(
            "Not measured yet: retrain the model to see how its personal recommendations compare "
            "with simply showing best sellers."
        )
    if skipped:
        return PlainSummary(f"Not measured on the latest training: {skipped}")
    days, since = _when(metrics)
    period = (
        f"measured on the last {days} day{'s' if days != 1 else ''} of history"
        if days
        else f"measured on shoppers' activity since {since}"
        if since
        else "measured on the latest history"
    )
    tested = (models.get(model) or {}).get("n_users")
    ratio = personal_vs_best_sellers(metrics, model)
    served = (models.get(model) or {}).get("recall")
    facts = {"days": days, "tested_shoppers": tested, "since": since}
    if ratio is None:
        if served:
            return PlainSummary(
                f"Personal recommendations found what shoppers {CHOSEN} next; best sellers found "
                f"none of it ({period}).",
                **facts,
            )
        return PlainSummary(
            f"Neither personal recommendations nor best sellers predicted what shoppers {CHOSEN} "
            f"next ({period}): there is too little history to tell them apart yet.",
            **facts,
        )
    if ratio >= 1.05:
        sentence = (
            f"Personal recommendations are {ratio:.1f}× as likely to be {CHOSEN.replace('their', 'a')} "
            f"as best sellers, {period}."
        )
    elif ratio > 0.95:
        sentence = (
            f"Personal recommendations do about as well as best sellers ({ratio:.1f}×), {period}: "
            "they add little yet."
        )
    else:
        sentence = (
            f"Best sellers do better than personal recommendations for now: a personal list is "
            f"{ratio:.1f}× as likely to hold what shoppers {CHOSEN} next, {period}. Retrain "
            "when more history has come in."
        )
    return PlainSummary(sentence, ratio, **facts)


def recent_runs(limit: int = 20) -> list[TrainingRun]:
    return list(
        db.session.scalars(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit))
    )


def latest_evaluated_run() -> TrainingRun | None:
    """The newest successful run that recorded an evaluation (the model page's lead sentence reads
    it when the model being served has none of its own, e.g. a model file trained elsewhere)."""
    runs = db.session.scalars(
        select(TrainingRun)
        .where(TrainingRun.status == "succeeded")
        .order_by(TrainingRun.id.desc())
        .limit(20)
    )
    return next((run for run in runs if run.metrics), None)


def run_for_version(version: str | None) -> TrainingRun | None:
    if not version:
        return None
    return db.session.scalar(select(TrainingRun).where(TrainingRun.model_version == version))


def run_as_json(run: TrainingRun) -> dict:
    """What the model page's poller reads."""
    return {
        "id": run.id,
        "status": run.status,
        "trigger": run.trigger,
        "progress": run.progress,
        "message": run.message,
        "model_version": run.model_version,
        "error": run.error,
        "finished": run.status in ("succeeded", "failed"),
    }


# --- Plain-text tables for the command line ---------------------------------------------------


def protocol_caption(protocol: str, split: dict[str, Any], k: int = 10) -> str:
    """How a top-n table was measured, in words (the CLI's and the model page's caption)."""
    if protocol == "time":
        cut = split.get("cut")
        when = pd.Timestamp(cut).strftime("%Y-%m-%d %H:%M UTC") if cut else "?"
        return f"Top-{k}, time split at {when}: held-out later positives"
    share = round(100 * float(split.get("test_fraction", RANDOM_TEST_FRACTION)))
    return (
        f"Top-{k}, random per-user {100 - share}/{share} holdout (seed {split.get('seed', '?')}): "
        f"held-out products of each shopper"
    )


def render_metrics(metrics: dict[str, Any]) -> str:
    """The metrics dict as the two plain-text tables the CLI prints."""
    from shop.recommend import RatingScore, TopNScore, render_table

    k = int(metrics.get("k", 10))
    parts = []
    ratings = metrics.get("ratings") or {}
    if "models" in ratings:
        scores = [RatingScore(name, **values) for name, values in ratings["models"].items()]
        parts.append("Explicit ratings (random 80/20 split)\n" + render_table(scores, k))
    elif ratings:
        parts.append(f"Explicit ratings: skipped ({ratings.get('skipped')})")
    for protocol in PROTOCOLS:
        topn = metrics.get(topn_key(protocol)) or {}
        if "models" in topn:
            scores = [TopNScore(name, **values) for name, values in topn["models"].items()]
            caption = protocol_caption(protocol, topn.get("split", {}), k)
            parts.append(caption + "\n" + render_table(scores, k))
        elif topn:
            parts.append(f"Top-{k}, {protocol} protocol: skipped ({topn.get('skipped')})")
    return "\n\n".join(parts)
