"""Top-n quality on real purchases: the UCI Online Retail log, split by time.

Train on invoices before --cut, test on each customer's later purchases of products new to them. Compares
rule-based popularity, untuned implicit ALS (the obvious off-the-shelf baseline) and the engine's models,
and prints the hybrid's relative improvement over the best baseline.

    .venv/bin/python bench/retail_eval.py [--data PATH] [--cut 2011-09-01] [--seeds 0 1 2] [--out FILE]

A development split, for deciding engine changes without looking at the test period: ``--until
2011-09-01 --cut 2011-06-01 --out /some/scratch.json`` keeps only the log before --until, and only the
products sold by then (otherwise products first sold later, which nobody could buy in the dev test
months, take list slots and the dev figures are wrong).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Hashable

import pandas as pd
from _retail import load_retail, machine, resolve_data, resolve_out, textbook_als, write_json
from threadpoolctl import threadpool_limits

from shop.recommend import HybridRecommender, evaluate_scorers, render_table, time_split
from shop.recommend.evaluation import Scorer, Split, engine_scorer

BASELINES = ("popularity", "trending", "als_untuned")


def popularity_scorer(train: pd.DataFrame, k: int) -> Scorer:
    """Best sellers of the training period (by number of purchase lines), minus what the customer owns."""
    ranking = train["product_id"].value_counts().index.tolist()

    def score(_user: Hashable, history: pd.DataFrame) -> list[Hashable]:
        seen = set(history["product_id"])
        return [p for p in ranking[: k + len(seen)] if p not in seen][:k]

    return score


def untuned_als_scorer(train: pd.DataFrame, k: int, seed: int) -> Scorer:
    """implicit ALS with textbook settings on the binary purchase matrix, already-bought items filtered."""
    model, matrix, user_ids, item_ids = textbook_als(train, seed)
    row_of = {u: r for r, u in enumerate(user_ids.tolist())}
    fallback = popularity_scorer(train, k)

    def score(user: Hashable, history: pd.DataFrame) -> list[Hashable]:
        if user not in row_of:
            return fallback(user, history)
        row = row_of[user]
        with threadpool_limits(1, "blas"):
            ids, _ = model.recommend(row, matrix[row], N=k, filter_already_liked_items=True)
        return [item_ids[i] for i in ids]

    return score


def run_once(
    split: Split, products: pd.DataFrame, seed: int, k: int, max_users: int | None
) -> dict:
    timings = {}
    clock = time.perf_counter()
    engine = HybridRecommender(random_state=seed).fit(split.train, products)
    timings["hybrid_fit_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    scorers: dict[str, Scorer] = {
        "popularity": popularity_scorer(split.train, k),
        "trending": engine_scorer(engine, "popularity", k),
        "als_untuned": untuned_als_scorer(split.train, k, seed),
    }
    timings["baselines_fit_s"] = time.perf_counter() - clock
    for variant in ("content", "itemknn", "als", "ease", "hybrid"):
        scorers[variant if variant != "als" else "als_tuned"] = engine_scorer(engine, variant, k)
    clock = time.perf_counter()
    scores = evaluate_scorers(
        split, scorers, len(products), k=k, max_users=max_users, random_state=seed
    )
    timings["evaluate_s"] = time.perf_counter() - clock
    return {
        "scores": scores,
        "timings": timings,
        "ranker": engine.metadata_["ranker"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", help="Online Retail CSV(.gz); default $SHOP_RETAIL_CSV or the shared copy"
    )
    parser.add_argument("--cut", default="2011-09-01", help="train before this date, test after")
    parser.add_argument(
        "--until", help="drop the log from this date on (a development split; see above)"
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0], help="one run per seed; medians reported"
    )
    parser.add_argument(
        "--max-users", type=int, default=None, help="sample test customers (default: all)"
    )
    parser.add_argument("--out", help="JSON results file (default bench/results/retail_eval.json)")
    args = parser.parse_args()

    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}")
    clock = time.perf_counter()
    interactions, products = load_retail(resolve_data(args.data))
    if args.until:
        interactions = interactions[interactions["timestamp"] < pd.Timestamp(args.until)]
        sold = products["product_id"].isin(interactions["product_id"])
        products = products[sold].reset_index(drop=True)
    split = time_split(interactions, pd.Timestamp(args.cut), positive_kinds=("purchase",))
    load_s = time.perf_counter() - clock
    print(
        f"data: {len(interactions):,} purchase lines, {interactions['user_id'].nunique():,} customers, "
        f"{len(products):,} products; train before {args.cut}: {len(split.train):,} lines; "
        f"test: {split.test['user_id'].nunique():,} customers, {len(split.test):,} new (customer, product) pairs"
    )

    runs = []
    for seed in args.seeds:
        run = run_once(split, products, seed, args.k, args.max_users)
        runs.append(run)
        print(
            f"\nseed {seed}  (hybrid fit {run['timings']['hybrid_fit_s']:.1f}s, "
            f"evaluation {run['timings']['evaluate_s']:.1f}s)"
        )
        print(render_table(run["scores"], args.k))

    names = [s.model for s in runs[0]["scores"]]
    fields = ("precision", "recall", "ndcg", "map", "coverage")
    median = {
        name: {f: statistics.median(getattr(r["scores"][i], f) for r in runs) for f in fields}
        for i, name in enumerate(names)
    }
    best = {f: max(median[b][f] for b in BASELINES) for f in ("recall", "ndcg")}
    improvement = {f: median["hybrid"][f] / best[f] - 1.0 for f in ("recall", "ndcg")}
    if len(runs) > 1:
        print(f"\nmedians over seeds {args.seeds}")
        for name in names:
            m = median[name]
            print(f"{name:<16}" + "".join(f"{m[f]:>10.4f}" for f in fields))
    print(
        f"\nhybrid vs best baseline ({', '.join(BASELINES)}): "
        f"recall@{args.k} {improvement['recall']:+.1%}, NDCG@{args.k} {improvement['ndcg']:+.1%}"
    )
    write_json(
        resolve_out(args.out, "retail_eval.json"),
        {
            "script": "bench/retail_eval.py",
            "machine": info,
            "data": resolve_data(args.data).name,
            "cut": args.cut,
            "until": args.until,
            "k": args.k,
            "seeds": args.seeds,
            "n_purchase_lines": len(interactions),
            "n_train_lines": len(split.train),
            "n_test_customers": int(split.test["user_id"].nunique()),
            "n_evaluated_customers": runs[0]["scores"][0].n_users,
            "load_seconds": round(load_s, 2),
            "median": median,
            "runs": [
                {
                    "seed": seed,
                    "scores": [s._asdict() for s in run["scores"]],
                    "timings": run["timings"],
                    "ranker": run["ranker"],
                }
                for seed, run in zip(args.seeds, runs, strict=True)
            ],
            "improvement_over_best_baseline": improvement,
        },
    )


if __name__ == "__main__":
    main()
