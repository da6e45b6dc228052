"""The retraining jobs: "Retrain now" queues one, the worker runs it, and a schedule adds its own.

The web request only records a queued :class:`~shop.models.TrainingRun` and enqueues :func:`retrain`
with its id; the worker process fits, evaluates and publishes, writing progress to the row that every
web worker reads. ``SHOP_RETRAIN_SCHEDULE`` (cron syntax in local time, read when this module is
imported; ``off`` disables it) makes the worker queue a run of its own, marked "scheduled".
"""

from __future__ import annotations

import logging
import os

from flask import Flask
from huey import crontab

from config import DEFAULT_RETRAIN_SCHEDULE
from shop.jobs import huey, task_app

log = logging.getLogger(__name__)

OFF = {"off", "none", "never", "disabled"}


def parse_schedule(text: str | None):
    """A cron expression (minute hour day month weekday) as Huey's test, or None for "off"."""
    text = (text if text is not None else DEFAULT_RETRAIN_SCHEDULE).strip()
    if text.lower() in OFF:
        return None
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"SHOP_RETRAIN_SCHEDULE must be five cron fields (minute hour day month weekday) "
            f"or 'off', got {text!r}"
        )
    minute, hour, day, month, weekday = fields
    try:
        return crontab(minute, hour, day, month, weekday, strict=True)
    except ValueError as exc:
        raise ValueError(f"SHOP_RETRAIN_SCHEDULE {text!r} is not valid cron syntax: {exc}") from exc


SCHEDULE_TEXT = os.environ.get("SHOP_RETRAIN_SCHEDULE", DEFAULT_RETRAIN_SCHEDULE)
SCHEDULE = parse_schedule(SCHEDULE_TEXT)


def _log_progress(run_id: int):
    def progress(percent: int, message: str) -> None:
        log.info("Training run %s: %s%% %s", run_id, percent, message)

    return progress


def _fit(app: Flask, run_id: int) -> None:
    from shop.training.runs import train_and_publish

    train_and_publish(app, run_id=run_id, progress=_log_progress(run_id))
    store = app.extensions.get("recommender_store")
    if store is not None:
        store.invalidate()


@huey.task(name="retrain")
def retrain(run_id: int) -> None:
    """Fit, evaluate and publish for a run queued by :func:`request_retrain`."""
    _fit(task_app(), run_id)


def request_retrain(app: Flask, requested_by_id: int | None) -> int:
    """Queue a manual run and its job; returns the run id at once.

    Raises ``RetrainRefused`` while another run is queued or running, or when the queue cannot take
    the job (the run is then marked failed with the reason).
    """
    from shop.training.runs import RetrainRefused, fail_run, queue_run

    run_id = queue_run(
        "manual", requested_by_id, stale_minutes=app.config["SHOP_RETRAIN_STALE_MINUTES"]
    )
    try:
        retrain(run_id)
    except Exception as exc:  # the queue's storage is unreachable (Redis down, disk full)
        log.exception("Could not queue training run %s", run_id)
        fail_run(run_id, f"The job queue did not accept the run: {type(exc).__name__}: {exc}")
        raise RetrainRefused(f"The job queue is not available ({type(exc).__name__}).") from exc
    return run_id


def scheduled_retrain() -> int | None:
    """The schedule's run: queue it (unless one is active) and fit it in this worker."""
    from shop.training.runs import RetrainRefused, queue_run

    app = task_app()
    with app.app_context():
        try:
            run_id = queue_run("scheduled", stale_minutes=app.config["SHOP_RETRAIN_STALE_MINUTES"])
        except RetrainRefused as exc:
            log.info("Scheduled retrain skipped: %s", exc)
            return None
    _fit(app, run_id)
    return run_id


if SCHEDULE is not None:
    huey.periodic_task(SCHEDULE, name="scheduled-retrain")(scheduled_retrain)
