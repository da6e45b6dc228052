"""A/B assignment: which variant of the running experiment a shopper sees.

Assignment is a pure function of (experiment, shopper): a SHA-256 bucket in 0..99 mapped onto the
variants' cumulative traffic percentages. The same shopper gets the same variant on every device and
after every sign-in, with no table to keep.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.extensions import db
from shop.models import Experiment, ExperimentVariant


def bucket(experiment_id: int, user_id: int) -> int:
    digest = hashlib.sha256(f"experiment:{experiment_id}:user:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def pick_variant(
    variants: list[ExperimentVariant], experiment_id: int, user_id: int
) -> ExperimentVariant | None:
    """The variant whose traffic range holds the shopper's bucket; None when outside every range."""
    b = bucket(experiment_id, user_id)
    upper = 0
    for variant in sorted(variants, key=lambda v: v.id):
        upper += variant.traffic_percent
        if b < upper:
            return variant
    return None


def running_experiment() -> Experiment | None:
    return db.session.scalar(
        select(Experiment)
        .where(Experiment.status == "running")
        .options(selectinload(Experiment.variants))
        .order_by(Experiment.id.desc())
        .limit(1)
    )


def variant_for(user_id: int | None) -> ExperimentVariant | None:
    """The variant of the running experiment this shopper is in, if any."""
    if user_id is None:
        return None
    experiment = running_experiment()
    if experiment is None or not experiment.variants:
        return None
    return pick_variant(list(experiment.variants), experiment.id, user_id)
