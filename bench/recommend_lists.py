"""The lists a saved engine gives, written down, and two such files compared: a speed change to the request
path must leave every list as it was (ids, order, reasons; scores to float tolerance).

Run it once with each version of the engine on the same model file (``recommend_speed.py --model``
saves one), then compare:

    PYTHONPATH=<old checkout> python bench/recommend_lists.py --model FILE --out before.json
    python bench/recommend_lists.py --model FILE --out after.json
    python bench/recommend_lists.py --compare before.json after.json

Each shopper is asked for ten and twenty products, for ten with 30 random products excluded, and every
fourth also for each single source. ``--future-weight`` serves a learned ranker's twin with that weight
instead of the one the guard chose (the same trees, another mix of their two views).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from _retail import synthetic_shop
from threadpoolctl import threadpool_limits

from shop.recommend import HybridRecommender
from shop.recommend.rankers import LearnedRanker

SINGLE_SOURCES = ("popularity", "svd", "als", "itemknn", "content", "ease")


def lists(args: argparse.Namespace) -> list[dict]:
    engine = HybridRecommender.load(args.model)
    if args.future_weight is not None and isinstance(engine.ranker_, LearnedRanker):
        engine.ranker_ = engine.ranker_.with_future_weight(args.future_weight)
    interactions, products = synthetic_shop(args.products, args.users, args.events, args.seed)
    rng = np.random.default_rng(args.seed)
    users = interactions["user_id"].unique()
    chosen = rng.choice(users, min(args.shoppers, len(users)), replace=False)
    grouped = dict(tuple(interactions.loc[interactions["user_id"].isin(chosen)].groupby("user_id")))
    catalogue = products["product_id"].to_numpy()
    out = []
    for i, user in enumerate(chosen.tolist()):
        history = grouped[user].drop(columns="user_id")
        calls = [{"n": 10}, {"n": 20}, {"n": 10, "exclude": rng.choice(catalogue, 30).tolist()}]
        if i % 4 == 0:
            calls += [{"n": 10, "variant": name} for name in SINGLE_SOURCES]
        for call in calls:
            shown = engine.recommend(history, **call)
            out.append(
                {
                    "shopper": int(user),
                    "call": {k: v for k, v in call.items() if k != "exclude"},
                    "list": [[int(r.product_id), r.score, r.reason] for r in shown],
                }
            )
    return out


def compare(before: list[dict], after: list[dict]) -> int:
    """Print how many lists differ; exit status 1 if any does."""
    if len(before) != len(after):
        print(f"{len(before)} lists against {len(after)}: not the same calls")
        return 1
    differ, exact, worst = 0, 0, 0.0
    for old, new in zip(before, after, strict=True):
        same_items = [x[::2] for x in old["list"]] == [x[::2] for x in new["list"]]
        if old["call"] != new["call"] or not same_items:
            differ += 1
            continue
        gaps = [abs(x[1] - y[1]) for x, y in zip(old["list"], new["list"], strict=True)]
        worst = max([worst, *gaps])
        exact += all(gap == 0 for gap in gaps)
    print(
        f"{len(before)} lists: {differ} differ in ids, order or reasons; scores identical in "
        f"{exact}; largest score difference {worst:g}"
    )
    return 1 if differ or worst > 1e-9 else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="a saved engine fitted on the shop below")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shoppers", type=int, default=400)
    parser.add_argument("--future-weight", type=float)
    parser.add_argument("--out", help="where the lists are written (JSON)")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        loaded = []
        for path in args.compare:
            with open(path) as handle:
                loaded.append(json.load(handle))
        sys.exit(compare(*loaded))
    if not args.model or not args.out:
        parser.error("--model and --out, or --compare")
    threadpool_limits(1, "blas")
    with open(args.out, "w") as handle:
        json.dump(lists(args), handle)


if __name__ == "__main__":
    main()
