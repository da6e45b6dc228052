"""Wall time of HybridRecommender.fit on 1,000,000 synthetic interactions, with the phase breakdown.

The fit includes the ranker's validation: the sources are fitted on each holdout's past, then on all data.
The machine's speed is measured in the same process: the median of three fits of a textbook implicit ALS
(the retail benchmark's untuned baseline) on the same interactions, and the fit's ratio to it, which
moves far less than the seconds between machines.

    .venv/bin/python bench/fit_speed.py [--events 1000000] [--products 10000] [--users 50000] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import time

from _retail import machine, resolve_out, synthetic_shop, textbook_als, write_json

from shop.recommend import HybridRecommender

TARGET_SECONDS = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="JSON results file (default bench/results/fit_speed.json)")
    args = parser.parse_args()

    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}")
    clock = time.perf_counter()
    interactions, products = synthetic_shop(args.products, args.users, args.events, args.seed)
    generate_s = time.perf_counter() - clock
    kinds = interactions["kind"].value_counts().to_dict()
    print(
        f"data: {len(interactions):,} interactions ({', '.join(f'{k} {v:,}' for k, v in kinds.items())}), "
        f"{interactions['user_id'].nunique():,} shoppers, {len(products):,} products "
        f"(generated in {generate_s:.1f}s, not counted)"
    )
    yardstick = []
    for repeat in range(3):
        clock = time.perf_counter()
        textbook_als(interactions, args.seed + repeat)
        yardstick.append(time.perf_counter() - clock)
    als_s = statistics.median(yardstick)
    print(f"yardstick: textbook implicit ALS fit {als_s:.1f} s (median of 3)")
    clock = time.perf_counter()
    engine = HybridRecommender(random_state=args.seed).fit(interactions, products)
    wall = time.perf_counter() - clock
    phases = engine.metadata_["fit_seconds"]
    print(
        f"fit wall time: {wall:.1f} s (target <= {TARGET_SECONDS:.0f} s, ranker included), "
        f"{wall / als_s:.1f}x the yardstick"
    )
    print("phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
    print(f"the guard served: {engine.metadata_['ranker']['chosen']}")
    write_json(
        resolve_out(args.out, "fit_speed.json"),
        {
            "script": "bench/fit_speed.py",
            "machine": info,
            "params": {k: v for k, v in vars(args).items() if k != "out"},
            "n_interactions": len(interactions),
            "n_users": int(interactions["user_id"].nunique()),
            "n_products": len(products),
            "fit_wall_seconds": wall,
            "yardstick_als_seconds": yardstick,
            "fit_over_yardstick": wall / als_s,
            "phase_seconds": phases,
            "ranker": engine.metadata_["ranker"],
        },
    )


if __name__ == "__main__":
    main()
