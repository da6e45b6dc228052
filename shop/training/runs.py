"""A training run: fit the engine, evaluate it, publish it; the only writer of a run's status.

One function, :func:`train_and_publish`, serves the ``flask train`` command, the admin's "Retrain now"
button and the nightly schedule (both run it in the worker process, see ``shop.training.tasks``). It
records its progress in a :class:`~shop.models.TrainingRun` row in short transactions, so any web
worker polling that row sees each phase as it happens, and it publishes a model
(:func:`shop.services.model_store.publish`) only once the file is completely written: a crash at any
point leaves the previous model and pointer serving the site.

A run is ``queued`` (:func:`queue_run`, which refuses while another run is queued or running), then
``running`` in one process, then ``succeeded`` or ``failed``. A run whose process died (SIGKILL, a
restart) is failed by :func:`fail_orphans`, which every worker calls as it starts. What goes into
``run.metrics`` is described in :mod:`shop.training.evaluation`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shop.extensions import db
from shop.models import TrainingRun
from shop.services import model_store
from shop.services.caches import forget_shop_figures
from shop.training.evaluation import PROTOCOLS, evaluate_shop

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from shop.recommend import HybridRecommender
    from shop.recommend.implicit_mf import ALSModel

log = logging.getLogger(__name__)

#: Shoppers sampled for the top-n evaluation during training; bounds its time on big logs.
TRAIN_EVAL_USERS = 500
NO_INTERACTIONS = "no interactions yet: run `flask --app shop seed`"
#: A run still queued or running after this long is taken as lost (SHOP_RETRAIN_STALE_MINUTES).
DEFAULT_STALE_MINUTES = 120
ACTIVE_STATUSES = ("queued", "running")

Progress = Callable[[int, str], None]


class NoTrainingDataError(RuntimeError):
    """The database holds no interactions or no products: there is nothing to learn from."""


class RetrainRefused(Exception):
    """A retrain cannot start now (one is already queued or running); the message says why."""


# --- the run ----------------------------------------------------------------------------------


def _set_run(run_id: int, **values: Any) -> None:
    """Update the run row in its own short transaction (a write first, so SQLite never upgrades a lock)."""
    db.session.commit()  # end any read snapshot this session holds
    db.session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(**values))
    db.session.commit()


def worker_id() -> str:
    """``host:pid`` of this process, recorded on the runs it fits."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_is_gone(worker: str | None) -> bool:
    """True when ``worker`` names a process on this host that no longer exists."""
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another host's process: only the stale rule can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by someone else
    return False


def _as_aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def active_run() -> TrainingRun | None:
    """The run queued or in progress, if any (a read: nothing is marked here)."""
    return db.session.scalar(
        select(TrainingRun)
        .where(TrainingRun.status.in_(ACTIVE_STATUSES))
        .order_by(TrainingRun.id.desc())
        .limit(1)
    )


def fail_run(run_id: int, message: str) -> None:
    """Mark a run failed with the reason (it gives up the active slot)."""
    _set_run(
        run_id,
        status="failed",
        active_slot=None,
        message=f"Failed: {message}"[:255],
        error=message,
        finished_at=datetime.now(UTC),
    )


