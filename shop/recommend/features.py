"""Stage 4 of the pipeline, the feature builder: one row per (shopper, candidate) for the ranker.

Features say what each source thinks (its score, and the candidate's rank among the candidates by that
source), how popular and how new the product is, how well it fits the shopper's categories, brands and
usual price, what the shopper's stars say, and how many sources agree. A source with nothing to say for
this shopper gives NaN, which the ranker's trees treat as "unknown", not as zero.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .history import Shopper
from .sources import SOURCES, Catalog, SourceSet

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
    scores: Mapping[str, np.ndarray],
    candidates: np.ndarray,
    votes: np.ndarray,
    sources: SourceSet,
    catalog: Catalog,
    shares: np.ndarray,
) -> np.ndarray:
    """Feature matrix (candidates x FEATURES), float32."""
    n = len(candidates)
    out = np.full((n, len(FEATURES)), np.nan, dtype=np.float32)
    n_scored = len(SCORED_SOURCES)
    columns = [column for column, name in enumerate(SCORED_SOURCES) if name in scores]
    if columns:
        # Every speaking source's scores of the candidates as one (sources x candidates) block, ranked
        # in one sort: rank 0 is a source's favourite, ties keep the catalogue order.
        mine = np.empty((len(columns), n))
        for row, column in enumerate(columns):
            mine[row] = scores[SCORED_SOURCES[column]][candidates]
        order = np.argsort(-mine, axis=1, kind="stable")
        ranks = np.empty(mine.shape, dtype=np.float32)
        ranks[np.arange(len(columns))[:, None], order] = np.arange(n, dtype=np.float32)
        picked = np.asarray(columns)
        out[:, picked] = mine.T
        out[:, n_scored + picked] = np.log1p(ranks).T
    column = 2 * n_scored
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
    mean_stars = float(shopper.ratings.mean()) if len(rated) else np.nan
    category_stars = np.full(n, np.nan, dtype=np.float32)
    if len(rated):
        rated_cats = catalog.category_codes[rated]
        n_cats = len(shares)
        sums = np.bincount(rated_cats, weights=shopper.ratings, minlength=n_cats)
        counts = np.bincount(rated_cats, minlength=n_cats)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_category = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        category_stars = per_category[cats]
    log_price = catalog.log_price[candidates]
    out[:, column] = sources.trending_[candidates]
    out[:, column + 1] = sources.log_interest_[candidates]
    out[:, column + 2] = shares[cats]
    out[:, column + 3] = shares[cats] / sources.category_prior_[cats]
    out[:, column + 4] = sources.share_in_category_[candidates]
    out[:, column + 5] = brand_share
    out[:, column + 6] = log_price
    out[:, column + 7] = log_price - usual
    out[:, column + 8] = catalog.rel_price[candidates]
    out[:, column + 9] = usual_rel
    out[:, column + 10] = sources.item_stars_[candidates]
    out[:, column + 11] = sources.age_days_[candidates]
    out[:, column + 12] = votes
    out[:, column + 13] = np.log1p(shopper.size)
    out[:, column + 14] = len(rated)
    out[:, column + 15] = mean_stars
    out[:, column + 16] = category_stars
    out[:, RANDOM_GAP_COLUMN] = 0.0  # a request ranks the shopper's future
    return out


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """``np.average(values, weights=weights)`` for float64 arrays with a positive weight sum, the same
    sums in the same order, without its argument checks (this runs on every request)."""
    return float(np.multiply(values, weights).sum() / weights.sum())
