"""Products added since the fit, in ``similar``'s lists: their text against the fitted catalogue's.

New products have no interactions, so only their TF-IDF vectors (``HybridRecommender.unseen_products``)
place them; these helpers merge them with the catalogue's neighbours by cosine.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

import numpy as np
import scipy.sparse as sp

from .candidates import top_n
from .content import ContentModel
from .records import Recommendation, UnknownProductError, UnseenProducts


def unseen_blocked(unseen: UnseenProducts | None, exclude: Iterable[Hashable]) -> np.ndarray:
    """Which new products the caller excludes (none without new products)."""
    if unseen is None:
        return np.zeros(0, dtype=bool)
    return unseen.ids.isin(list(exclude))


def merge_unseen(
    content: ContentModel,
    plain_id: Callable[[int], Hashable],
    items: np.ndarray,
    scores: np.ndarray,
    reason: str,
    unseen: UnseenProducts | None,
    new_blocked: np.ndarray,
    vector_of: int | sp.csr_matrix,
    n: int,
) -> list[Recommendation]:
    """Catalogue neighbours and new products in one list by cosine, best first, cut to n."""
    ids = [plain_id(j) for j in items.tolist()]
    if unseen is not None and len(unseen.ids):
        vector = (
            content.item_vectors_[vector_of]
            if isinstance(vector_of, int | np.integer)
            else vector_of
        )
        new_scores = np.asarray((unseen.vectors @ vector.T).todense()).ravel()
        new_scores = new_scores.astype(np.float64)
        new_scores[new_blocked] = 0.0
        positive = np.flatnonzero(new_scores > 0)
        ids += [plain_value(unseen.ids[k]) for k in positive.tolist()]
        scores = np.concatenate([scores, new_scores[positive]])
    order = np.argsort(-scores, kind="stable")[:n]
    return [Recommendation(ids[k], float(scores[k]), reason) for k in order.tolist()]


def similar_to_unseen(
    content: ContentModel,
    plain_id: Callable[[int], Hashable],
    product_id: Hashable,
    n: int,
    blocked: np.ndarray,
    unseen: UnseenProducts | None,
    new_blocked: np.ndarray,
) -> list[Recommendation]:
    """``similar`` for a product added since the fit: its text against the catalogue and the
    other new products (one sparse product over the catalogue, then the top n)."""
    position = -1 if unseen is None else unseen.ids.get_indexer([product_id])[0]
    if position < 0:
        raise UnknownProductError(f"product {product_id!r} is not in the fitted catalogue")
    vector = unseen.vectors[position]
    scores = np.asarray((content.item_vectors_ @ vector.T).todense()).ravel()
    scores = scores.astype(np.float64)
    scores[blocked] = 0.0
    picked = top_n(scores, n)
    picked = picked[scores[picked] > 0]
    own = new_blocked.copy()
    own[position] = True
    reason = f"Similar to {unseen.names[position]}"
    return merge_unseen(content, plain_id, picked, scores[picked], reason, unseen, own, vector, n)


def plain_value(value: Any) -> Any:
    """A numpy scalar as the plain Python value (templates and JSON want those)."""
    return value.item() if isinstance(value, np.generic) else value
