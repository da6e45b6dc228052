"""``flask --app shop prune-impressions``: the worker's daily prune, run by hand."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("prune-impressions")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    default=None,
    help="Prune experiments over for this many days (default SHOP_IMPRESSION_RETENTION_DAYS, 90).",
)
@with_appcontext
def prune_impressions_command(days: int | None) -> None:
    """Delete the impressions of experiments that ended more than the retention period ago.

    Each such experiment keeps its per-variant results (its page shows them, saying the
    impressions were pruned); clicks and purchases stay and only lose their link to the list.
    """
    from shop.experiments.retention import prune_impressions
    from shop.templating import money

    days = current_app.config["SHOP_IMPRESSION_RETENTION_DAYS"] if days is None else days
    report = prune_impressions(days, money=money)
    which = ", ".join(f"#{i}" for i in report.experiment_ids) or "none"
    click.echo(
        f"Pruned {report.impressions} impressions; experiments with results kept: {which} "
        f"(retention {days} days)."
    )


COMMANDS = (prune_impressions_command,)
