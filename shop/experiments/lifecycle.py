"""Starting, stopping and listing A/B experiments (the writes flush; the admin view commits).

Only one experiment runs at a time: assignment (``shop.experiments.assignment``) reads "the running
experiment", and two overlapping tests would also blur each other's results. Starting a second one is
refused with a message rather than silently stopping the first.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from shop.experiments.assignment import running_experiment
from shop.extensions import db
from shop.models import Experiment, ExperimentVariant


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
    """Every experiment, the running one first, then the newest."""
    return list(
        db.session.scalars(
            select(Experiment).order_by(
                (Experiment.status == "running").desc(), Experiment.created_at.desc()
            )
        )
    )
