"""Stage 7 of the pipeline, explanations: a reason a shopper can read, from the source that mattered most.

The ranker reports how much each source's features contributed to a product's score (path contributions
of the learned ranker's trees, coefficient x feature for the logistic ranker, weight x score for a blend);
the biggest positive one explains the card. Reasons that
name a product ("Because you liked X") name the history product the recommendation is closest to by that
source's own similarity.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .frames import KINDS
from .history import Shopper
from .neighbours import row_positions
from .sources import SourceSet

_KIND_VERBS = {
    "purchase": "bought",
    "add_to_cart": "added to your cart",
    "like": "liked",
    "rating": "rated",
    "click": "viewed",
    "view": "viewed",
}
_KIND_ORDER = ("view", "click", "rating", "add_to_cart", "like", "purchase")
_RANK_BY_CODE = np.array([_KIND_ORDER.index(kind) for kind in KINDS])
_ANCHORED = ("content", "new", "itemknn", "copurchase", "ease")


def knn_block(similarity, targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Sparse item-item similarity from each source item (columns) to each target (rows), dense and small.

    Gathered from the sources' neighbour rows: scipy's two-axis fancy indexing costs far more.
    """
    positions, lengths = row_positions(similarity.indptr, sources)
    columns = similarity.indices[positions]
    order = np.argsort(targets)
    ordered = targets[order]
    slot = np.minimum(np.searchsorted(ordered, columns), len(ordered) - 1)
    hit = ordered[slot] == columns
    block = np.zeros((len(targets), len(sources)), dtype=similarity.dtype)
    source_of = np.repeat(np.arange(len(sources)), lengths)
    block[order[slot[hit]], source_of[hit]] = similarity.data[positions][hit]
    return block


def _anchor_block(name: str, sources: SourceSet, targets: np.ndarray, history: np.ndarray):
    if name in ("content", "new"):
        return sources.content_.pair_similarity(targets, history)
    if name == "itemknn":
        return knn_block(sources.itemknn_.similarity_, targets, history)
    if name == "copurchase":
        return knn_block(sources.copurchase_.similarity_, targets, history)
    ease = sources.ease_
    rows, cols = ease.slot_[history], ease.slot_[targets]
    block = np.zeros((len(targets), len(history)))
    ok_rows, ok_cols = rows >= 0, cols >= 0
    if ok_rows.any() and ok_cols.any():
        sub = ease.weights_[np.ix_(rows[ok_rows], cols[ok_cols])].T
        block[np.ix_(np.flatnonzero(ok_cols), np.flatnonzero(ok_rows))] = sub
    return block


_LIKE, _PURCHASE, _VIEW = (KINDS.index(kind) for kind in ("like", "purchase", "view"))
#: Views of a category's products that count as liking it, without any other sign.
FOND_VIEWS = 2


def fond_of_categories(shopper: Shopper, category_codes: np.ndarray, n: int) -> np.ndarray:
    """Per category: may a reason say the shopper likes it? Only on positive evidence.

    A like, 4-5 stars, or a purchase or repeated views (``FOND_VIEWS``) with no low rating (1-2
    stars) in the category. One glance at a mug is not a taste for camping gear, and a kettle rated
    2 stars is not a liking for kettles, whatever the category shares say.
    """
    fond = np.zeros(n, dtype=bool)
    if not len(shopper.touched):
        return fond
    categories = category_codes[shopper.touched]
    codes = shopper.codes
    fond[categories[codes == _LIKE]] = True
    rated = category_codes[shopper.rated_items]
    fond[rated[shopper.ratings >= 4]] = True
    low = np.zeros(n, dtype=bool)
    low[rated[shopper.ratings <= 2]] = True
    bought = np.zeros(n, dtype=bool)
    bought[categories[codes == _PURCHASE]] = True
    viewed = np.bincount(categories[codes == _VIEW], minlength=n) >= FOND_VIEWS
    return fond | ((bought | viewed) & ~low)


def explain(
    picked: np.ndarray,
    contributions: Mapping[str, np.ndarray],
    shopper: Shopper,
    sources: SourceSet,
    names: np.ndarray,
    categories: np.ndarray,
    shares: np.ndarray | None = None,
) -> list[str]:
    """One reason per picked product (catalogue positions), from its biggest positive contribution.

    ``shares`` (the shopper's category shares) lets a category reason say "which you like" only where
    the shopper's share of that category is above the shop's.
    """
    labels = list(contributions)
    if labels:
        stacked = np.stack([np.asarray(contributions[name], dtype=float) for name in labels])
        best = np.argmax(stacked, axis=0).tolist()
        scored = (stacked.max(axis=0) > 0).tolist()
        why = [labels[j] if s else "popularity" for j, s in zip(best, scored, strict=True)]
    else:
        why = ["popularity"] * len(picked)
    history = shopper.history_items
    if len(history) and len(sources.cold_):
        # A product nobody has touched yet can only have been found through its text: say it is new.
        cold = ~sources.known_items_[picked]  # np.isin(picked, sources.cold_), without a sort
        why = ["new" if c else w for c, w in zip(cold.tolist(), why, strict=True)]
    anchors: dict[int, tuple[int, float]] = {}
    for source in _ANCHORED:
        rows = [r for r, s in enumerate(why) if s == source]
        if not rows or not len(history):
            continue
        block = _anchor_block(source, sources, picked[rows], history)
        positions = np.argmax(block, axis=1).tolist()
        values = block[np.arange(len(rows)), positions].tolist()
        for r, b, value in zip(rows, positions, values, strict=True):
            anchors[r] = (b, value)
    strongest: list[int] = []
    if anchors:
        # The strongest kind of event on each history product.
        ranks = np.zeros(len(history), dtype=np.int64)
        np.maximum.at(
            ranks, np.searchsorted(history, shopper.touched), _RANK_BY_CODE[shopper.codes]
        )
        strongest = ranks.tolist()
    # Only a taste reason asks whether the shopper likes the category.
    fond = (
        fond_of_categories(shopper, sources.category_codes_, len(sources.category_prior_))
        if "taste" in why
        else None
    )
    out = []
    for r, (item, source) in enumerate(zip(picked.tolist(), why, strict=True)):
        category = categories[item]
        if source == "popularity" or not len(history):
            out.append(f"Popular in {category}" if category else "Trending now")
        elif source == "taste":
            code = sources.category_codes_[item]
            liked = (
                shares is not None
                and shares[code] > sources.category_prior_[code]
                and fond is not None
                and bool(fond[code])
            )
            if not category:
                out.append("Trending now")
            else:
                out.append(
                    f"Popular in {category}, which you like" if liked else f"Popular in {category}"
                )
        elif source == "svd":
            out.append("Matches how you rate products")
        elif source == "als":
            out.append("Popular with shoppers like you")
        elif r in anchors and anchors[r][1] > 0:
            position = anchors[r][0]
            name = names[history[position]]
            kind = _KIND_ORDER[strongest[position]]
            if source == "new":
                out.append(f"New, and similar to {name}")
            elif source in ("itemknn", "copurchase", "ease") and kind in (
                "purchase",
                "add_to_cart",
            ):
                out.append(f"Customers who bought {name} also bought this")
            elif kind in ("click", "view"):
                out.append(f"Similar to {name}, which you viewed")
            else:
                out.append(f"Because you {_KIND_VERBS[kind]} {name}")
        elif source == "new":  # new, and nothing like the shopper's history: a filler
            out.append(f"Popular in {category}" if category else "Trending now")
        else:
            out.append("Similar to items you viewed")
    return out
