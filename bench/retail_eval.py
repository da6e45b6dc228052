"""Top-n quality on real purchases: the UCI Online Retail log, split by time.

Train on invoices before --cut, test on each customer's later purchases of products new to them. Compares
rule-based popularity, untuned implicit ALS (the obvious off-the-shelf baseline) and the engine's models,
and prints the hybrid's relative improvement over the best baseline.

    .venv/bin/python bench/retail_eval.py [--data PATH] [--cut 2011-09-01] [--seeds 0 1 2] [--out FILE]

A development split, for deciding engine changes without looking at the test period: ``--until
2011-09-01 --cut 2011-06-01 --out /some/scratch.json`` keeps only the log before --until, and only the
products sold by then (otherwise products first sold later, which nobody could buy in the dev test
months, take list slots and the dev figures are wrong).

Rolling cuts, so that no decision hangs on one month: ``--rolling`` fits before each monthly cut from
2011-05-01 to 2011-11-01 (the log ends on 2011-12-09, so every cut has 30 days after it) on the log
before cut + 30 days (and the products sold by then), scores each customer's purchases of new products
in those 30 days, and prints per cut the hybrid, EASE (the engine's variant), untuned ALS and
popularity, the ratios, and the medians. The cuts whose 30 days end by 2011-08-01 (May, June, July)
are *development* cuts, on which engine changes are decided; the later four (August to November) are
*confirmation* cuts, only looked at to confirm a change. ``--phase development`` runs only the first.

    .venv/bin/python bench/retail_eval.py --rolling [--phase development|confirmation|all]
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
#: Monthly cuts of the rolling evaluation; each is scored on the WINDOW_DAYS after it.
ROLLING_CUTS = tuple(f"2011-{month:02d}-01" for month in range(5, 12))
WINDOW_DAYS = 30
#: Cuts whose test window ends by this date decide engine changes; the later ones only confirm them.
DEVELOPMENT_UNTIL = "2011-08-01"
ROLLING_MODELS = ("hybrid", "ease", "als_untuned", "popularity")


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


def up_to(
    interactions: pd.DataFrame, products: pd.DataFrame, until: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The log before ``until`` and the products sold by then (later products cannot be bought in the
    test window, and would only take list slots)."""
    log = interactions[interactions["timestamp"] < until]
    sold = products["product_id"].isin(log["product_id"])
    return log, products[sold].reset_index(drop=True)


def phase_of(cut: str) -> str:
    end = pd.Timestamp(cut) + pd.Timedelta(days=WINDOW_DAYS)
    return "development" if end <= pd.Timestamp(DEVELOPMENT_UNTIL) else "confirmation"


def run_cut(
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    cut: str,
    seed: int,
    k: int,
    max_users: int | None,
    params: dict | None = None,
    extra: tuple[str, ...] = (),
) -> dict:
    """One rolling cut: fit on the log before ``cut``, score the WINDOW_DAYS after it.

    ``params`` go to the engine's constructor and ``extra`` engine variants are scored too: how the
    README's "tried and dropped" rows were measured."""
    until = pd.Timestamp(cut) + pd.Timedelta(days=WINDOW_DAYS)
    log, catalogue = up_to(interactions, products, until)
    split = time_split(log, pd.Timestamp(cut), positive_kinds=("purchase",))
    clock = time.perf_counter()
    engine = HybridRecommender(random_state=seed, **(params or {})).fit(split.train, catalogue)
    fit_s = time.perf_counter() - clock
    scorers: dict[str, Scorer] = {
        "hybrid": engine_scorer(engine, "hybrid", k),
        "ease": engine_scorer(engine, "ease", k),
        "als_untuned": untuned_als_scorer(split.train, k, seed),
        "popularity": popularity_scorer(split.train, k),
    }
    for variant in extra:
        scorers[variant] = engine_scorer(engine, variant, k)
    clock = time.perf_counter()
    scores = evaluate_scorers(
        split, scorers, len(catalogue), k=k, max_users=max_users, random_state=seed
    )
    ndcg = {s.model: s.ndcg for s in scores}
    ranker = engine.metadata_["ranker"]
    served = ranker.get("ranker", {})
    return {
        "cut": cut,
        "phase": phase_of(cut),
        "n_train_lines": len(split.train),
        "n_test_customers": int(split.test["user_id"].nunique()),
        "n_test_pairs": len(split.test),
        "ndcg": ndcg,
        "hybrid_over_ease": ndcg["hybrid"] / ndcg["ease"],
        "hybrid_over_als_untuned": ndcg["hybrid"] / ndcg["als_untuned"],
        "served": ranker["chosen"],
        "future_weight": served.get("future_weight"),
        "scores": [s._asdict() for s in scores],
        "seconds": {"hybrid_fit": fit_s, "evaluate": time.perf_counter() - clock},
        "guard": {key: ranker.get(key) for key in ("chosen", "score", "worst_protocol", "folds")},
    }


