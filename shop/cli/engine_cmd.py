"""``flask train`` and ``flask evaluate``: the engine's two commands."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from shop.extensions import db


def _require_data() -> None:
    from shop.services.interactions import interaction_count
    from shop.training.runs import NO_INTERACTIONS

    if interaction_count() == 0:
        click.echo(NO_INTERACTIONS, err=True)
        sys.exit(2)


@click.command("train")
@click.option(
    "--if-missing",
    is_flag=True,
    help="Do nothing when a loadable model is already published (used by `make demo`).",
)
@click.option(
    "--no-evaluate",
    is_flag=True,
    help="Skip the offline evaluation (faster; the run records no metrics).",
)
@click.option(
    "--backend",
    type=click.Choice(("local", "spark")),
    default=None,
    help="Where the collaborative ALS is fitted: local (in this process) or spark (MLlib on "
    "SPARK_MASTER, default local[*]; needs the spark extra and Java). Default: SHOP_TRAIN_BACKEND, "
    "else local. Every other part of the engine is fitted here either way.",
)
@click.option(
    "--window-events",
    type=click.IntRange(min=0),
    default=None,
    help="Fit on the most recent N interactions only (0: the whole log), bounding what this "
    "process holds; on spark the served ALS still learns from the whole log, streamed to Spark "
    "in chunks. Default: SHOP_TRAIN_WINDOW_EVENTS, else the whole log locally and 2,000,000 on "
    "spark.",
)
@with_appcontext
def train_command(
    if_missing: bool, no_evaluate: bool, backend: str | None, window_events: int | None
) -> None:
    """Train the recommendation engine on the shop's data and publish it to the site.

    Fits the hybrid engine on every shopper's events, likes and ratings, evaluates it on a time split,
    saves the model atomically into SHOP_MODEL_DIR and points every worker at it. The previous model
    keeps serving until the new one is completely written; a failed run changes nothing.
    """
    from shop.services.model_store import has_loadable_model
    from shop.training.report import render_metrics
    from shop.training.runs import (
        RetrainRefused,
        resolve_backend,
        resolve_window,
        train_and_publish,
    )

    app = current_app._get_current_object()
    try:
        backend = resolve_backend(app, backend)
        resolve_window(app, backend, window_events)
    except ValueError as exc:  # a bad SHOP_TRAIN_BACKEND or SHOP_TRAIN_WINDOW_EVENTS
        click.echo(str(exc), err=True)
        sys.exit(2)
    if backend == "spark":
        from shop.training.spark_als import SparkUnavailable, check_spark

        try:
            check_spark()
        except SparkUnavailable as exc:  # refused before any run is recorded
            click.echo(str(exc), err=True)
            click.echo("Nothing was trained; the published model (if any) is unchanged.", err=True)
            sys.exit(2)
    if if_missing and has_loadable_model(app):
        status = app.extensions["recommender_store"].status()
        click.echo(f"A trained model is already published ({status.version}); nothing to do.")
        return
    _require_data()
    db.session.commit()  # end this command's read transaction before the pipeline writes

    def show(percent: int, message: str) -> None:
        click.echo(f"[{percent:>3}%] {message}")

    started = time.perf_counter()
    try:
        run = train_and_publish(
            app,
            progress=show,
            evaluate=not no_evaluate,
            backend=backend,
            window_events=window_events,
        )
    except RetrainRefused as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    elapsed = time.perf_counter() - started
    if run.status != "succeeded":
        click.echo(f"Training failed: {run.error}", err=True)
        click.echo("The previous model (if any) is still serving.", err=True)
        sys.exit(1)
    click.echo("")
    click.echo(f"Model version   {run.model_version}")
    click.echo(f"Model file      {Path(run.model_path or '').name}")
    click.echo(
        f"Trained on      {run.n_interactions:,} interactions, {run.n_users:,} shoppers, "
        f"{run.n_products:,} products"
    )
    seen = (run.metrics or {}).get("training_log") or {}
    if seen.get("window_events", 0) < seen.get("log_events", 0):
        click.echo(
            f"Window          the latest {seen['window_events']:,} of {seen['log_events']:,} "
            f"interactions (the served ALS saw {seen['als_events']:,})"
        )
    click.echo(f"Took            {elapsed:.1f} s")
    if run.metrics and not no_evaluate:
        click.echo("")
        click.echo(render_metrics(run.metrics))


@click.command("evaluate")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the JSON results (default: instance/evaluation.json).",
)
@click.option(
    "--k", default=10, show_default=True, type=click.IntRange(1, 100), help="List length."
)
@click.option(
    "--max-users",
    default=2000,
    show_default=True,
    type=click.IntRange(1, None),
    help="Test shoppers sampled for the top-n metrics (bounds the time on big logs).",
)
@click.option(
    "--protocol",
    type=click.Choice(("time", "random")),
    default="time",
    show_default=True,
    help="time: train on the past, test on each shopper's later positives of products new to them. "
    "random: hold out a seeded random 25% of each shopper's products.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(0, None),
    help="Seed of the random holdout, the shopper sample and the models.",
)
@with_appcontext
def evaluate_command(out: Path | None, k: int, max_users: int, protocol: str, seed: int) -> None:
    """Measure the engine offline on the shop's data: rating error and top-n ranking quality.

    Explicit ratings: RMSE and MAE of SVD against a baseline and the global mean on a random 80/20
    split. Top-n: precision, recall, NDCG and MAP at k plus catalogue coverage for popularity, EASE
    (when the engine offers it), each single model and the hybrid, on the chosen protocol. The
    hybrid is asked exactly as the home page asks it: nothing the shopper touched may take a slot.
    """
    from config import INSTANCE_DIR
    from shop.services.interactions import all_interactions, products_frame
    from shop.training.evaluation import evaluate_shop
    from shop.training.report import render_metrics

    _require_data()
    started = time.perf_counter()
    interactions = all_interactions()
    products = products_frame()
    db.session.commit()
    metrics = evaluate_shop(
        interactions,
        products,
        k=k,
        max_users=max_users,
        random_state=seed,
        protocols=(protocol,),
    )
    metrics["protocol"] = protocol
    metrics["seconds"] = round(time.perf_counter() - started, 3)
    metrics["n_interactions"] = len(interactions)
    metrics["n_products"] = len(products)
    click.echo(render_metrics(metrics))
    target = out if out is not None else Path(INSTANCE_DIR) / "evaluation.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(metrics, indent=2) + "\n")
    click.echo(f"\nWrote {target} ({metrics['seconds']:.1f} s)")


COMMANDS = (train_command, evaluate_command)
