"""Training the recommendation engine on the shop's data and publishing it to every worker.

One function, :func:`train_and_publish`, serves the ``flask train`` command, the admin's "Retrain now"
button and the nightly schedule (both run it in the worker process, see ``shop.training.tasks``). It
records its progress in a :class:`~shop.models.TrainingRun` row in short transactions, so any web
worker polling that row sees each phase as it happens, and it publishes a model only once the file is
completely written: a crash at any point leaves the previous model and pointer serving the site.

This module is the only writer of a run's status. A run is ``queued`` (:func:`queue_run`, which
refuses while another run is queued or running), then ``running`` in one process, then ``succeeded``
or ``failed``. A run whose process died (SIGKILL, a restart) is failed by :func:`fail_orphans`, which
every worker calls as it starts.

``run.metrics`` has this shape (every section may instead hold ``{"skipped": "<why>"}``)::

    {"k": 10,
     "topn": {"split": {"protocol": "time", "cut": iso-time, "n_train": int, "n_test_users": int,
                        "n_test_pairs": int},
              "models": {"popularity": {"precision": f, "recall": f, "ndcg": f, "map": f,
                                        "coverage": f, "n_users": int}, "svd": {...}, ...,
                         "ease": {...}, "hybrid": {...}}},
     "topn_random": {"split": {"protocol": "random", "test_fraction": 0.25, "seed": int, ...},
                     "models": {...}},
     "ratings": {"models": {"global_mean": {"rmse": f, "mae": f, "n_test": int},
                            "baseline_only": {...}, "svd": {...}}},
     "seconds": {"read": f, "fit": f, "evaluate": f, "save": f, "total": f}}
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shop.extensions import db
from shop.models import TrainingRun
from shop.services.caches import forget_shop_figures

log = logging.getLogger(__name__)

MODEL_PREFIX = "model-"
MODEL_SUFFIX = ".joblib"
#: Model files kept on disk (the current one is always kept): enough to roll back by hand.
KEEP_MODELS = 5
#: Shoppers sampled for the top-n evaluation during training; bounds its time on big logs.
TRAIN_EVAL_USERS = 500
TOPN_VARIANTS = ("popularity", "content", "itemknn", "als", "svd", "hybrid")
#: How top-n lists are evaluated: "time" trains on the past and tests on each shopper's later
#: positives; "random" holds out a seeded random quarter of each shopper's products.
PROTOCOLS = ("time", "random")
RANDOM_TEST_FRACTION = 0.25
NO_INTERACTIONS = "no interactions yet: run `flask --app shop seed`"
#: A run still queued or running after this long is taken as lost (SHOP_RETRAIN_STALE_MINUTES).
DEFAULT_STALE_MINUTES = 120
ACTIVE_STATUSES = ("queued", "running")

Progress = Callable[[int, str], None]


class NoTrainingDataError(RuntimeError):
    """The database holds no interactions or no products: there is nothing to learn from."""


class RetrainRefused(Exception):
    """A retrain cannot start now (one is already queued or running); the message says why."""


# --- evaluation ------------------------------------------------------------------------------


def _topn_section(scores) -> dict[str, dict[str, float]]:
    return {
        s.model: {
            "precision": s.precision,
            "recall": s.recall,
            "ndcg": s.ndcg,
            "map": s.map,
            "coverage": s.coverage,
            "n_users": s.n_users,
        }
        for s in scores
    }


def topn_variants() -> tuple[str, ...]:
    """The models the top-n tables score: the usual ones the engine offers, and EASE when it has it.

    Read from the engine at run time, so a build that adds or drops a variant changes the tables
    without touching this module. Popularity and EASE are the yardsticks the hybrid is judged by.
    """
    from shop.recommend import VARIANTS

    usual = [v for v in TOPN_VARIANTS if v in VARIANTS and v != "hybrid"]
    if "ease" in VARIANTS and "ease" not in usual:
        usual.append("ease")
    return (*usual, "hybrid") if "hybrid" in VARIANTS else tuple(usual)


def topn_key(protocol: str) -> str:
    """The metrics section a protocol's table lives in ("topn" for the time split, as before)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {list(PROTOCOLS)}")
    return "topn" if protocol == "time" else f"topn_{protocol}"


def _protocol_split(interactions: pd.DataFrame, protocol: str, random_state: int):
    """The split a protocol evaluates on, and how it was made (for the tables' captions)."""
    from shop.recommend import random_split, time_split

    if protocol == "time":
        split = time_split(interactions)
        return split, {"protocol": "time", "cut": split.cut.isoformat()}
    split = random_split(
        interactions, test_fraction=RANDOM_TEST_FRACTION, random_state=random_state
    )
    return split, {
        "protocol": "random",
        "test_fraction": RANDOM_TEST_FRACTION,
        "seed": random_state,
    }


def _topn_protocol(
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    protocol: str,
    *,
    k: int,
    max_users: int | None,
    random_state: int,
) -> dict[str, Any]:
    from shop.recommend import evaluate_topn

    try:
        split, described = _protocol_split(interactions, protocol, random_state)
        if split.train.empty or split.test.empty:
            raise ValueError(f"the {protocol} split left no training events or no test positives")
        scores = evaluate_topn(
            interactions,
            products,
            k=k,
            split=split,
            variants=topn_variants(),
            max_users=max_users,
            random_state=random_state,
        )
    except ValueError as exc:
        return {"skipped": str(exc)}
    return {
        "split": {
            **described,
            "n_train": len(split.train),
            "n_test_users": int(split.test["user_id"].nunique()),
            "n_test_pairs": len(split.test),
        },
        "models": _topn_section(scores),
    }


