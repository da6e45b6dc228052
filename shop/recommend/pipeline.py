"""The pipeline's one scoring path: history -> sources -> candidates -> features, for one shopper.

Requests and the fit-time validation both call ``candidate_features``, so the ranker is trained on
exactly the rows a request builds.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .candidates import select_from_rows
from .features import build_features
from .history import Shopper
from .sources import Catalog, SourceScores, SourceSet


class Candidates(NamedTuple):
    """One shopper's candidates (catalogue positions), their features and every source's scores."""

    items: np.ndarray
    features: np.ndarray
    scores: SourceScores
    shares: np.ndarray  # the shopper's smoothed interest per category


def candidate_features(
    shopper: Shopper,
    sources: SourceSet,
    catalog: Catalog,
    blocked_mask: np.ndarray,
    n_blocked: int,
    popular_order: np.ndarray,
) -> Candidates:
    """Score the catalogue with every source, pick candidates and build their feature rows."""
    shares = sources.category_shares(shopper)
    scores = sources.score_rows(shopper, shares=shares)
    items, votes = select_from_rows(scores.block, blocked_mask, n_blocked, popular_order)
    features = build_features(shopper, scores, items, votes, sources, catalog, shares)
    return Candidates(items, features, scores, shares)
