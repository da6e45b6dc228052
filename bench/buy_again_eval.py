"""How well "Buy it again" orders a customer's past purchases: the UCI Online Retail log, by time.

Before ``--cut`` is the history; a customer's test set is the products they bought both before and
after the cut (their re-buys). Each customer's previously bought products are ranked by the shop's
``rebuy_scores`` (own repeat orders + the product's shop-wide re-buy rate, halved every
``--half-life`` days) and by simpler orders: most recent first, most often bought first, and the
shop-wide re-buy rate alone. Re-buy rates come from the history only. Prints NDCG@10 and
recall@10 over the customers who re-bought anything, and how much of the later buying is re-buying.

    .venv/bin/python bench/buy_again_eval.py [--data PATH] [--cut 2011-09-01] [--until DATE]
                                             [--half-life 30 90 180] [--out FILE]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from _retail import load_retail, machine, resolve_data, resolve_out, write_json

from shop.recommend.metrics import ndcg_at_k, recall_at_k
from shop.services.history_lists import REBUY_HALF_LIFE_DAYS, rebuy_scores

K = 10


def occasions(purchases: pd.DataFrame) -> pd.DataFrame:
    """One row per (customer, product, invoice time): an order of that product, however many lines."""
    return purchases[["user_id", "product_id", "timestamp"]].drop_duplicates()


def history_table(before: pd.DataFrame) -> pd.DataFrame:
    """Per (customer, product): orders, last order, and the product's buyers and repeat buyers."""
    own = before.groupby(["user_id", "product_id"], sort=False).agg(
        orders=("timestamp", "size"), last=("timestamp", "max")
    )
    own = own.reset_index()
    per_product = own.groupby("product_id").agg(
        buyers=("orders", "size"), repeat_buyers=("orders", lambda n: int((n >= 2).sum()))
    )
    own = own.join(per_product, on="product_id")
    latest = own.groupby("user_id")["last"].transform("max")
    own["days"] = (latest - own["last"]).dt.total_seconds() / 86400.0
    return own


def rankings(table: pd.DataFrame, half_lives: list[float]) -> dict[str, np.ndarray]:
    """A score per row for each way of ordering (higher first)."""
    rate = table["repeat_buyers"].to_numpy() / (table["buyers"].to_numpy() + 1.0)
    scores = {
        "most recent first": -table["days"].to_numpy(),
        "most often first": table["orders"].to_numpy() - 1e-6 * table["days"].to_numpy(),
        "shop-wide re-buy rate": rate,
    }
    for half_life in half_lives:
        scores[f"rebuy_scores, half-life {half_life:g} d"] = rebuy_scores(
            table["orders"],
            table["days"],
            table["buyers"],
            table["repeat_buyers"],
            half_life_days=half_life,
        )
    return scores


def evaluate(table: pd.DataFrame, truth: dict, score: np.ndarray) -> tuple[float, float]:
    frame = table[["user_id", "product_id"]].assign(score=score)
    frame = frame.loc[frame["score"] > -np.inf].sort_values(
        ["user_id", "score", "product_id"], ascending=[True, False, True], kind="stable"
    )
    lists = frame.groupby("user_id", sort=False)["product_id"].agg(list)
    ndcg = recall = 0.0
    for user, relevant in truth.items():
        ranked = lists.get(user, [])[:K]
        ndcg += ndcg_at_k(ranked, relevant, K)
        recall += recall_at_k(ranked, relevant, K)
    return ndcg / len(truth), recall / len(truth)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data", default=None)
    parser.add_argument("--cut", default="2011-09-01")
    parser.add_argument("--until", default=None, help="test on purchases before this date only")
    parser.add_argument(
        "--half-life", type=float, nargs="+", default=[REBUY_HALF_LIFE_DAYS], help="days"
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    started = time.perf_counter()
    interactions, _ = load_retail(resolve_data(args.data))
    orders = occasions(interactions)
    cut = pd.Timestamp(args.cut)
    before = orders.loc[orders["timestamp"] < cut]
    later = orders["timestamp"] >= cut
    if args.until:
        later &= orders["timestamp"] < pd.Timestamp(args.until)
    after = orders.loc[later, ["user_id", "product_id"]].drop_duplicates()
    table = history_table(before)
    known = after.merge(table[["user_id", "product_id"]], on=["user_id", "product_id"])
    truth = known.groupby("user_id")["product_id"].agg(set).to_dict()
    returning = after.loc[after["user_id"].isin(table["user_id"].unique())]
    share = len(known) / max(len(returning), 1)

    rows = []
    for name, score in rankings(table, args.half_life).items():
        ndcg, recall = evaluate(table, truth, score)
        rows.append({"ranking": name, "ndcg@10": round(ndcg, 4), "recall@10": round(recall, 4)})

    period = f"{args.cut} to {args.until}" if args.until else f"from {args.cut}"
    print(f"Online Retail, history before {args.cut}: {len(table):,} (customer, product) pairs")
    print(f"Test: re-buys {period}")
    print(
        f"{len(truth):,} customers re-bought something after the cut; of returning customers' "
        f"later (customer, product) pairs, {share:.1%} are re-buys"
    )
    print(f"{'ranking':<36}{'NDCG@10':>9}{'R@10':>9}")
    for row in rows:
        print(f"{row['ranking']:<36}{row['ndcg@10']:>9.4f}{row['recall@10']:>9.4f}")
    elapsed = time.perf_counter() - started
    print(f"({elapsed:.1f} s)")
    write_json(
        resolve_out(args.out, "buy_again_eval.json"),
        {
            "cut": args.cut,
            "until": args.until,
            "customers_with_rebuys": len(truth),
            "rebuy_share_of_later_pairs": round(share, 4),
            "rows": rows,
            "seconds": round(elapsed, 1),
            "machine": machine(),
        },
    )


if __name__ == "__main__":
    main()
