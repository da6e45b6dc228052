"""``flask worker``: the process that runs queued jobs (retraining) and the retrain schedule."""

from __future__ import annotations

import contextlib
import logging
import os

import click
from flask import current_app
from flask.cli import with_appcontext


def lower_priority(increment: int) -> None:
    """Nice this process, including threads already started (BLAS pools start at numpy's import).

    On Linux a nice value belongs to a thread; threads started later (the fitting thread, OpenMP's)
    inherit it from the thread that starts them.
    """
    os.nice(increment)
    target = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        thread_ids = [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return
    for tid in thread_ids:
        with contextlib.suppress(OSError):  # the thread has ended
            os.setpriority(os.PRIO_PROCESS, tid, target)


@click.command("worker")
@click.option(
    "--nice",
    type=click.IntRange(0, 19),
    default=None,
    help="CPU priority increment (default SHOP_WORKER_NICE, 19): web requests come first.",
)
@with_appcontext
def worker_command(nice: int | None) -> None:
    """Run the background worker until Ctrl-C (or SIGTERM).

    Takes retrain jobs from the queue (a SQLite file, or Redis when REDIS_URL is set) and runs the
    retrain schedule (SHOP_RETRAIN_SCHEDULE) and the daily prune of old experiment impressions
    (SHOP_IMPRESSION_RETENTION_DAYS). On start it marks failed every run whose worker died
    before finishing it, so a killed worker never blocks the next retrain. It runs at the lowest CPU
    priority so that a fit takes only the time the web workers leave idle.
    """
    from shop import jobs
    from shop.experiments import tasks as experiment_tasks  # noqa: F401 (registers the prune)
    from shop.training import tasks
    from shop.training.runs import fail_orphans, worker_id

    app = current_app._get_current_object()
    if app.config.get("SHOP_JOBS_IMMEDIATE"):
        raise click.ClickException("SHOP_JOBS_IMMEDIATE is on: jobs run in the caller, no worker")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    increment = app.config["SHOP_WORKER_NICE"] if nice is None else nice
    if increment:
        lower_priority(increment)
    jobs.bind_worker_app(app)
    stale = app.config["SHOP_RETRAIN_STALE_MINUTES"]
    for run_id in fail_orphans(stale):
        click.echo(f"Training run #{run_id} was left unfinished by a dead worker: marked failed.")
    schedule = tasks.SCHEDULE_TEXT if tasks.SCHEDULE is not None else "off"
    click.echo(
        f"Worker {worker_id()} on {jobs.describe(app)}; retrain schedule: {schedule}; nice {increment}"
    )
    consumer = jobs.huey.create_consumer(workers=1, worker_type="thread", periodic=True)
    try:
        consumer.run()
    finally:
        for run_id in fail_orphans(stale, stopping=worker_id()):
            click.echo(f"Training run #{run_id} was interrupted by the shutdown: marked failed.")


COMMANDS = (worker_command,)
