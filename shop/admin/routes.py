"""The admin area: shop analytics, model health with queued retraining, A/B experiments.

Every route of the blueprint is guarded by :func:`require_admin` (a ``before_request`` hook, so a
route added later cannot forget it): signed-out visitors are sent to sign in (401 JSON for the
``.json``/``.csv`` data endpoints), signed-in shoppers who are not admins get 403.
"""

from __future__ import annotations

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from shop.admin import bp
from shop.admin.forms import ALGORITHM_LABELS, ActionForm, ExperimentForm
from shop.experiments.assignment import running_experiment
from shop.experiments.lifecycle import (
    ExperimentRefused,
    all_experiments,
    create_experiment,
    stop_experiment,
)
from shop.experiments.results import VariantResult, advice, recorded_results
from shop.extensions import db, login_manager
from shop.models import Experiment, TrainingRun
from shop.services import analytics, audit
from shop.templating import money
from shop.training import report, tasks
from shop.training.runs import ACTIVE_STATUSES, RetrainRefused

DATA_SUFFIXES = (".json", ".csv")


@bp.before_request
def require_admin():
    if not current_user.is_authenticated:
        if request.path.endswith(DATA_SUFFIXES):
            return jsonify(error={"status": 401, "message": "Please sign in to continue."}), 401
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    return None


def _date_range() -> tuple[analytics.DateRange, str | None]:
    """The dashboard's date filter; a bad date is reported and the filter ignored."""
    try:
        return analytics.DateRange.parse(request.args.get("start"), request.args.get("end")), None
    except analytics.DateRangeError as exc:
        return analytics.ALL_TIME, str(exc)


def _min_ratings() -> int:
    value = request.args.get("min_ratings", type=int)
    return value if value is not None and 1 <= value <= 1000 else 3


@bp.route("/")
def dashboard():
    rng, problem = _date_range()
    data = analytics.cached_dashboard(rng, min_ratings=_min_ratings())
    return (
        render_template(
            "admin/dashboard.html",
            data=data,
            rng=rng,
            problem=problem,
            start=request.args.get("start", ""),
            end=request.args.get("end", ""),
            csv_args=rng_args(rng),
            presets=[
                ("Last 7 days", rng_args(analytics.DateRange.last_days(7))),
                ("Last 30 days", rng_args(analytics.DateRange.last_days(30))),
                ("All time", {}),
            ],
        ),
        400 if problem else 200,
    )


def rng_args(rng: analytics.DateRange) -> dict[str, str]:
    args = {}
    if rng.start:
        args["start"] = rng.start.isoformat()
    if rng.end:
        args["end"] = rng.end.isoformat()
    return args


