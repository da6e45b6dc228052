"""Shared helpers for the benchmark scripts: the UCI Online Retail loader and machine description.

The data set is not part of the repository; scripts take ``--data`` (default: the team's shared copy next
to the repository) or the ``SHOP_RETAIL_CSV`` environment variable.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path("..") / "shared" / "data" / "online_retail.csv.gz"
RESULTS_DIR = Path("bench") / "results"

if str(REPO_ROOT) not in sys.path:  # scripts run as `python bench/x.py` from anywhere
    sys.path.insert(0, str(REPO_ROOT))

# Stock codes are five digits with an optional letter suffix; everything else (POST, DOT, M, BANK CHARGES,
# AMAZONFEE, C2, gift vouchers, DCGS sets...) is a fee, an adjustment or a non-catalogue line.
PRODUCT_CODE = r"^\d{5}[A-Za-z]{0,2}$"


def resolve_data(option: str | None) -> Path:
    """The data path: --data, else $SHOP_RETAIL_CSV, else the shared copy relative to the repo root."""
    raw = option or os.environ.get("SHOP_RETAIL_CSV") or str(DEFAULT_DATA)
    path = Path(raw)
    return path if path.is_absolute() else (REPO_ROOT / path)


def resolve_out(option: str | None, default_name: str) -> Path:
    path = Path(option) if option else RESULTS_DIR / default_name
    return path if path.is_absolute() else (REPO_ROOT / path)


def load_retail(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Online Retail invoice lines as engine input: purchases (value = quantity) and a product table."""
    raw = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": "Int64"})
    code = raw["StockCode"].astype(str).str.strip().str.upper()
    keep = (
        ~raw["InvoiceNo"].astype(str).str.startswith("C")
        & code.str.match(PRODUCT_CODE)
        & raw["CustomerID"].notna()
        & (raw["Quantity"] > 0)
        & (raw["UnitPrice"] > 0)
    )
    lines = raw.loc[keep].assign(StockCode=code[keep])
    interactions = pd.DataFrame(
        {
            "user_id": lines["CustomerID"].astype("int64").to_numpy(),
            "product_id": lines["StockCode"].to_numpy(),
            "kind": "purchase",
            "value": lines["Quantity"].astype(float).to_numpy(),
            "timestamp": pd.to_datetime(lines["InvoiceDate"]).to_numpy(),
        }
    )
    descriptions = (
        lines.assign(Description=lines["Description"].fillna("").astype(str).str.strip())
        .groupby("StockCode")["Description"]
        .agg(lambda s: s[s != ""].mode().iloc[0] if (s != "").any() else "")
    )
    prices = lines.groupby("StockCode")["UnitPrice"].median()
    products = pd.DataFrame(
        {
            "product_id": descriptions.index.to_numpy(),
            "name": descriptions.to_numpy(),
            "description": descriptions.to_numpy(),
            "category": "",
            "price": prices.reindex(descriptions.index).to_numpy(),
        }
    )
    return interactions, products


def machine() -> dict[str, Any]:
    """What the figures were measured on: they mean little without it."""
    from shop.recommend.rankers import usable_cores

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": usable_cores(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")


def textbook_als(interactions: pd.DataFrame, seed: int) -> tuple[Any, Any, pd.Index, pd.Index]:
    """implicit ALS with textbook settings (64 factors, 20 iterations, regularisation 0.05) on the binary
    shopper x product matrix, one BLAS thread: the retail benchmark's untuned baseline, and the fit
    benchmark's yardstick. Returns (model, matrix, shopper ids, product ids)."""
    import numpy as np
    import scipy.sparse as sp
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    users, user_ids = pd.factorize(interactions["user_id"])
    items, item_ids = pd.factorize(interactions["product_id"])
    matrix = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0  # binary after duplicate summing
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=64, iterations=20, regularization=0.05, random_state=seed
        )
        model.fit(matrix, show_progress=False)
    return model, matrix, user_ids, item_ids


def synthetic_shop(
    n_products: int, n_users: int, n_events: int, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A deterministic synthetic shop for speed figures: categories, text, skewed popularity, all kinds.

    Shoppers mostly stay within a few favourite categories and popular products get most events (Zipf),
    which is the shape that makes sparse similarity matrices realistically dense.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    n_categories = max(1, n_products // 200)
    words = [f"w{i}" for i in range(2000)]
    category = rng.integers(0, n_categories, n_products)
    names = [" ".join(rng.choice(words, 3)) for _ in range(n_products)]
    products = pd.DataFrame(
        {
            "product_id": np.arange(n_products),
            "name": names,
            "description": [f"{n} " + " ".join(rng.choice(words, 8)) for n in names],
            "category": [f"category {c}" for c in category],
            "brand": [f"brand {b}" for b in rng.integers(0, 300, n_products)],
            "price": rng.uniform(1, 100, n_products).round(2),
        }
    )
    by_category = [np.flatnonzero(category == c) for c in range(n_categories)]
    favourite = rng.integers(0, n_categories, (n_users, 3))
    user_weight = rng.lognormal(
        0.0, 1.0, n_users
    )  # a long tail of activity, no one with half the log
    users = rng.choice(n_users, n_events, p=user_weight / user_weight.sum())
    pick = favourite[users, rng.integers(0, 3, n_events)]
    sizes = np.array([len(b) for b in by_category])
    rank = np.minimum(rng.zipf(1.3, n_events) - 1, sizes[pick] - 1)
    items = np.array([by_category[c][r] for c, r in zip(pick, rank, strict=True)])
    explore = rng.random(n_events) < 0.2
    items[explore] = rng.integers(0, n_products, int(explore.sum()))
    kinds = rng.choice(
        ["view", "click", "add_to_cart", "like", "purchase", "rating"],
        n_events,
        p=[0.45, 0.25, 0.1, 0.06, 0.09, 0.05],
    )
    values = np.where(
        kinds == "rating",
        rng.integers(1, 6, n_events),
        np.where(kinds == "purchase", rng.integers(1, 4, n_events), 1),
    ).astype(float)
    stamps = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 365 * 86_400, n_events), unit="s"
    )
    interactions = pd.DataFrame(
        {"user_id": users, "product_id": items, "kind": kinds, "value": values, "timestamp": stamps}
    )
    return interactions, products
