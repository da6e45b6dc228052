"""Stage 4 of the pipeline, the feature builder: one row per (shopper, candidate) for the ranker.

Features say what each source thinks (its score, and the candidate's rank among the candidates by that
source), how popular and how new the product is, how well it fits the shopper's categories, brands and
usual price, what the shopper's stars say, and how many sources agree. A source with nothing to say for
this shopper gives NaN, which the ranker's trees treat as "unknown", not as zero.
"""

from __future__ import annotations

import numpy as np

from .history import Shopper
from .sources import SOURCES, Catalog, SourceScores, SourceSet

SCORED_SOURCES: tuple[str, ...] = tuple(name for name in SOURCES if name != "popularity")
FEATURES: tuple[str, ...] = (
    *(f"{name}_score" for name in SCORED_SOURCES),
    *(f"{name}_rank" for name in SCORED_SOURCES),
    "trending",
    "log_interest",
    "category_share",
    "category_lift",
    "share_in_category",
    "brand_share",
    "log_price",
    "price_vs_usual",
    "price_in_category",
    "usual_price_in_category",
    "product_stars",
    "age_days",
    "momentum",
    "n_sources",
    "history_size",
    "n_rated",
    "mean_stars",
    "category_mean_stars",
    # 1 on validation rows whose labels are random gaps in the shopper's past, 0 on a shopper's future
    # and on every request. Trees learnt on both protocols without it carry the gaps' lessons (what
    # co-occurs with the rest of the history) into the future: on a development split of the Online
    # Retail log (train to June 2011, judged on June-August) the hybrid's NDCG@10 was 0.158 without it
    # and 0.165 with it.
    "random_gap",
)
RANDOM_GAP_COLUMN = FEATURES.index("random_gap")
_SCORED_COLUMN = {name: column for column, name in enumerate(SCORED_SOURCES)}
#: Column of each source's score feature, for linear blends and single-source rankings.
SCORE_COLUMN = {name: FEATURES.index(f"{name}_score") for name in SCORED_SOURCES}
SCORE_COLUMN["popularity"] = FEATURES.index("trending")
#: The source a feature speaks for, for explanations ("taste" features explain by category).
#: Sources explained as another: a card says "Popular in Kitchen" however the shares were counted.
EXPLAINED_AS: dict[str, str] = {"taste_events": "taste"}
FEATURE_SOURCE: dict[str, str] = {
    **{f"{name}_score": EXPLAINED_AS.get(name, name) for name in SCORED_SOURCES},
    **{f"{name}_rank": EXPLAINED_AS.get(name, name) for name in SCORED_SOURCES},
    "trending": "popularity",
    "log_interest": "popularity",
    "momentum": "popularity",
    "category_share": "taste",
    "category_lift": "taste",
    "share_in_category": "taste",
    "brand_share": "taste",
    "category_mean_stars": "taste",
    "mean_stars": "svd",
    "product_stars": "svd",
}
#: How each feature may move the score (LightGBM monotone constraints): more evidence from a source never
#: lowers a product, a worse rank by a source never raises it. Keeps a ranker learnt from a few hundred
#: shoppers from fitting noise.
MONOTONE: tuple[int, ...] = tuple(
    1
    if name.endswith("_score") or name in ("category_share", "category_lift", "n_sources")
    else -1
    if name.endswith("_rank")
    else 0
    for name in FEATURES
)


