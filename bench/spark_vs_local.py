"""Implicit ALS on Spark (MLlib, ``flask train --backend spark``) against the local implicit ALS.

Two questions, same hyperparameters on both sides (the engine's: 64 factors, regularisation 0.05,
15 iterations, alpha 2):

1. Quality, on the UCI Online Retail log (train before 2011-09-01, test after, as bench/retail_eval.py):
   NDCG@10 of the engine's ALS source when its item factors come from Spark and when they come from
   the local fit, both asked through ``recommend(variant="als")``, i.e. with the shopper folded in
   at request time exactly as the shop serves. Target: Spark within 5% of local.
2. Cost, on generated logs of --sizes interactions (default 1M and 10M; a catalogue of --products,
   one shopper per --events-per-user events): fit wall time and peak memory. Each (backend, size)
   runs in a fresh child process so its peak RSS is its own. The local child holds the whole log as
   the worker does (a pandas frame, coded, a sparse matrix, implicit's fit); the Spark child
   generates the log in chunks straight into Parquet (what the worker's export does) and never
   holds it whole: its Python peak is reported apart from the driver JVM's (VmHWM of the java
   process, read before the session stops). Spark runs on --master (default local[2]).

    .venv/bin/python bench/spark_vs_local.py [--sizes 1000000 10000000] [--master local[2]]
        [--driver-memory 4g] [--data online_retail.csv.gz] [--skip-quality]
        [--backends local spark] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _retail import load_retail, machine, resolve_data, resolve_out, write_json

from shop.recommend import HybridRecommender
from shop.recommend.evaluation import engine_scorer, evaluate_scorers, time_split
from shop.recommend.frames import (
    DEFAULT_KIND_WEIGHTS,
    KINDS,
    encode_events,
    implicit_weights,
    kind_weight_table,
    strength_matrix,
    weights_from_codes,
)
from shop.recommend.implicit_mf import ALSModel
from shop.training.spark_als import EventWriter, SparkALS

PARAMS = {"factors": 64, "regularization": 0.05, "iterations": 15, "alpha": 2.0}
KIND_SHARES = (0.45, 0.25, 0.1, 0.06, 0.09, 0.05)  # KINDS order: view ... rating
CHUNK = 500_000
START_DAY = 20_089.0  # 2025-01-01 in days since the epoch


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """A process's peak resident set (VmHWM), in MB.

    Not ``getrusage``'s ru_maxrss: Linux keeps that across exec, so a child started by this script
    would report the parent's peak when it is the larger.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# --------------------------------------------------------------------- generated logs


