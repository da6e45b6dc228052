"""Starting and stopping A/B experiments.

Only one experiment runs at a time: assignment (``shop.services.experiments``) reads "the running
experiment", and two overlapping tests would also blur each other's results. Starting a second one is
refused with a message rather than silently stopping the first.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from shop.extensions import db
from shop.models import Experiment, ExperimentVariant
from shop.services.experiments import running_experiment


class ExperimentRefused(Exception):
    """The experiment cannot be started or stopped now; the message says why."""


def create_experiment(
    name: str, description: str, variants: list[tuple[str, str, int]]
) -> Experiment:
    """Add a running experiment with its variants (the caller commits)."""
    current = running_experiment()
    if current is not None:
        raise ExperimentRefused(
            f"“{current.name}” is still running. Stop it before starting another experiment."
        )
    now = datetime.now(UTC)
    experiment = Experiment(
        name=name, description=description, status="running", created_at=now, started_at=now
    )
    experiment.variants = [
        ExperimentVariant(name=v_name, algorithm=algorithm, traffic_percent=percent)
        for v_name, algorithm, percent in variants
    ]
    db.session.add(experiment)
    return experiment


def stop_experiment(experiment: Experiment) -> None:
    """End a running experiment; its numbers stay readable (the caller commits)."""
    if experiment.status != "running":
        raise ExperimentRefused(f"“{experiment.name}” is not running.")
    experiment.status = "finished"
    experiment.ended_at = datetime.now(UTC)


def all_experiments() -> list[Experiment]:
    return list(
        db.session.scalars(
            select(Experiment).order_by(
                (Experiment.status == "running").desc(), Experiment.created_at.desc()
            )
        )
    )
