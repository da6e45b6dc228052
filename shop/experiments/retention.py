"""Pruning the impressions of experiments long over, keeping what the experiments found.

An impression is one list shown to one shopper: the largest table an experiment writes, and a record
of who saw what that the shop has no reason to keep once the experiment is decided. When an
experiment has been over for ``SHOP_IMPRESSION_RETENTION_DAYS`` the worker's daily task
(:mod:`shop.experiments.tasks`, or ``flask prune-impressions`` by hand) first stores the per-variant
results on the experiment (``final_results``: the page shows those from then on, since it cannot
compute them again) and then deletes the impressions in batches, each its own short write
transaction. Clicks, purchases, cart rows and order lines that named an impression keep everything
else they hold (the recommender trains on them) and lose only the link, as their ``ON DELETE SET
NULL`` foreign keys say; the update is written out rather than left to the database so that it does
not depend on SQLite's foreign-key pragma. Impressions of no experiment (their variant was deleted)
go once they are older than the retention period. A running experiment loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from shop.experiments.results import experiment_results
from shop.extensions import db
from shop.models import CartItem, Event, Experiment, Impression, OrderLine

#: Impressions deleted per transaction: a long prune never holds SQLite's write lock for long.
BATCH_SIZE = 2000


@dataclass(frozen=True)
class PruneReport:
    """What one prune did: the experiments whose impressions went, and how many rows."""

    experiment_ids: tuple[int, ...]
    impressions: int


def prune_impressions(retention_days: int, now: datetime | None = None, money=None) -> PruneReport:
    """Delete the impressions of experiments that ended ``retention_days`` or more before ``now``.

    Commits: the results snapshot first, then every batch. A prune cut short (the worker stopped)
    is finished by the next one, which keeps the snapshot already stored.
    """
    if retention_days < 0:
        raise ValueError(f"retention_days must be 0 or more, got {retention_days}")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    ended = db.session.scalars(
        select(Experiment)
        .where(
            Experiment.status != "running",
            Experiment.ended_at.is_not(None),
            Experiment.ended_at <= cutoff,
        )
        .options(selectinload(Experiment.variants))
        .order_by(Experiment.id)
    ).all()
    pruned: list[int] = []
    total = 0
    for experiment in ended:
        variant_ids = [v.id for v in experiment.variants]
        of_experiment = Impression.variant_id.in_(variant_ids)
        if db.session.scalar(select(Impression.id).where(of_experiment).limit(1)) is None:
            continue
        if experiment.final_results is None:
            results = experiment_results(experiment, money=money)
            experiment.final_results = [r.to_json() for r in results]
        experiment.impressions_pruned_at = datetime.now(UTC)
        experiment_id = experiment.id
        db.session.commit()
        total += _delete_where(of_experiment)
        pruned.append(experiment_id)
    total += _delete_where(Impression.variant_id.is_(None), Impression.created_at < cutoff)
    return PruneReport(tuple(pruned), total)


def _delete_where(*conditions) -> int:
    """Delete the impressions matching ``conditions`` batch by batch, unlinking what named them."""
    deleted = 0
    while True:
        ids = list(db.session.scalars(select(Impression.id).where(*conditions).limit(BATCH_SIZE)))
        if not ids:
            return deleted
        for model in (Event, CartItem, OrderLine):
            db.session.execute(
                update(model)
                .where(model.impression_id.in_(ids))
                .values(impression_id=None)
                .execution_options(synchronize_session=False)
            )
        db.session.execute(
            delete(Impression)
            .where(Impression.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        deleted += len(ids)