def evaluate_shop(
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    *,
    k: int = 10,
    max_users: int | None = 2000,
    random_state: int = 0,
    protocols: tuple[str, ...] = ("time",),
) -> dict[str, Any]:
    """Offline quality of every model on this shop's data, as a JSON-ready dict (see module doc).

    Top-n metrics come from each protocol in ``protocols``: the time split (train on the past, test
    on each shopper's later positives of products new to them) and the random per-user holdout
    (a seeded quarter of each shopper's products held out). Rating error comes from a random split
    of the explicit ratings, as the prototype measured it. A part that the data cannot support (too
    few ratings, nothing after the cut) is reported as skipped with the reason instead of failing
    the whole evaluation.
    """
    from shop.recommend import evaluate_ratings

    out: dict[str, Any] = {"k": k}
    for protocol in protocols:
        out[topn_key(protocol)] = _topn_protocol(
            interactions,
            products,
            protocol,
            k=k,
            max_users=max_users,
            random_state=random_state,
        )
    try:
        rating_scores = evaluate_ratings(interactions, random_state=random_state)
        out["ratings"] = {
            "models": {
                s.model: {"rmse": s.rmse, "mae": s.mae, "n_test": s.n_test} for s in rating_scores
            }
        }
    except ValueError as exc:
        out["ratings"] = {"skipped": str(exc)}
    return out


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


# --- model files ------------------------------------------------------------------------------


def new_version(n_interactions: int = 0) -> str:
    """A unique, sortable model version: UTC time to the second plus a short hash."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(f"{time.time_ns()}:{uuid.uuid4()}:{n_interactions}".encode())
    return f"{stamp}-{digest.hexdigest()[:8]}"


def model_files(model_dir: Path) -> list[Path]:
    """Published model files, oldest first."""
    if not model_dir.is_dir():
        return []
    files = [p for p in model_dir.glob(f"{MODEL_PREFIX}*{MODEL_SUFFIX}") if p.is_file()]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def prune_models(
    model_dir: Path, keep: int = KEEP_MODELS, current: Path | None = None
) -> list[Path]:
    """Delete all but the newest ``keep`` model files (never the current one); returns what went."""
    files = model_files(model_dir)
    doomed = [p for p in files[: max(0, len(files) - keep)] if current is None or p != current]
    for path in doomed:
        try:
            path.unlink()
        except OSError as exc:  # another worker may be reading it on a platform that forbids this
            log.warning("could not delete old model file %s: %s", path.name, exc)
    return doomed


def has_loadable_model(app: Flask) -> bool:
    """True when the pointer names a model file that loads (what ``train --if-missing`` checks)."""
    store = app.extensions["recommender_store"]
    store.invalidate()
    return store.get() is not None


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


def train_and_publish(
    app: Flask,
    run_id: int | None = None,
    progress: Progress | None = None,
    *,
    evaluate: bool = True,
) -> TrainingRun:
    """Fit the engine on everything the shop knows, evaluate it, save it and point the site at it.

    ``run_id`` names a queued TrainingRun row (made by :func:`queue_run` when the job was queued);
    without it a new row is queued and run here (``flask train``), or :class:`RetrainRefused` raised
    while another run is active. A run that is no longer queued (failed as lost meanwhile) is
    returned untouched. ``progress(percent, message)`` is called at every
    phase, and the same figures are committed to the row. On failure the row is marked failed with the
    error, the previous model keeps serving, and the failed run is returned (the error is logged).
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
        new_file: Path | None = None
        published = False

        def step(percent: int, message: str) -> None:
            _set_run(run_id, progress=percent, message=message[:255])
            if progress is not None:
                try:
                    progress(percent, message)
                except Exception:  # a broken progress display must not fail the training
                    log.exception("progress callback failed")

        try:
            from shop.recommend import HybridRecommender
            from shop.services.interactions import all_interactions, products_frame

            step(5, "Reading interactions and products")
            clock = time.perf_counter()
            interactions = all_interactions()
            products = products_frame()
            db.session.commit()
            seconds["read"] = time.perf_counter() - clock
            if interactions.empty or products.empty:
                raise NoTrainingDataError(NO_INTERACTIONS)
            n_users = int(interactions["user_id"].nunique())
            step(
                15,
                f"Fitting models on {len(interactions):,} interactions from {n_users:,} shoppers",
            )
            clock = time.perf_counter()
            engine = HybridRecommender(random_state=0).fit(interactions, products)
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
            store = app.extensions["recommender_store"]
            model_dir = Path(app.config["SHOP_MODEL_DIR"])
            model_dir.mkdir(parents=True, exist_ok=True)
            version = new_version(len(interactions))
            new_file = model_dir / f"{MODEL_PREFIX}{version}{MODEL_SUFFIX}"
            engine.metadata_["model_version"] = version
            engine.save(new_file)  # atomic: a temp file, fsync, then rename
            HybridRecommender.load(new_file)  # refuse to publish a file that does not read back
            store.write_pointer(new_file, version)
            published = True
            forget_shop_figures()
            prune_models(model_dir, current=new_file)
            seconds["save"] = time.perf_counter() - clock
            seconds["total"] = time.perf_counter() - started
            metrics["seconds"] = {name: round(value, 3) for name, value in seconds.items()}

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
                    n_users=int(engine.metadata_.get("n_users", n_users)),
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
            if new_file is not None and not published:
                new_file.unlink(missing_ok=True)  # never leave an unpublished file behind
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
