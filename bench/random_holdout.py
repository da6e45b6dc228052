"""The engine on data of another shape: ratings only, each shopper's products held out at random.

Two data sets, each split by ``shop.recommend.random_split`` (a random 25% of every shopper's distinct
positive products held out, shoppers with at least 4), one split per seed:

* ``stars``: a world drawn by the shop's generator in which shoppers rate what they try, and that is all
  the shop knows: every product a shopper clicked gets stars from the generator's own rating model
  (``star_ratings``: taste match, quality, noise), as one "rating" event at the first click. Positives
  are 4 and 5 stars.
* ``retail``: the UCI Online Retail purchases as 0/1 (one "purchase" event per customer and product).

On the same shoppers, in the same run: the hybrid, popularity (the engine's), the engine's "ease"
variant when it has one, and a closed-form EASE yardstick (Steck 2019) written here, on the binary
matrix of every training interaction, its L2 penalty chosen on a random holdout inside the training
data (never on the test part). Medians over the seeds.

    .venv/bin/python bench/random_holdout.py [--seeds 0 1 2] [--data PATH] [--only stars|retail]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Hashable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from _retail import load_retail, machine, resolve_data, resolve_out, write_json

from shop.recommend import (
    VARIANTS,
    HybridRecommender,
    Split,
    evaluate_scorers,
    ndcg_at_k,
    random_split,
    render_table,
)
from shop.recommend.evaluation import Scorer, engine_scorer
from shop.seeding.generator import SeedOptions, catalogue_frame, generate, star_ratings

STARS_WORLD = (
    2000,
    500,
    200_000,
)  # users, products, browsing events drawn before keeping the stars
EASE_LAMBDAS = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
AS_OF = "2026-12-01"


# --- data ---------------------------------------------------------------------------------------


def stars_world(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A generated shop where the only thing recorded is the stars shoppers give what they tried."""
    users, n_products, events = STARS_WORLD
    data = generate(
        SeedOptions(
            users=users,
            products=n_products,
            events=events,
            seed=seed,
            as_of=pd.Timestamp(AS_OF).date(),
        )
    )
    world = data.world
    tried = pd.DataFrame(
        {
            "user_id": data.event_user,
            "product_id": data.event_product,
            "kind": data.event_kind,
            "timestamp": pd.to_datetime(data.event_time).tz_localize("UTC"),
        }
    )
    tried = tried.loc[(tried["user_id"] >= 0) & (tried["kind"] >= 1)]  # clicks, carts, purchases
    pairs = (
        tried.assign(purchased=tried["kind"] == 3)
        .groupby(["user_id", "product_id"], as_index=False)
        .agg(timestamp=("timestamp", "min"), purchased=("purchased", "max"))
    )
    match = world.match()[pairs["user_id"].to_numpy(), pairs["product_id"].to_numpy()]
    rng = np.random.default_rng(seed + 7919)
    stars = star_ratings(
        match,
        world.quality[pairs["product_id"].to_numpy()],
        rng.normal(0.0, 0.9, len(pairs)),
        pairs["purchased"].to_numpy(),
    )
    interactions = pd.DataFrame(
        {
            "user_id": pairs["user_id"].astype(np.int64),
            "product_id": pairs["product_id"].astype(np.int64),
            "kind": "rating",
            "value": stars.astype(float),
            "timestamp": pairs["timestamp"],
        }
    )
    return interactions, catalogue_frame(data)


