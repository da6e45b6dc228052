"""The validation set the guard and the learned rankers work on, and the NDCG they are judged by.

At fit time the sources are fitted on holdouts inside the training data (``tuning``); every shopper of a
holdout becomes one group of candidate rows with their features and labels. The learned rankers train on
these groups (``rankers``) and the guard judges every contender on them (``guard``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .features import RANDOM_GAP_COLUMN

K = 10
#: Holdout protocols of the validation data: the shopper's future, or a random part of their past.
PROTOCOLS: tuple[str, ...] = ("time", "random")
#: Unlabelled candidates per group the learned ranker trains on (``ValidationSet.sampled``).
SAMPLED_NEGATIVES = 100


@dataclass
class ValidationSet:
    """Candidates' features and labels for many shoppers (one group per shopper)."""

    features: np.ndarray  # rows = candidates of every group, FEATURES columns
    labels: np.ndarray  # 2 for a held-out positive, 1 for weaker interest, 0 otherwise
    groups: np.ndarray  # candidates per group
    positives: np.ndarray  # held-out positives per group (including ones no source proposed)
    protocols: np.ndarray  # which holdout each group comes from (PROTOCOLS index)

    @classmethod
    def concat(cls, parts: Sequence[ValidationSet]) -> ValidationSet:
        return cls(
            np.vstack([p.features for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.groups for p in parts]),
            np.concatenate([p.positives for p in parts]),
            np.concatenate([p.protocols for p in parts]),
        )

    @cached_property
    def offsets(self) -> np.ndarray:
        """Where each group's rows start, and one past the last row (groups + 1 entries)."""
        return np.concatenate([[0], np.cumsum(self.groups)]).astype(np.int64)

    @cached_property
    def padded_rows(self) -> np.ndarray:
        """(groups x largest group) row indices, padded with ``len(labels)``."""
        width = int(self.groups.max()) if len(self.groups) else 0
        columns = np.arange(width)
        padded = self.offsets[:-1, None] + columns[None, :]
        padded[columns[None, :] >= self.groups[:, None]] = len(self.labels)
        return padded

    def sampled(self, negatives: int, seed: int) -> ValidationSet:
        """The same groups with at most ``negatives`` unlabelled candidates each, drawn at random, and
        every labelled one: for training, where most of a group's candidates teach little.

        Drawn uniformly (not the "hard" ones some source ranks best), so the trees still see the whole
        range of candidates a request scores; on 4,000 validation shoppers of a 1M-event shop, 100
        per group kept the judged NDCG of the full set at half the training time.
        """
        sizes = self.groups
        group_of = np.repeat(np.arange(len(sizes)), sizes)
        labelled = self.labels > 0
        noise = np.where(labelled, np.inf, np.random.default_rng(seed).random(len(self.labels)))
        order = np.lexsort((noise, group_of))
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order)) - np.repeat(self.offsets[:-1], sizes)
        rows = np.flatnonzero(labelled | (position < negatives))
        return ValidationSet(
            self.features[rows],
            self.labels[rows],
            np.bincount(group_of[rows], minlength=len(sizes)),
            self.positives,
            self.protocols,
        )

    def as_served(self) -> ValidationSet:
        """The same rows as a request builds them: every row ranks the shopper's future
        (``random_gap`` = 0), so the guard judges each contender on what it would serve."""
        features = self.features.copy()
        features[:, RANDOM_GAP_COLUMN] = 0.0
        return ValidationSet(features, self.labels, self.groups, self.positives, self.protocols)

    def subset(self, groups: np.ndarray) -> ValidationSet:
        starts = self.offsets
        rows = np.concatenate([np.arange(starts[g], starts[g + 1]) for g in groups])
        return ValidationSet(
            self.features[rows],
            self.labels[rows],
            self.groups[groups],
            self.positives[groups],
            self.protocols[groups],
        )


def ndcg_groups(scores: np.ndarray, data: ValidationSet, k: int = K) -> float:
    """Mean NDCG@k over groups, the ideal counting every held-out positive.

    All groups at once over ``data.padded_rows``: the guard calls this a few hundred times per fit.
    Candidates tied on the k-th score are told apart in an arbitrary but fixed order.
    """
    if not len(data.groups):
        return 0.0
    padded = data.padded_rows
    values = np.append(scores, -np.inf)[padded]
    width = padded.shape[1]
    top_k = min(k, width)
    if width > top_k:
        top = np.argpartition(-values, top_k - 1, axis=1)[:, :top_k]
    else:
        top = np.broadcast_to(np.arange(width), (len(padded), width))
    order = np.argsort(-np.take_along_axis(values, top, axis=1), axis=1, kind="stable")
    rows = np.take_along_axis(padded, np.take_along_axis(top, order, axis=1), axis=1)
    gains = np.append(data.labels, 0.0)[rows] == 2.0  # the evaluation counts positives only
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal_of = np.concatenate([[1.0], np.cumsum(discounts)])
    dcg = gains @ discounts[:top_k]
    ideal = ideal_of[np.minimum(data.positives, k)]
    return float(np.where(data.positives > 0, dcg / ideal, 0.0).sum() / len(data.groups))
