"""The experiments' background job: the daily prune of impressions past their retention.

The worker imports this module, which registers the periodic task with the queue; the task runs
in the worker (``flask worker``), never in a web request. ``flask prune-impressions`` does the same
by hand.
"""

from __future__ import annotations

import logging

from huey import crontab

from shop.jobs import huey, task_app

log = logging.getLogger(__name__)

#: Daily, at a quiet hour (local time, like the retrain schedule), after the nightly retrain.
PRUNE_SCHEDULE = crontab(minute="30", hour="4")


@huey.periodic_task(PRUNE_SCHEDULE, name="prune-impressions")
def prune_old_impressions() -> None:
    """Prune the impressions of experiments over for ``SHOP_IMPRESSION_RETENTION_DAYS``."""
    from shop.experiments.retention import prune_impressions
    from shop.templating import money

    app = task_app()
    with app.app_context():
        days = app.config["SHOP_IMPRESSION_RETENTION_DAYS"]
        report = prune_impressions(days, money=money)
    log.info(
        "Pruned %d impressions (experiments %s, retention %d days)",
        report.impressions,
        ", ".join(f"#{i}" for i in report.experiment_ids) or "none",
        days,
    )