def fail_orphans(
    stale_minutes: int = DEFAULT_STALE_MINUTES, *, stopping: str | None = None
) -> list[int]:
    """Mark failed the runs nobody will finish; returns their ids.

    A run ``running`` in a process of this host that no longer exists (killed, restarted) fails at
    once, with the reason; so does any run queued or running for longer than ``stale_minutes`` (a
    run on another host whose worker vanished). ``stopping`` names this process's own worker id when
    it shuts down mid-run, so its runs fail now instead of at the next start.
    """
    db.session.commit()  # end any read snapshot
    cutoff = datetime.now(UTC) - timedelta(minutes=stale_minutes)
    failed = []
    for run in db.session.scalars(
        select(TrainingRun).where(TrainingRun.status.in_(ACTIVE_STATUSES))
    ).all():
        if stopping is not None and run.status == "running" and run.worker == stopping:
            reason = (
                f"The worker was stopped at {run.progress}% before finishing ({run.worker}). "
                "The previous model keeps serving."
            )
        elif run.status == "running" and _process_is_gone(run.worker):
            reason = (
                f"The worker stopped at {run.progress}% without finishing: it was killed or "
                f"restarted ({run.worker}, during: {run.message}). The previous model keeps serving."
            )
        elif _as_aware(run.started_at) < cutoff:
            reason = (
                f"The run was still {run.status} after {stale_minutes} minutes; its worker is "
                "taken as lost."
            )
        else:
            continue
        failed.append((run.id, reason))
    db.session.commit()
    for run_id, reason in failed:
        log.warning("Training run %s marked failed: %s", run_id, reason)
        fail_run(run_id, reason)
    return [run_id for run_id, _ in failed]


def queue_run(
    trigger: str,
    requested_by_id: int | None = None,
    *,
    stale_minutes: int = DEFAULT_STALE_MINUTES,
) -> int:
    """Record a new queued run and return its id, or raise :class:`RetrainRefused`.

    The run takes the single ``active_slot``; the unique constraint on it makes the check atomic on
    any database, so two clicks in two web workers (or a click and the schedule) start one run.
    """
    fail_orphans(stale_minutes)
    current = active_run()
    if current is None:
        run = TrainingRun(
            status="queued",
            trigger=trigger,
            active_slot=1,
            progress=0,
            message="Waiting for the worker",
            requested_by_id=requested_by_id,
        )
        db.session.add(run)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            current = active_run()
        else:
            run_id = run.id  # read before the commit expires it
            db.session.commit()
            return run_id
    db.session.commit()
    if current is None:  # the other run finished between the insert and the read
        raise RetrainRefused("Another training run just started; look again in a moment.")
    raise RetrainRefused(
        f"Training run #{current.id} is {current.status} ({current.progress}%). "
        "Wait for it to finish before starting another."
    )


def _claim_run(run_id: int) -> bool:
    """Move a queued run to running in this process; False if it is no longer queued."""
    db.session.commit()
    claimed = db.session.execute(
        update(TrainingRun)
        .where(TrainingRun.id == run_id, TrainingRun.status == "queued")
        .values(
            status="running",
            worker=worker_id(),
            progress=0,
            message="Starting",
            error=None,
            started_at=datetime.now(UTC),
            finished_at=None,
        )
    ).rowcount
    db.session.commit()
    return bool(claimed)


def _loaded_run(run_id: int) -> TrainingRun:
    """The run with every column loaded and detached, so callers can read it after the context ends."""
    db.session.expire_all()
    run = db.session.scalar(select(TrainingRun).where(TrainingRun.id == run_id))
    db.session.expunge(run)
    return run


def _stale_minutes(app: Flask) -> int:
    return int(app.config.get("SHOP_RETRAIN_STALE_MINUTES", DEFAULT_STALE_MINUTES))


BACKENDS = ("local", "spark")


def resolve_backend(app: Flask, backend: str | None) -> str:
    """The backend asked for, else the app's SHOP_TRAIN_BACKEND; unknown names raise ValueError."""
    name = (backend or app.config.get("SHOP_TRAIN_BACKEND") or "local").strip().lower()
    if name not in BACKENDS:
        raise ValueError(f"unknown training backend {name!r}; expected one of {list(BACKENDS)}")
    return name


#: The spark backend's window when SHOP_TRAIN_WINDOW_EVENTS is unset: the most recent interactions
#: the worker fits its own sources on (about 1 GB of Python at its peak, see the README), while
#: Spark reads the whole log for the served ALS.
SPARK_WINDOW_EVENTS = 2_000_000