def generated_chunks(n_events: int, n_users: int, n_products: int, seed: int = 0):
    """The generated log in chunks of ``CHUNK`` events: (user, product, kind code, value, day).

    Shoppers favour three of the catalogue's categories, products within a category are Zipf
    popular, a fifth of events wander anywhere; activity per shopper is log-normal. Chunks are
    seeded one by one, so both backends see the same log without anyone holding all of it.
    """
    base = np.random.default_rng(seed)
    n_categories = max(1, n_products // 200)
    category = base.integers(0, n_categories, n_products)
    by_category = [np.flatnonzero(category == c) for c in range(n_categories)]
    sizes = np.array([len(b) for b in by_category])
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    members = np.concatenate(by_category)
    favourite = base.integers(0, n_categories, (n_users, 3))
    activity = base.lognormal(0.0, 1.0, n_users)
    activity /= activity.sum()
    cumulative = np.cumsum(activity)
    for number, start in enumerate(range(0, n_events, CHUNK)):
        rng = np.random.default_rng([seed, number])
        size = min(CHUNK, n_events - start)
        users = np.minimum(np.searchsorted(cumulative, rng.random(size)), n_users - 1)
        pick = favourite[users, rng.integers(0, 3, size)]
        rank = np.minimum(rng.zipf(1.3, size) - 1, sizes[pick] - 1)
        items = members[offsets[pick] + rank]
        wander = rng.random(size) < 0.2
        items[wander] = rng.integers(0, n_products, int(wander.sum()))
        codes = rng.choice(len(KINDS), size, p=KIND_SHARES)
        values = np.where(
            codes == KINDS.index("rating"),
            rng.integers(1, 6, size),
            np.where(codes == KINDS.index("purchase"), rng.integers(1, 4, size), 1),
        ).astype(float)
        days = START_DAY + rng.random(size) * 365
        yield users, items, codes, values, days


def child_local(n_events: int, n_users: int, n_products: int) -> dict:
    """The local backend as the worker runs it: the whole log in one frame, then implicit's ALS."""
    clock = time.perf_counter()
    parts = [
        pd.DataFrame(
            {
                "user_id": users,
                "product_id": items,
                "kind": np.asarray(KINDS, dtype=object)[codes],
                "value": values,
                "timestamp": pd.to_datetime(days * 86_400, unit="s", utc=True),
            }
        )
        for users, items, codes, values, days in generated_chunks(n_events, n_users, n_products)
    ]
    interactions = pd.concat(parts, ignore_index=True)
    del parts
    load_s = time.perf_counter() - clock
    clock = time.perf_counter()
    events = encode_events(interactions, pd.RangeIndex(n_products))
    weights = implicit_weights(events.kinds, events.values, DEFAULT_KIND_WEIGHTS)
    matrix = strength_matrix(events.users, events.items, weights, (events.n_users, n_products))
    model = ALSModel(**PARAMS, random_state=0).fit(matrix)
    fit_s = time.perf_counter() - clock
    return {
        "backend": "local",
        "events": n_events,
        "cells": int(matrix.nnz),
        "load_s": round(load_s, 2),
        "fit_s": round(fit_s, 2),
        "python_peak_mb": round(peak_rss_mb(), 1),
        "jvm_peak_mb": None,
        "factors_shape": list(model.item_factors_.shape),
    }


def child_spark(
    n_events: int, n_users: int, n_products: int, master: str, driver_memory: str
) -> dict:
    """The Spark backend: the log exported chunk by chunk to Parquet, Spark sums, damps and fits."""
    table = kind_weight_table(DEFAULT_KIND_WEIGHTS)
    with tempfile.TemporaryDirectory(prefix="spark-bench-") as folder:
        path = Path(folder) / "events.parquet"
        clock = time.perf_counter()
        with EventWriter(path) as writer:
            for users, items, codes, values, days in generated_chunks(
                n_events, n_users, n_products
            ):
                writer.write(users, items, weights_from_codes(codes, values, table), days)
        export_s = time.perf_counter() - clock
        model = ALSModel(**PARAMS, random_state=0)
        with SparkALS(
            master, driver_memory=driver_memory, shuffle_partitions=8, staging_dir=folder
        ) as spark:
            clock = time.perf_counter()
            spark.session()
            start_s = time.perf_counter() - clock
            clock = time.perf_counter()
            factors = spark.fit_parquet(str(path), n_products, model)
            fit_s = time.perf_counter() - clock
            pid = spark.driver_pid()
            jvm = None if pid is None else peak_rss_mb(pid)
    return {
        "backend": "spark",
        "events": n_events,
        "export_s": round(export_s, 2),
        "session_start_s": round(start_s, 2),
        "fit_s": round(fit_s, 2),
        "python_peak_mb": round(peak_rss_mb(), 1),
        "jvm_peak_mb": None if jvm is None else round(jvm, 1),
        "factors_shape": list(factors.shape),
        "master": master,
        "driver_memory": driver_memory,
    }


def run_child(args: argparse.Namespace, backend: str, n_events: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        backend,
        "--events",
        str(n_events),
        "--products",
        str(args.products),
        "--events-per-user",
        str(args.events_per_user),
        "--master",
        args.master,
        "--driver-memory",
        args.driver_memory,
    ]
    clock = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{backend} at {n_events:,} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = round(time.perf_counter() - clock, 2)
    return result


# --------------------------------------------------------------------- quality


def quality(args: argparse.Namespace) -> dict:
    interactions, products = load_retail(resolve_data(args.data))
    split = time_split(interactions, pd.Timestamp(args.cut), positive_kinds=("purchase",))
    engine_params = {
        "als_factors": PARAMS["factors"],
        "als_regularization": PARAMS["regularization"],
        "als_iterations": PARAMS["iterations"],
        "als_alpha": PARAMS["alpha"],
        "ranker": "fixed",  # the ALS source is what is compared; no validation folds needed
        "random_state": 0,
    }
    clock = time.perf_counter()
    local = HybridRecommender(**engine_params).fit(split.train, products)
    local_s = time.perf_counter() - clock
    with SparkALS(args.master, driver_memory=args.driver_memory, shuffle_partitions=8) as spark:
        clock = time.perf_counter()
        on_spark = HybridRecommender(**engine_params).fit(split.train, products, als_fitter=spark)
        spark_s = time.perf_counter() - clock
    scores = evaluate_scorers(
        split,
        {
            "als_local": engine_scorer(local, "als", args.k),
            "als_spark": engine_scorer(on_spark, "als", args.k),
            "popularity": engine_scorer(local, "popularity", args.k),
        },
        len(products),
        k=args.k,
        max_users=None,
        random_state=0,
    )
    by_name = {s.model: s for s in scores}
    ratio = by_name["als_spark"].ndcg / by_name["als_local"].ndcg
    return {
        "data": {
            "train_lines": len(split.train),
            "test_customers": int(split.test["user_id"].nunique()),
            "products": len(products),
            "cut": args.cut,
        },
        "ndcg": {name: round(s.ndcg, 4) for name, s in by_name.items()},
        "recall": {name: round(s.recall, 4) for name, s in by_name.items()},
        "spark_over_local_ndcg": round(ratio, 4),
        "within_5_percent": bool(ratio >= 0.95),
        "engine_fit_s": {"local": round(local_s, 1), "spark": round(spark_s, 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--events-per-user", type=int, default=20)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--data", help="Online Retail CSV(.gz); default $SHOP_RETAIL_CSV")
    parser.add_argument("--cut", default="2011-09-01")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--backends", nargs="+", choices=("local", "spark"), default=["local", "spark"]
    )
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--out", help="JSON file (default bench/results/spark_vs_local.json)")
    parser.add_argument("--child", choices=("local", "spark"), help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        users = max(1, args.events // args.events_per_user)
        if args.child == "local":
            result = child_local(args.events, users, args.products)
        else:
            result = child_spark(args.events, users, args.products, args.master, args.driver_memory)
        print(json.dumps(result))
        return

    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}")
    print(f"ALS: {PARAMS}; Spark master {args.master}, driver memory {args.driver_memory}")
    payload: dict = {"machine": info, "params": PARAMS, "master": args.master}
    if not args.skip_quality:
        result = quality(args)
        payload["quality"] = result
        print(
            f"\nOnline Retail (train before {args.cut}: {result['data']['train_lines']:,} lines; "
            f"{result['data']['test_customers']:,} test customers), NDCG@{args.k}:"
        )
        for name, value in result["ndcg"].items():
            print(f"  {name:<12} {value:.4f}")
        print(
            f"  Spark / local {result['spark_over_local_ndcg']:.3f} "
            f"({'within' if result['within_5_percent'] else 'NOT within'} 5%)"
        )
    rows = []
    for size in args.sizes:
        for backend in args.backends:
            row = run_child(args, backend, size)
            rows.append(row)
            print(f"  measured {backend} at {size:,}: fit {row['fit_s']} s", flush=True)
            payload["scale"] = rows
            write_json(resolve_out(args.out, "spark_vs_local.json"), payload)
    print(
        f"\n{'events':>11} {'backend':<7} {'fit s':>8} {'start s':>8} {'export s':>9} "
        f"{'Python peak MB':>15} {'JVM peak MB':>12}"
    )
    for row in rows:
        print(
            f"{row['events']:>11,} {row['backend']:<7} {row['fit_s']:>8.1f} "
            f"{row.get('session_start_s', 0.0):>8.1f} "
            f"{row.get('export_s', row.get('load_s', 0.0)):>9.1f} "
            f"{row['python_peak_mb']:>15.0f} "
            f"{'-' if row['jvm_peak_mb'] is None else format(row['jvm_peak_mb'], '.0f'):>12}"
        )
    payload["scale"] = rows
    out = resolve_out(args.out, "spark_vs_local.json")
    write_json(out, payload)
    print(f"\nWrote {out}")


if __name__ == "__main__":
    main()
