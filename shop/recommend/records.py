"""Immutable result records and the named exceptions of the engine.

Callers (views, the API, benchmark scripts) only ever receive these small records, so they can be cached,
compared in tests and rendered without touching numpy state inside the models.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, NamedTuple


class Recommendation(NamedTuple):
    """One recommended product, with a score that only orders a single list and a reason shoppers can read."""

    product_id: Hashable
    score: float
    reason: str


class UnseenProducts(NamedTuple):
    """Products added after the fit, coded for ``HybridRecommender.similar`` (``unseen_products``).

    Built once per set of new products and reused across requests; ``vectors`` are unit TF-IDF rows in
    the fitted vocabulary, in the order of ``ids``.
    """

    ids: Any  # pandas.Index of product ids
    vectors: Any  # scipy.sparse.csr_matrix, one row per id
    names: Any  # numpy array of names


class TopNScore(NamedTuple):
    """Ranking quality of one model on one split; averages over the evaluated shoppers."""

    model: str
    precision: float
    recall: float
    ndcg: float
    map: float
    coverage: float
    n_users: int


class RatingScore(NamedTuple):
    """Rating-prediction error of one model on a held-out set of explicit ratings."""

    model: str
    rmse: float
    mae: float
    n_test: int


class RecommenderError(Exception):
    """Base class, so the web layer can catch every engine failure with one clause."""


class NotFittedError(RecommenderError, AttributeError):
    """Raised when an engine is used before fit(); an AttributeError like scikit-learn's, for the same reason."""


class UnknownProductError(RecommenderError, KeyError):
    """The product id is not in the catalogue the engine was fitted on; the caller decides what to show."""

    def __str__(self) -> str:
        # KeyError quotes its argument with repr(); a readable message is more useful in logs.
        return str(self.args[0]) if self.args else "unknown product"


class ModelLoadError(RecommenderError):
    """A saved engine could not be loaded: missing, truncated, corrupt or written by another format version."""