def retail_binary(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    interactions, products = load_retail(path)
    first = interactions.sort_values("timestamp").drop_duplicates(["user_id", "product_id"])
    return first.assign(value=1.0).reset_index(drop=True), products


# --- the EASE yardstick -------------------------------------------------------------------------


class EaseYardstick:
    """Closed-form EASE: B = I - P diagMat(1 / diag(P)), P = (X'X + lambda I)^-1, diag(B) = 0."""

    def __init__(self, penalty: float):
        self.penalty = penalty

    def fit(self, train: pd.DataFrame) -> EaseYardstick:
        items, self.item_ids_ = pd.factorize(train["product_id"])
        users, _ = pd.factorize(train["user_id"])
        x = sp.csr_matrix(
            (np.ones(len(items)), (users, items)), shape=(users.max() + 1, len(self.item_ids_))
        )
        x.data[:] = 1.0  # binary after duplicates are summed
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += self.penalty
        p = np.linalg.inv(gram)
        self.weights_ = p / -np.diag(p)
        np.fill_diagonal(self.weights_, 0.0)
        self.index_ = pd.Index(self.item_ids_)
        counts = np.bincount(items, minlength=len(self.item_ids_))
        self.popular_ = self.item_ids_[np.argsort(-counts, kind="stable")]
        return self

    def recommend(self, history: pd.DataFrame, k: int) -> list[Hashable]:
        rows = self.index_.get_indexer(pd.unique(history["product_id"]))
        rows = rows[rows >= 0]
        if rows.size == 0:
            return list(self.popular_[:k])
        scores = self.weights_[rows].sum(axis=0)
        scores[rows] = -np.inf
        top = np.argpartition(-scores, k)[:k]
        return list(self.item_ids_[top[np.argsort(-scores[top], kind="stable")]])

    def scorer(self, k: int) -> Scorer:
        return lambda _user, history: self.recommend(history, k)


def tuned_ease(split: Split, positive: dict, seed: int, k: int) -> tuple[EaseYardstick, dict]:
    """EASE with the penalty that ranks best on a random holdout of the training part."""
    inner = random_split(split.train, random_state=seed + 1, **positive)
    truth = inner.test.groupby("user_id")["product_id"].agg(set)
    histories = dict(tuple(inner.train.groupby("user_id", sort=False)))
    users = truth.index.to_numpy()
    if len(users) > 1500:
        users = np.random.default_rng(seed).choice(users, 1500, replace=False)
    found = {}
    for penalty in EASE_LAMBDAS:
        model = EaseYardstick(penalty).fit(inner.train)
        found[penalty] = float(
            np.mean([ndcg_at_k(model.recommend(histories[u], k), truth[u], k) for u in users])
        )
    best = max(found, key=found.get)
    return EaseYardstick(best).fit(split.train), found


# --- one run ------------------------------------------------------------------------------------


def run_once(
    interactions: pd.DataFrame, products: pd.DataFrame, positive: dict, seed: int, k: int
) -> dict:
    split = random_split(interactions, random_state=seed, **positive)
    clock = time.perf_counter()
    engine = HybridRecommender(random_state=seed).fit(split.train, products)
    fit_s = time.perf_counter() - clock
    clock = time.perf_counter()
    ease, validation = tuned_ease(split, positive, seed, k)
    ease_s = time.perf_counter() - clock
    names = ["hybrid", "popularity", *(["ease"] if "ease" in VARIANTS else [])]
    scorers: dict[str, Scorer] = {name: engine_scorer(engine, name, k) for name in names}
    scorers["ease_yardstick"] = ease.scorer(k)
    clock = time.perf_counter()
    scores = evaluate_scorers(split, scorers, len(products), k=k, max_users=None)
    evaluate_s = time.perf_counter() - clock
    ndcg = {s.model: s.ndcg for s in scores}
    reference = "ease" if "ease" in ndcg else "ease_yardstick"
    return {
        "seed": seed,
        "n_train": len(split.train),
        "n_test_users": int(split.test["user_id"].nunique()),
        "n_test_pairs": len(split.test),
        "scores": scores,
        "ndcg": ndcg,
        "ease_reference": reference,
        "hybrid_over_ease": ndcg["hybrid"] / ndcg[reference],
        "hybrid_over_ease_yardstick": ndcg["hybrid"] / ndcg["ease_yardstick"],
        "ease_yardstick_penalty": ease.penalty,
        "ease_yardstick_validation_ndcg": validation,
        "seconds": {"hybrid_fit": fit_s, "ease_tuning": ease_s, "evaluate": evaluate_s},
        "guard": {k: engine.metadata_["ranker"].get(k) for k in ("chosen", "score", "folds")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--data", help="Online Retail CSV(.gz); default $SHOP_RETAIL_CSV or the shared copy"
    )
    parser.add_argument("--only", choices=("stars", "retail"), help="run one data set")
    parser.add_argument(
        "--out", help="JSON results file (default bench/results/random_holdout.json)"
    )
    args = parser.parse_args()

    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}")
    if "ease" not in VARIANTS:
        print("the engine has no 'ease' variant yet: EASE is the bench's own yardstick only")
    plans = {
        "stars": {"positive_kinds": (), "min_rating": 4.0},
        "retail": {"positive_kinds": ("purchase",), "min_rating": None},
    }
    results = {}
    for name, positive in plans.items():
        if args.only and name != args.only:
            continue
        runs = []
        retail = retail_binary(resolve_data(args.data)) if name == "retail" else None
        for seed in args.seeds:
            interactions, products = retail if retail is not None else stars_world(seed)
            run = run_once(interactions, products, positive, seed, args.k)
            runs.append(run)
            t = run["seconds"]
            print(
                f"\n{name} seed {seed}: {len(interactions):,} interactions, "
                f"{interactions['user_id'].nunique():,} shoppers, {len(products):,} products; "
                f"{run['n_test_users']:,} test shoppers, {run['n_test_pairs']:,} held-out pairs "
                f"(hybrid fit {t['hybrid_fit']:.1f}s, EASE tuning {t['ease_tuning']:.1f}s "
                f"-> lambda {run['ease_yardstick_penalty']:g}, evaluation {t['evaluate']:.1f}s)"
            )
            print(render_table(run["scores"], args.k))
            print(f"hybrid / {run['ease_reference']} NDCG@{args.k}: {run['hybrid_over_ease']:.3f}")
            print(f"the guard served: {run['guard']['chosen']}")
        models = list(runs[0]["ndcg"])
        median = {m: statistics.median(r["ndcg"][m] for r in runs) for m in models}
        results[name] = {
            "median_ndcg": median,
            "ease_reference": runs[0]["ease_reference"],
            "median_hybrid_over_ease": statistics.median(r["hybrid_over_ease"] for r in runs),
            "median_hybrid_over_ease_yardstick": statistics.median(
                r["hybrid_over_ease_yardstick"] for r in runs
            ),
            "runs": [
                {
                    **{k: v for k, v in r.items() if k != "scores"},
                    "scores": [s._asdict() for s in r["scores"]],
                }
                for r in runs
            ],
        }
        results[name]["hybrid_over_ease_per_seed"] = [r["hybrid_over_ease"] for r in runs]
        results[name]["served_per_seed"] = [r["guard"]["chosen"] for r in runs]
        print(
            f"\n{name}: median NDCG@{args.k} over seeds {args.seeds}: "
            + ", ".join(f"{m} {v:.4f}" for m, v in median.items())
            + f"; hybrid / {results[name]['ease_reference']} "
            f"{results[name]['median_hybrid_over_ease']:.3f}"
        )
    print(f"\nsummary (NDCG@{args.k}, medians over seeds {args.seeds})")
    for name, result in results.items():
        ratios = ", ".join(f"{r:.3f}" for r in result["hybrid_over_ease_per_seed"])
        print(
            f"{name:<8} hybrid {result['median_ndcg']['hybrid']:.4f}  "
            f"{result['ease_reference']} {result['median_ndcg'][result['ease_reference']]:.4f}  "
            f"hybrid / {result['ease_reference']} {result['median_hybrid_over_ease']:.3f} "
            f"(per seed {ratios}; lowest {min(result['hybrid_over_ease_per_seed']):.3f})  "
            f"hybrid / yardstick {result['median_hybrid_over_ease_yardstick']:.3f}  "
            f"served: {', '.join(result['served_per_seed'])}"
        )
    if len(args.seeds) < 3:
        print("fewer than 3 seeds: the figures above are not the benchmark's medians")
    write_json(
        resolve_out(args.out, "random_holdout.json"),
        {
            "script": "bench/random_holdout.py",
            "machine": info,
            "k": args.k,
            "seeds": args.seeds,
            "stars_world": dict(zip(("users", "products", "events"), STARS_WORLD, strict=True)),
            "ease_lambdas": EASE_LAMBDAS,
            "variants": list(VARIANTS),
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