def rolling_summary(cuts: list[dict], models: tuple[str, ...]) -> dict:
    """Medians of the NDCGs and ratios over all cuts and over each phase's cuts."""
    out = {}
    for phase in ("development", "confirmation", "all"):
        chosen = [c for c in cuts if phase in ("all", c["phase"])]
        if not chosen:
            continue
        out[phase] = {
            "cuts": [c["cut"] for c in chosen],
            "median_ndcg": {m: statistics.median(c["ndcg"][m] for c in chosen) for m in models},
            "median_hybrid_over_ease": statistics.median(c["hybrid_over_ease"] for c in chosen),
            "median_hybrid_over_als_untuned": statistics.median(
                c["hybrid_over_als_untuned"] for c in chosen
            ),
            "min_hybrid_over_ease": min(c["hybrid_over_ease"] for c in chosen),
        }
    return out


def rolling(args: argparse.Namespace, info: dict) -> None:
    interactions, products = load_retail(resolve_data(args.data))
    cuts = [c for c in args.cuts if args.phase in ("all", phase_of(c))]
    params = {}
    for pair in args.param:
        name, _, value = pair.partition("=")
        params[name] = _literal(value)
    extra = tuple(v for v in args.variants if v not in ROLLING_MODELS)
    models = (*ROLLING_MODELS, *extra)
    header = (
        f"{'cut':<11}{'phase':<13}{'customers':>10}"
        + "".join(f"{m:>12}" for m in models)
        + f"{'h/EASE':>8}{'h/ALS':>8}  served"
    )
    print(f"NDCG@{args.k} on the {WINDOW_DAYS} days after each cut, seed {args.seeds[0]}")
    print(header, flush=True)
    results: list[dict] = []
    out = resolve_out(args.out, "retail_rolling.json")
    for cut in cuts:
        result = run_cut(
            interactions, products, cut, args.seeds[0], args.k, args.max_users, params, extra
        )
        results.append(result)
        served = result["served"]
        if result["future_weight"] is not None and ":" not in served:
            served += f" (future weight {result['future_weight']:g})"
        print(
            f"{cut:<11}{result['phase']:<13}{result['n_test_customers']:>10,}"
            + "".join(f"{result['ndcg'][m]:>12.4f}" for m in models)
            + f"{result['hybrid_over_ease']:>8.3f}{result['hybrid_over_als_untuned']:>8.3f}  {served}"
            + f"  (fit {result['seconds']['hybrid_fit']:.0f}s)",
            flush=True,
        )
        summary = rolling_summary(results, models)
        write_json(
            out,
            {
                "script": "bench/retail_eval.py --rolling",
                "machine": info,
                "data": resolve_data(args.data).name,
                "window_days": WINDOW_DAYS,
                "development_until": DEVELOPMENT_UNTIL,
                "k": args.k,
                "seed": args.seeds[0],
                "params": params,
                "cuts": results,
                "summary": summary,
            },
        )
    for phase, figures in rolling_summary(results, models).items():
        median = figures["median_ndcg"]
        print(
            f"median, {phase} ({len(figures['cuts'])} cuts)".ljust(34)
            + "".join(f"{median[m]:>12.4f}" for m in models)
            + f"{figures['median_hybrid_over_ease']:>8.3f}"
            + f"{figures['median_hybrid_over_als_untuned']:>8.3f}"
            + f"  (lowest hybrid / EASE {figures['min_hybrid_over_ease']:.3f})"
        )


def _literal(text: str) -> object:
    """A --param value as the number or boolean it spells, else the string."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


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
    parser.add_argument(
        "--rolling", action="store_true", help="every monthly cut (see above); first seed only"
    )
    parser.add_argument("--cuts", nargs="+", default=list(ROLLING_CUTS), help="--rolling's cuts")
    parser.add_argument("--phase", choices=("development", "confirmation", "all"), default="all")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="--rolling: an engine constructor argument (repeatable), e.g. knn_weighting=rp3beta",
    )
    parser.add_argument(
        "--variants", nargs="*", default=[], help="--rolling: engine variants scored as well"
    )
    args = parser.parse_args()

    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}")
    if args.rolling:
        rolling(args, info)
        return
    clock = time.perf_counter()
    interactions, products = load_retail(resolve_data(args.data))
    if args.until:
        interactions, products = up_to(interactions, products, pd.Timestamp(args.until))
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
