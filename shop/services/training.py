"""Retraining the recommendation engine in the background, started from the admin's model page.

A fit over the whole database takes far longer than a request may, so the request only records a
``TrainingRun`` (status ``running``, progress 0) and hands it to a daemon thread in the same
process; the page polls the run's JSON and shows progress. The fitting itself belongs to
``shop.services.training_pipeline.train_and_publish``, which saves the model atomically, re-points
the store and fills in the run; this module only starts it, reports progress and records failures.

A thread dies with its process, so a run left ``running`` longer than ``SHOP_RETRAIN_STALE_MINUTES``
(a worker restarted mid-fit) is marked failed instead of blocking every later retrain.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from shop.extensions import db
from shop.models import TrainingRun

log = logging.getLogger(__name__)

DEFAULT_STALE_MINUTES = 120

Trainer = Callable[..., TrainingRun]

_threads: dict[int, threading.Thread] = {}


class RetrainRefused(Exception):
    """A retrain cannot start now (one is already running); the message says why."""


def load_trainer() -> Trainer:
    """The real training function, imported only when a retrain starts (tests replace this)."""
    from shop.services.training_pipeline import train_and_publish

    return train_and_publish


def _as_aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def running_run(stale_minutes: int = DEFAULT_STALE_MINUTES) -> TrainingRun | None:
    """The run in progress, if any; runs older than ``stale_minutes`` are marked failed first."""
    runs = db.session.scalars(
        select(TrainingRun).where(TrainingRun.status == "running").order_by(TrainingRun.id.desc())
    ).all()
    cutoff = datetime.now(UTC) - timedelta(minutes=stale_minutes)
    current = None
    for run in runs:
        if _as_aware(run.started_at) < cutoff and run.id not in _alive_ids():
            run.status = "failed"
            run.error = "The training process stopped before it finished (stale run)."
            run.finished_at = datetime.now(UTC)
        elif current is None:
            current = run
    return current


def _alive_ids() -> set[int]:
    return {run_id for run_id, thread in _threads.items() if thread.is_alive()}


def start_retrain(app: Flask, requested_by_id: int | None) -> int:
    """Record a new run, commit it and start fitting in a daemon thread; returns its id at once.

    Raises :class:`RetrainRefused` when another run is in progress. The caller's transaction must be
    a write transaction (a POST) so two admins cannot both pass the check on SQLite.
    """
    stale = int(app.config.get("SHOP_RETRAIN_STALE_MINUTES", DEFAULT_STALE_MINUTES))
    current = running_run(stale)
    if current is not None:
        db.session.commit()
        raise RetrainRefused(
            f"Training run #{current.id} is still running ({current.progress}%). "
            "Wait for it to finish before starting another."
        )
    try:
        trainer = load_trainer()
    except ImportError as exc:
        db.session.commit()
        raise RetrainRefused(f"The training pipeline is not available: {exc}") from exc
    run = TrainingRun(
        status="running", progress=0, message="Queued", requested_by_id=requested_by_id
    )
    db.session.add(run)
    db.session.flush()
    run_id = run.id  # read before the commit expires it: no new transaction after the commit
    db.session.commit()
    thread = threading.Thread(
        target=_run_in_background,
        args=(app, run_id, trainer),
        name=f"retrain-{run_id}",
        daemon=True,
    )
    _threads[run_id] = thread
    thread.start()
    return run_id


def wait_for(run_id: int, timeout: float = 60.0) -> bool:
    """Block until a background run started by this process ends (the tests wait on it)."""
    thread = _threads.get(run_id)
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()


def _run_in_background(app: Flask, run_id: int, trainer: Trainer) -> None:
    with app.app_context():
        try:

            def progress(percent: int, message: str) -> None:
                # The pipeline commits progress to the run row itself; the log helps operators.
                log.info("Training run %s: %s%% %s", run_id, percent, message)

            trainer(app, run_id=run_id, progress=progress)
            run = db.session.get(TrainingRun, run_id)
            db.session.refresh(run)
            if run.status == "running":
                run.status = "succeeded"
                run.progress = 100
                run.finished_at = run.finished_at or datetime.now(UTC)
            db.session.commit()
        except Exception as exc:  # the thread must record every failure, whatever its kind
            log.exception("Training run %s failed", run_id)
            db.session.rollback()
            run = db.session.get(TrainingRun, run_id)
            if run is not None:
                run.status = "failed"
                run.error = f"{type(exc).__name__}: {exc}"[:2000]
                run.message = "Failed"
                run.finished_at = datetime.now(UTC)
                db.session.commit()
        finally:
            store = app.extensions.get("recommender_store")
            if store is not None:
                store.invalidate()
            db.session.remove()


# --- Reading a run's metrics for the model page -----------------------------------------------

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
    from shop.services.training_pipeline import topn_key

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
    from shop.services.training_pipeline import PROTOCOLS, protocol_caption, topn_key

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


@dataclass(frozen=True)
class RankerChoice:
    """What the engine's guard chose to serve, and the validation figures behind the choice."""

    chosen: str
    reason: str | None = None
    #: The candidates' validation scores, best first: (metric, [(candidate, score), ...]).
    metric: str | None = None
    scores: list[tuple[str, float]] = field(default_factory=list)
    details: list[tuple[str, str]] = field(default_factory=list)


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


def _label(name: Any) -> str:
    return str(name).replace("_", " ")


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
    details = []
    for name, value in record.items():
        if name in (key, "reason", metric) or value is None:
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
        "total_seconds": ((metrics or {}).get("seconds") or {}).get("total"),
    }


def recent_runs(limit: int = 20) -> list[TrainingRun]:
    return list(
        db.session.scalars(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit))
    )


def run_for_version(version: str | None) -> TrainingRun | None:
    if not version:
        return None
    return db.session.scalar(select(TrainingRun).where(TrainingRun.model_version == version))


def run_as_json(run: TrainingRun) -> dict:
    """What the model page's poller reads."""
    return {
        "id": run.id,
        "status": run.status,
        "progress": run.progress,
        "message": run.message,
        "model_version": run.model_version,
        "error": run.error,
        "finished": run.status != "running",
    }