@bp.route("/analytics/<name>.csv")
def analytics_csv(name: str):
    if name not in analytics.CSV_TABLES:
        abort(404)
    try:
        rng = analytics.DateRange.parse(request.args.get("start"), request.args.get("end"))
    except analytics.DateRangeError as exc:
        abort(400, description=str(exc))
    return Response(
        analytics.csv_table(name, rng),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


# --- Model health ----------------------------------------------------------------------------


@bp.route("/model")
def model():
    status = current_app.extensions["recommender_store"].status()
    current_run = report.run_for_version(status.version)
    # The lead sentence and the figures behind it come from the served model's run, or from the
    # newest evaluated run when the served model has none (the page names that run).
    measured = current_run if current_run and current_run.metrics else report.latest_evaluated_run()
    metrics = measured.metrics if measured else None
    ratings, ratings_skipped = report.rating_rows(metrics)
    runs = report.recent_runs()
    running = next((r for r in runs if r.status in ACTIVE_STATUSES), None)
    return render_template(
        "admin/model.html",
        status=status,
        current_run=current_run,
        summary=report.plain_summary(measured.metrics if measured else None),
        measured_run=measured,
        chosen=report.CHOSEN,
        topn_tables=report.topn_tables(metrics),
        ranker=report.ranker_choice(status.metadata),
        ratings=ratings,
        ratings_skipped=ratings_skipped,
        k=(metrics or {}).get("k", 10),
        runs=[(run, report.headline(run.metrics)) for run in runs],
        running=running,
        trigger_labels=report.TRIGGER_LABELS,
        form=ActionForm(),
    )


@bp.route("/model/retrain", methods=["POST"])
def retrain():
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        run_id = tasks.request_retrain(current_app._get_current_object(), current_user.id)
    except RetrainRefused as exc:
        flash(str(exc), "warning")
    else:
        audit.record("model.retrain", "training_run", run_id, f"Retrain requested (run #{run_id})")
        db.session.commit()
        flash(
            f"Retraining started (run #{run_id}): the worker fits it and this page shows its "
            "progress.",
            "info",
        )
    return redirect(url_for("admin.model"))


@bp.route("/model/runs/<id:run_id>.json")
def run_status(run_id: int):
    run = db.session.get(TrainingRun, run_id)
    if run is None:
        return jsonify(error={"status": 404, "message": "No such training run."}), 404
    return jsonify(report.run_as_json(run))


# --- Experiments -----------------------------------------------------------------------------


def _experiments_page(form: ExperimentForm, status: int = 200):
    return (
        render_template(
            "admin/experiments.html",
            experiments=all_experiments(),
            running=running_experiment(),
            form=form,
        ),
        status,
    )


@bp.route("/experiments")
def experiments():
    form = ExperimentForm()
    if not any(row.form.name.data for row in form.variants.entries):
        defaults = [("A", "hybrid", 50), ("B", "popularity", 50)]
        for row, (name, algorithm, percent) in zip(form.variants.entries, defaults, strict=False):
            row.form.name.data = name
            row.form.algorithm.data = algorithm
            row.form.traffic_percent.data = percent
    return _experiments_page(form)


@bp.route("/experiments", methods=["POST"])
def create():
    form = ExperimentForm()
    if not form.validate_on_submit():
        return _experiments_page(form, 422)
    try:
        experiment = create_experiment(form.name.data, form.description.data, form.variant_rows())
    except ExperimentRefused as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _experiments_page(form, 409)
    db.session.flush()  # the new experiment's id, for its audit entry
    audit.record(
        "experiment.create",
        "experiment",
        experiment.id,
        f"Experiment “{experiment.name}” started",
        after={
            "name": experiment.name,
            "variants": ", ".join(
                f"{v.name} ({v.algorithm}, {v.traffic_percent}%)" for v in experiment.variants
            ),
        },
    )
    db.session.commit()
    flash(f"Experiment “{experiment.name}” is running.", "success")
    return redirect(url_for("admin.experiment", experiment_id=experiment.id))


@bp.route("/experiments/<id:experiment_id>")
def experiment(experiment_id: int):
    item = db.get_or_404(Experiment, experiment_id)
    results = recorded_results(item, money=money)
    return render_template(
        "admin/experiment.html",
        experiment=item,
        results=results,
        advice=advice(item, results),
        chart=_experiment_chart(results),
        labels=ALGORITHM_LABELS,
        action_form=ActionForm(),
        window_minutes=current_app.config["SHOP_IMPRESSION_WINDOW_SECONDS"] // 60,
    )


def _experiment_chart(results: list[VariantResult]) -> dict:
    """Rates in percent with their interval ends, for the chart on the experiment page."""

    def points(estimates):
        return [
            None if e.value is None else [round(100 * x, 3) for x in (e.value, e.low, e.high)]
            for e in estimates
        ]

    return {
        "labels": [r.name for r in results],
        "ctr": points(r.ctr for r in results),
        "conversion": points(r.conversion for r in results),
    }


@bp.route("/experiments/<id:experiment_id>/stop", methods=["POST"])
def stop(experiment_id: int):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    item = db.get_or_404(Experiment, experiment_id)
    before = item.status
    try:
        stop_experiment(item)
    except ExperimentRefused as exc:
        flash(str(exc), "warning")
    else:
        audit.record(
            "experiment.stop",
            "experiment",
            item.id,
            f"Experiment “{item.name}” stopped",
            before={"status": before},
            after={"status": item.status},
        )
        db.session.commit()
        flash(f"Experiment “{item.name}” stopped; its results stay below.", "success")
    return redirect(url_for("admin.experiment", experiment_id=item.id))