def build_features(
    shopper: Shopper,
    scores: SourceScores,
    candidates: np.ndarray,
    votes: np.ndarray,
    sources: SourceSet,
    catalog: Catalog,
    shares: np.ndarray,
) -> np.ndarray:
    """Feature matrix (candidates x FEATURES), float32."""
    n = len(candidates)
    # The product-only features read with the rows themselves; every other feature starts as NaN.
    out = _product_rows(sources, catalog).take(candidates, axis=0)
    n_scored = len(SCORED_SOURCES)
    speaking = scores.speaking.tolist()
    columns = [_SCORED_COLUMN[name] for name, s in zip(scores.names, speaking, strict=True) if s]
    if columns:
        # Every speaking source's scores of the candidates as one (sources x candidates) block, ranked
        # in one sort: rank 0 is a source's favourite, ties keep the catalogue order.
        mine = scores.block.take(candidates, axis=1)
        if len(columns) < len(speaking):
            mine = mine[scores.speaking]
        order = np.argsort(-mine, axis=1, kind="stable")
        ranks = np.empty(mine.shape, dtype=np.float32)
        ranks[np.arange(len(columns))[:, None], order] = np.arange(n, dtype=np.float32)
        picked = np.asarray(columns)
        out[:, picked] = mine.T
        out[:, n_scored + picked] = np.log1p(ranks).T
    cats = catalog.category_codes[candidates]
    brand_mass = (
        np.bincount(catalog.brand_codes[shopper.items], weights=shopper.strengths)
        if len(shopper.items)
        else np.zeros(0)
    )
    total = float(shopper.strengths.sum())
    brands = catalog.brand_codes[candidates]
    brand_share = np.zeros(n, dtype=np.float32)
    inside = brands < len(brand_mass)
    if total > 0:
        brand_share[inside] = brand_mass[brands[inside]] / total
    prices = catalog.log_price[shopper.items] if len(shopper.items) else np.zeros(0)
    priced = np.isfinite(prices)
    usual = _weighted_mean(prices[priced], shopper.strengths[priced]) if priced.any() else np.nan
    usual_rel = (
        _weighted_mean(catalog.rel_price[shopper.items], shopper.strengths)
        if len(shopper.items) and total > 0
        else np.nan
    )
    rated = shopper.rated_items
    # ``ratings.mean()``, the same sum and division, without its checks.
    mean_stars = float(shopper.ratings.sum() / len(rated)) if len(rated) else np.nan
    # Per category (a few dozen), then read at the candidates' categories.
    per_category = np.empty((len(shares), 3))
    per_category[:, 0] = shares
    np.divide(shares, sources.category_prior_, out=per_category[:, 1])
    per_category[:, 2] = np.nan
    if len(rated):
        rated_cats = catalog.category_codes[rated]
        n_cats = len(shares)
        sums = np.bincount(rated_cats, weights=shopper.ratings, minlength=n_cats)
        counts = np.bincount(rated_cats, minlength=n_cats)
        per_category[:, 2] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    out[:, _CATEGORY_COLUMNS] = per_category[cats]
    out[:, _SHOPPER_COLUMNS] = np.array(
        [usual_rel, np.log1p(shopper.size), len(rated), mean_stars, 0.0], dtype=np.float32
    )
    out[:, _BRAND_SHARE] = brand_share
    out[:, _PRICE_VS_USUAL] = catalog.log_price[candidates] - usual
    out[:, _N_SOURCES] = votes
    return out


#: Features that depend on the product alone, on the shopper's category alone, on the shopper alone
#: (``random_gap`` 0: a request ranks the shopper's future), and the rest.
_PRODUCT_FEATURES = (
    "trending",
    "log_interest",
    "share_in_category",
    "log_price",
    "price_in_category",
    "product_stars",
    "age_days",
    "momentum",
)
_PRODUCT_COLUMNS = [FEATURES.index(name) for name in _PRODUCT_FEATURES]
_CATEGORY_COLUMNS = [
    FEATURES.index(name) for name in ("category_share", "category_lift", "category_mean_stars")
]
_SHOPPER_COLUMNS = [
    FEATURES.index(name)
    for name in ("usual_price_in_category", "history_size", "n_rated", "mean_stars", "random_gap")
]
_BRAND_SHARE, _PRICE_VS_USUAL, _N_SOURCES = (
    FEATURES.index(name) for name in ("brand_share", "price_vs_usual", "n_sources")
)


def product_values(sources: SourceSet, catalog: Catalog) -> dict[str, np.ndarray]:
    """Each product-only feature (``_PRODUCT_FEATURES``) over the catalogue, where it comes from."""
    return {
        "trending": sources.trending_,
        "log_interest": sources.log_interest_,
        "share_in_category": sources.share_in_category_,
        "log_price": catalog.log_price,
        "price_in_category": catalog.rel_price,
        "product_stars": sources.item_stars_,
        "age_days": sources.age_days_,
        "momentum": sources.momentum_,
    }


def _product_rows(sources: SourceSet, catalog: Catalog) -> np.ndarray:
    """Every product's feature row as far as the product alone decides it (``_PRODUCT_FEATURES``,
    float32 as the rows hold them; NaN elsewhere), built once per fitted source set and catalogue:
    a request starts its rows from one gather of these instead of a NaN block and seven columns."""
    cached = sources.__dict__.get("_product_features")
    if cached is not None and cached[0] is catalog:
        return cached[1]
    columns = product_values(sources, catalog)
    table = np.full((len(catalog.log_price), len(FEATURES)), np.nan, dtype=np.float32)
    for name, column in zip(_PRODUCT_FEATURES, _PRODUCT_COLUMNS, strict=True):
        table[:, column] = columns[name]
    sources.__dict__["_product_features"] = (catalog, table)
    return table


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """``np.average(values, weights=weights)`` for float64 arrays with a positive weight sum, the same
    sums in the same order, without its argument checks (this runs on every request)."""
    return float(np.multiply(values, weights).sum() / weights.sum())