def resolve_window(app: Flask, backend: str, window_events: int | None = None) -> int:
    """How many of the most recent interactions the worker fits on; 0 means the whole log.

    ``window_events`` (``flask train --window-events``), else SHOP_TRAIN_WINDOW_EVENTS, else the
    backend's default: the whole log locally (the local ALS needs it in memory anyway), and
    :data:`SPARK_WINDOW_EVENTS` on Spark, whose ALS reads the log from the streamed export.
    """
    value = window_events
    if value is None:
        value = app.config.get("SHOP_TRAIN_WINDOW_EVENTS")
    if value is None or value == "":
        return SPARK_WINDOW_EVENTS if backend == "spark" else 0
    value = int(value)
    if value < 0:
        raise ValueError(f"the training window must be 0 (the whole log) or more, got {value}")
    return value


def _fit_engine(
    app: Flask,
    backend: str,
    window: int,
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    step: Progress,
) -> HybridRecommender:
    """The hybrid fit on ``interactions`` (the window), with the ALS on Spark for the spark backend.

    On Spark the whole log is first streamed from the database into Parquet; the served ALS is
    fitted on it, the ranker's validation folds on the window (the session ends with the fit).
    ``metadata_["training_log"]`` records how much of the log each part saw.
    """
    from shop.recommend import HybridRecommender
    from shop.recommend.frames import DEFAULT_KIND_WEIGHTS
    from shop.recommend.hybrid import catalogue_ids
    from shop.services.interactions import interaction_count

    engine = HybridRecommender(random_state=0)
    n_users = int(interactions["user_id"].nunique())
    latest = "the latest " if window and len(interactions) >= window else ""
    fitting = (
        f"Fitting models on {latest}{len(interactions):,} interactions from {n_users:,} shoppers"
    )
    if backend == "local":
        step(15, fitting)
        engine.fit(interactions, products)
        log_events = interaction_count() if latest else len(interactions)
        als_events = engine.metadata_["n_interactions"]
    else:
        from shop.training.event_log import export_log
        from shop.training.spark_als import spark_fitter

        with spark_fitter(app.config) as fitter:
            step(10, "Exporting every interaction to Parquet in chunks")
            catalogue = catalogue_ids(products)
            exported = export_log(
                fitter.workdir / "log.parquet",
                catalogue,
                engine.kind_weights or DEFAULT_KIND_WEIGHTS,
            )

            def full_log_als(model: ALSModel) -> np.ndarray:
                step(45, f"Fitting the served ALS on Spark over all {exported.rows:,} interactions")
                return fitter.fit_parquet(
                    str(exported.path), len(catalogue), model, engine.train_half_life_days
                )

            step(15, fitting)
            engine.fit(interactions, products, als_fitter=fitter, full_log_als=full_log_als)
        engine.metadata_["als_backend"] = {"backend": "spark", "master": fitter.master}
        log_events, als_events = exported.rows_read, exported.rows
    engine.metadata_["training_log"] = {
        "window_limit": window or None,
        "window_events": int(len(interactions)),
        "log_events": int(log_events),
        "als_events": int(als_events),
    }
    return engine


