"""How much of the learnable signal the engine finds: generated shops against the generator's own truth.

Shops are drawn in memory by the shop's generator (``shop.seeding.generator``, the one ``flask seed``
uses) at several sizes and seeds and split with the shop's own time split
(``shop.recommend.evaluation.time_split``). The engine is fitted on the training part; every variant
(``recommend(variant=...)`` for each name in ``shop.recommend.VARIANTS``) and the hybrid rank each test
shopper's list, and so does the oracle: the generator's hidden affinity (taste x appeal x quality x
price, the utility every personal view is drawn from). Everything excludes what the shopper touched
before the cut, as the test positives do. Also printed, as yardsticks: the oracle through the funnel
(affinity plus log P(click) and log P(add to cart)), and "category share x popularity" (the shopper's
smoothed category shares times the product's training popularity). Medians over the seeds.

    .venv/bin/python bench/synthetic_ceiling.py [--sizes 2000x1000x100000 2000x500x200000] [--seeds 42 1 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Hashable

import numpy as np
import pandas as pd
from _retail import machine, resolve_out, write_json

from shop.recommend import VARIANTS, HybridRecommender, evaluate_scorers, render_table, time_split
from shop.recommend.evaluation import Scorer, engine_scorer
from shop.seeding.generator import (
    HiddenWorld,
    SeedOptions,
    engine_frames,
    funnel_probabilities,
    generate,
)

DEMO = "2000x1000x100000"  # what `make run` seeds (the seed command's defaults)
LARGE = "2000x500x200000"
#: The day the generated histories end: fixed so that reruns draw the same shops.
AS_OF = "2026-12-01"


def parse_size(text: str) -> tuple[int, int, int]:
    users, products, events = (int(part) for part in text.lower().split("x"))
    return users, products, events


def _top_unseen(scores: np.ndarray, history: pd.DataFrame, k: int) -> list[Hashable]:
    scores = scores.copy()
    seen = pd.unique(history["product_id"]).astype(np.int64)
    scores[seen] = -np.inf
    top = np.argpartition(-scores, k)[:k] if scores.size > k else np.arange(scores.size)
    return top[np.argsort(-scores[top], kind="stable")].tolist()


def oracle_scorer(world: HiddenWorld, k: int) -> Scorer:
    """The generator's hidden affinity: what the shopper's views are drawn from."""

    def score(user: Hashable, history: pd.DataFrame) -> list[Hashable]:
        return _top_unseen(world.affinity([int(user)])[0], history, k)

    return score


def funnel_oracle_scorer(world: HiddenWorld, k: int) -> Scorer:
    """Affinity through the funnel: log P(view) + log P(click | view) + log P(add to cart | click)."""

    def score(user: Hashable, history: pd.DataFrame) -> list[Hashable]:
        u = int(user)
        push = world.sensitivity[u] * world.rel_price
        p_click, p_cart, _ = funnel_probabilities(world.match([u])[0], world.quality, push)
        utility = world.affinity([u])[0] + np.log(p_click) + np.log(p_cart)
        return _top_unseen(utility, history, k)

    return score


def category_popularity_scorer(train: pd.DataFrame, products: pd.DataFrame, k: int) -> Scorer:
    """The shopper's smoothed category shares times the product's popularity in the training period."""
    category = pd.factorize(products["category"])[0]
    n_categories = int(category.max()) + 1
    popularity = np.bincount(train["product_id"].to_numpy(), minlength=len(products)) + 1.0
    prior = np.bincount(category, weights=popularity, minlength=n_categories)
    prior = prior / prior.sum()

    def score(_user: Hashable, history: pd.DataFrame) -> list[Hashable]:
        counts = np.bincount(
            category[history["product_id"].to_numpy()], minlength=n_categories
        ).astype(float)
        shares = (counts + 2.0 * prior) / (counts.sum() + 2.0)
        return _top_unseen(shares[category] * popularity, history, k)

    return score


def run_once(size: str, seed: int, k: int) -> dict:
    users, n_products, events = parse_size(size)
    options = SeedOptions(
        users=users,
        products=n_products,
        events=events,
        seed=seed,
        as_of=pd.Timestamp(AS_OF).date(),
    )
    clock = time.perf_counter()
    data = generate(options)
    interactions, products = engine_frames(data)
    split = time_split(interactions)
    generate_s = time.perf_counter() - clock
    clock = time.perf_counter()
    engine = HybridRecommender(random_state=seed).fit(split.train, products)
    fit_s = time.perf_counter() - clock
    scorers: dict[str, Scorer] = {v: engine_scorer(engine, v, k) for v in VARIANTS}
    scorers["category_x_pop"] = category_popularity_scorer(split.train, products, k)
    scorers["oracle"] = oracle_scorer(data.world, k)
    scorers["oracle_funnel"] = funnel_oracle_scorer(data.world, k)
    clock = time.perf_counter()
    scores = evaluate_scorers(split, scorers, len(products), k=k, max_users=None)
    evaluate_s = time.perf_counter() - clock
    ndcg = {s.model: s.ndcg for s in scores}
    return {
        "size": size,
        "seed": seed,
        "n_interactions": len(interactions),
        "n_train": len(split.train),
        "n_test_users": int(split.test["user_id"].nunique()),
        "n_test_pairs": len(split.test),
        "scores": scores,
        "ndcg": ndcg,
        "hybrid_over_oracle": ndcg["hybrid"] / ndcg["oracle"],
        "hybrid_over_popularity": ndcg["hybrid"] / ndcg["popularity"],
        "seconds": {"generate": generate_s, "fit": fit_s, "evaluate": evaluate_s},
        "engine": {
            key: engine.metadata_[key]
            for key in ("weights", "validation", "guard", "ranker")
            if key in engine.metadata_
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=[DEMO, LARGE],
        help="USERSxPRODUCTSxEVENTS per shop (default: the demo size and 2000x500x200000)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--out", help="JSON results file (default bench/results/synthetic_ceiling.json)"
    )
    args = parser.parse_args()
    if len(args.seeds) < 3:
        print("note: the issue's figures are medians over at least 3 seeds")

    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}")
    summary: dict[str, dict] = {}
    runs = []
    for size in args.sizes:
        size_runs = []
        for seed in args.seeds:
            run = run_once(size, seed, args.k)
            size_runs.append(run)
            t = run["seconds"]
            print(
                f"\n{size} seed {seed}: {run['n_interactions']:,} interactions, "
                f"{run['n_test_users']:,} test shoppers, {run['n_test_pairs']:,} test pairs "
                f"(fit {t['fit']:.1f}s, evaluation {t['evaluate']:.1f}s)"
            )
            print(render_table(run["scores"], args.k))
            print(f"hybrid / oracle NDCG@{args.k}: {run['hybrid_over_oracle']:.3f}")
        names = list(size_runs[0]["ndcg"])
        median = {n: statistics.median(r["ndcg"][n] for r in size_runs) for n in names}
        ratio = statistics.median(r["hybrid_over_oracle"] for r in size_runs)
        ratio_pop = statistics.median(r["hybrid_over_popularity"] for r in size_runs)
        summary[size] = {
            "median_ndcg": median,
            "median_hybrid_over_oracle": ratio,
            "median_hybrid_over_popularity": ratio_pop,
        }
        runs.extend(size_runs)

    print(f"\nmedian NDCG@{args.k} over seeds {args.seeds}")
    header = f"{'model':<24}" + "".join(f"{size:>18}" for size in args.sizes)
    print(header + "\n" + "-" * len(header))
    for name in summary[args.sizes[0]]["median_ndcg"]:
        print(
            f"{name:<24}" + "".join(f"{summary[s]['median_ndcg'][name]:>18.4f}" for s in args.sizes)
        )
    print(
        f"{'hybrid / oracle':<24}"
        + "".join(f"{summary[s]['median_hybrid_over_oracle']:>18.3f}" for s in args.sizes)
    )
    print(
        f"{'hybrid / popularity':<24}"
        + "".join(f"{summary[s]['median_hybrid_over_popularity']:>18.3f}" for s in args.sizes)
    )
    write_json(
        resolve_out(args.out, "synthetic_ceiling.json"),
        {
            "script": "bench/synthetic_ceiling.py",
            "machine": info,
            "k": args.k,
            "seeds": args.seeds,
            "sizes": args.sizes,
            "as_of": AS_OF,
            "variants": list(VARIANTS),
            "median": summary,
            "runs": [
                {
                    **{k: v for k, v in r.items() if k != "scores"},
                    "scores": [s._asdict() for s in r["scores"]],
                }
                for r in runs
            ],
        },
    )


if __name__ == "__main__":
    main()
