"""The shop's own evaluation of the demo shop `make run` builds, over several seeds.

For each seed: a fresh SQLite database in a temporary folder, migrated; the Makefile's seed command
(`seed --if-empty --with-experiment --admin-email ... --admin-password ...`, with `--seed S` and a fixed
`--as-of` so reruns draw the same shops); then what `flask evaluate` runs (its service function
``evaluate_shop`` on the shop's interactions and products). Prints every model's NDCG@10 on the time split,
the hybrid / popularity ratio, the rating table (RMSE of the SVD, BaselineOnly and the global mean on a
random fifth of the stars), medians over the seeds, and the simulated demo experiment's outcome as the
experiment page computes it.

The demo experiment's clicks and purchases come from lists the engine made, and about half of them fall
after the evaluation's cut, where they become test positives. So each seed is also evaluated on the same
shop seeded without `--with-experiment` (the history alone), to show how much of the figure that loop makes.

    .venv/bin/python bench/demo_eval.py [--seeds 42 1 2 3] [--as-of 2026-12-01] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _retail import machine, resolve_out, write_json

MAKEFILE_SEED_ARGS = [
    "seed",
    "--if-empty",
    "--with-experiment",
    "--admin-email",
    "admin@example.com",
    "--admin-password",
    "admin-demo-password",
]
AS_OF = "2026-12-01"


def run_once(seed: int, as_of: str, folder: Path, with_experiment: bool = True) -> dict:
    from flask_migrate import upgrade
    from sqlalchemy import select

    from shop import create_app
    from shop.experiments.results import experiment_results
    from shop.extensions import db
    from shop.models import Experiment
    from shop.services.interactions import all_interactions, products_frame
    from shop.training.evaluation import evaluate_shop

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'shop.db'}",
            "SHOP_MODEL_DIR": str(folder / "models"),
            "SECRET_KEY": "bench-secret-key",
        }
    )
    app.static_folder = str(folder / "static")  # product pictures stay out of the working tree
    with app.app_context():
        upgrade()
        clock = time.perf_counter()
        args = [*MAKEFILE_SEED_ARGS, "--seed", str(seed), "--as-of", as_of, "--quiet"]
        if not with_experiment:
            args.remove("--with-experiment")
        result = app.test_cli_runner().invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(f"seed {seed} failed:\n{result.output}")
        seed_s = time.perf_counter() - clock
        clock = time.perf_counter()
        # What `flask evaluate` does, with its defaults (k 10, 2,000 test shoppers at most).
        interactions = all_interactions()
        products = products_frame()
        db.session.commit()
        metrics = evaluate_shop(interactions, products, k=10, max_users=2000)
        evaluate_s = time.perf_counter() - clock
        experiment = db.session.scalar(select(Experiment))
        outcome = (
            []
            if experiment is None
            else [
                {
                    "variant": r.name,
                    "algorithm": r.algorithm,
                    "shoppers": r.shoppers,
                    "impressions": r.impressions,
                    "ctr": r.ctr.value,
                    "conversion": r.conversion.value,
                    "revenue_per_shopper": r.revenue.value,
                    "verdicts": [
                        v for v in (r.ctr_verdict, r.conversion_verdict, r.revenue_verdict) if v
                    ],
                }
                for r in experiment_results(experiment)
            ]
        )
        db.engine.dispose()
    models = metrics["topn"]["models"]
    return {
        "seed": seed,
        "seed_output": result.output.strip().splitlines(),
        "n_interactions": len(interactions),
        "split": metrics["topn"]["split"],
        "ndcg": {name: m["ndcg"] for name, m in models.items()},
        "topn": models,
        "ratings": metrics.get("ratings"),
        "hybrid_over_popularity": models["hybrid"]["ndcg"] / models["popularity"]["ndcg"],
        "experiment": outcome,
        "seconds": {"seed_and_experiment": seed_s, "evaluate": evaluate_s},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2, 3])
    parser.add_argument(
        "--as-of", default=AS_OF, help="the seeded history ends the day before this date"
    )
    parser.add_argument("--out", help="JSON results file (default bench/results/demo_eval.json)")
    args = parser.parse_args()

    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}")
    runs, history_only = [], []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="shop-demo-eval-") as folder:
            run = run_once(seed, args.as_of, Path(folder))
        with tempfile.TemporaryDirectory(prefix="shop-demo-eval-") as folder:
            alone = run_once(seed, args.as_of, Path(folder), with_experiment=False)
        runs.append(run)
        history_only.append(alone)
        t = run["seconds"]
        split = run["split"]
        print(
            f"\nseed {seed}: {run['n_interactions']:,} interactions; time split at {split['cut']}, "
            f"{split['n_test_users']:,} test shoppers, {split['n_test_pairs']:,} test pairs "
            f"(seed + experiment {t['seed_and_experiment']:.1f}s, evaluation {t['evaluate']:.1f}s)"
        )
        print("  NDCG@10: " + ", ".join(f"{n} {v:.4f}" for n, v in run["ndcg"].items()))
        print(f"  hybrid / popularity: {run['hybrid_over_popularity']:.3f}")
        ratings = (run["ratings"] or {}).get("models")
        if ratings:  # the rating table of `flask evaluate` (random 80/20 split of the stars)
            print(
                "  ratings RMSE: "
                + ", ".join(f"{n} {v['rmse']:.4f}" for n, v in ratings.items())
                + f" ({next(iter(ratings.values()))['n_test']} test ratings)"
            )
        print(
            "  without the experiment: "
            + ", ".join(f"{n} {v:.4f}" for n, v in alone["ndcg"].items())
            + f"; hybrid / popularity {alone['hybrid_over_popularity']:.3f}"
        )
        for row in run["experiment"]:
            print(
                f"  experiment {row['variant']} ({row['algorithm']}): {row['shoppers']} shoppers, "
                f"CTR {row['ctr']:.3f}, conversion {row['conversion']:.3f}, "
                f"revenue/shopper {row['revenue_per_shopper']:.2f}"
            )
            for verdict in row["verdicts"]:
                print(f"    {verdict}")

    names = list(runs[0]["ndcg"])
    median = {n: statistics.median(r["ndcg"][n] for r in runs) for n in names}
    ratio = statistics.median(r["hybrid_over_popularity"] for r in runs)
    alone_median = {n: statistics.median(r["ndcg"][n] for r in history_only) for n in names}
    alone_ratio = statistics.median(r["hybrid_over_popularity"] for r in history_only)
    print(f"\nmedians over seeds {args.seeds} (the `make run` demo, experiment included)")
    print("  NDCG@10: " + ", ".join(f"{n} {v:.4f}" for n, v in median.items()))
    print(f"  hybrid / popularity NDCG@10: {ratio:.3f} (median of the per-seed ratios)")
    print("without the experiment (history alone)")
    print("  NDCG@10: " + ", ".join(f"{n} {v:.4f}" for n, v in alone_median.items()))
    print(f"  hybrid / popularity NDCG@10: {alone_ratio:.3f}")
    write_json(
        resolve_out(args.out, "demo_eval.json"),
        {
            "script": "bench/demo_eval.py",
            "machine": info,
            "seed_command": MAKEFILE_SEED_ARGS,
            "as_of": args.as_of,
            "seeds": args.seeds,
            "median_ndcg": median,
            "median_hybrid_over_popularity": ratio,
            "runs": runs,
            "history_only": {
                "median_ndcg": alone_median,
                "median_hybrid_over_popularity": alone_ratio,
                "runs": history_only,
            },
        },
    )


if __name__ == "__main__":
    main()