def train_and_publish(
    app: Flask,
    run_id: int | None = None,
    progress: Progress | None = None,
    *,
    evaluate: bool = True,
    backend: str | None = None,
    window_events: int | None = None,
) -> TrainingRun:
    """Fit the engine on everything the shop knows, evaluate it, save it and point the site at it.

    ``run_id`` names a queued TrainingRun row (made by :func:`queue_run` when the job was queued);
    without it a new row is queued and run here (``flask train``), or :class:`RetrainRefused` raised
    while another run is active. A run that is no longer queued (failed as lost meanwhile) is
    returned untouched. ``progress(percent, message)`` is called at every
    phase, and the same figures are committed to the row. On failure the row is marked failed with the
    error, the previous model keeps serving, and the failed run is returned (the error is logged).
    ``backend`` ("local" or "spark", default SHOP_TRAIN_BACKEND) says where the collaborative ALS is
    fitted; the rest of the engine is always fitted here. ``window_events`` (default
    SHOP_TRAIN_WINDOW_EVENTS, see :func:`resolve_window`) bounds the interactions this process
    reads: the engine and the evaluation use the most recent that many, and on Spark the served
    ALS still learns from the whole log, streamed to it in chunks.
    """
    with app.app_context():
        if run_id is None:
            run_id = queue_run("command", stale_minutes=_stale_minutes(app))
        elif db.session.get(TrainingRun, run_id) is None:
            raise LookupError(f"training run {run_id} does not exist")
        if not _claim_run(run_id):
            log.warning("Training run %s is no longer queued; not starting it", run_id)
            return _loaded_run(run_id)
        started = time.perf_counter()
        seconds: dict[str, float] = {}

        def step(percent: int, message: str) -> None:
            _set_run(run_id, progress=percent, message=message[:255])
            if progress is not None:
                try:
                    progress(percent, message)
                except Exception:  # a broken progress display must not fail the training
                    log.exception("progress callback failed")

        try:
            from shop.services.interactions import (
                all_interactions,
                products_frame,
                recent_interactions,
            )

            name = resolve_backend(app, backend)
            window = resolve_window(app, name, window_events)
            if window:
                step(5, f"Reading the latest {window:,} interactions and the products")
            else:
                step(5, "Reading interactions and products")
            clock = time.perf_counter()
            interactions = recent_interactions(window) if window else all_interactions()
            products = products_frame()
            db.session.commit()
            seconds["read"] = time.perf_counter() - clock
            if interactions.empty or products.empty:
                raise NoTrainingDataError(NO_INTERACTIONS)
            clock = time.perf_counter()
            engine = _fit_engine(app, name, window, interactions, products, step)
            seconds["fit"] = time.perf_counter() - clock

            metrics: dict[str, Any] = {"k": 10}
            if evaluate:
                step(55, "Evaluating on a time split and a random per-user holdout")
                clock = time.perf_counter()
                metrics = evaluate_shop(
                    interactions, products, max_users=TRAIN_EVAL_USERS, protocols=PROTOCOLS
                )
                seconds["evaluate"] = time.perf_counter() - clock

            step(85, "Saving the model")
            clock = time.perf_counter()
            version, new_file = model_store.publish(
                engine, app.extensions["recommender_store"], len(interactions)
            )
            forget_shop_figures()
            seconds["save"] = time.perf_counter() - clock
            seconds["total"] = time.perf_counter() - started
            metrics["seconds"] = {name: round(value, 3) for name, value in seconds.items()}
            metrics["training_log"] = engine.metadata_["training_log"]

            db.session.commit()
            db.session.execute(
                update(TrainingRun)
                .where(TrainingRun.id == run_id, TrainingRun.status == "running")
                .values(
                    status="succeeded",
                    active_slot=None,
                    progress=100,
                    message=f"Published model {version}",
                    model_version=version,
                    model_path=str(new_file),
                    n_users=int(engine.metadata_["n_users"]),
                    n_products=int(engine.metadata_.get("n_products", len(products))),
                    n_interactions=int(engine.metadata_.get("n_interactions", len(interactions))),
                    metrics=metrics,
                    finished_at=datetime.now(UTC),
                )
            )
            db.session.commit()
            if progress is not None:
                progress(100, f"Published model {version}")
            log.info("Published recommendation model %s", version)
        except Exception as exc:
            db.session.rollback()
            if isinstance(exc, NoTrainingDataError):
                message = str(exc)
                log.warning("Training run %s: %s", run_id, message)
            else:
                message = f"{type(exc).__name__}: {exc}"
                log.exception("Training run %s failed; the previous model keeps serving", run_id)
            fail_run(run_id, message)
            if progress is not None:
                try:
                    progress(100, f"Failed: {message}")
                except Exception:
                    log.exception("progress callback failed")
        return _loaded_run(run_id)
