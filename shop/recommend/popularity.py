"""Rule-based popularity: most clicked, best sellers, most viewed, most liked and trending, per category.

Popularity is the answer for shoppers the engine knows nothing about, and a component of the hybrid that
keeps lists anchored on what sells now.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .frames import DEFAULT_KIND_WEIGHTS, KINDS, Events, decay, implicit_weights

POPULAR_KINDS: tuple[str, ...] = (
    "click",
    "purchase",
    "view",
    "like",
    "add_to_cart",
    "rating",
    "trending",
)


class PopularityModel:
    """Event counts per product and kind, plus a time-decayed 'trending' score over all weighted events.

    Parameters
    ----------
    trending_half_life_days:
        Half-life of the decay behind ``trending``; a week follows weekly shopping rhythms without being
        swamped by a single day.
    kind_weights:
        Event weights for ``trending`` (defaults to the engine's kind weights).
    """

    def __init__(
        self, trending_half_life_days: float = 7.0, kind_weights: Mapping[str, float] | None = None
    ) -> None:
        self.trending_half_life_days = trending_half_life_days
        self.kind_weights = kind_weights

    def fit(self, events: Events) -> PopularityModel:
        n = events.n_items
        self.counts_ = {
            kind: np.bincount(events.items[events.kinds == kind], minlength=n).astype(float)
            for kind in KINDS
        }
        weights = implicit_weights(
            events.kinds, events.values, self.kind_weights or DEFAULT_KIND_WEIGHTS
        )
        finite = events.days[np.isfinite(events.days)]
        self.reference_day_ = float(finite.max()) if len(finite) else float("nan")
        weights = weights * decay(events.days, self.reference_day_, self.trending_half_life_days)
        self.counts_["trending"] = np.bincount(events.items, weights=weights, minlength=n)
        self.total_ = np.bincount(events.items, minlength=n).astype(float)
        return self

    def scores(self, kind: str = "trending") -> np.ndarray:
        """Score per catalogue item; ties are broken by overall event count so rankings are stable."""
        if kind not in POPULAR_KINDS:
            raise ValueError(
                f"unknown popularity kind {kind!r}; expected one of {list(POPULAR_KINDS)}"
            )
        primary = self.counts_[kind]
        # A tiny tie-break by total activity keeps the order deterministic and sensible for equal counts.
        return primary + 1e-6 * self.total_ / (self.total_.max() + 1.0)


#: The reason a card in a ``popular`` list gives, per kind.
POPULAR_REASONS = {
    "click": "Most clicked",
    "purchase": "Best seller",
    "view": "Most viewed",
    "like": "Most liked",
    "add_to_cart": "Often added to carts",
    "rating": "Often rated",
    "trending": "Trending now",
}
