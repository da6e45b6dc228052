"""Fit-time validation: the holdout the ranker learns from and the guard judges on.

A time holdout inside the training data: sources are fitted on the events before the cut, each
shopper's earlier events are their history, and their positive interactions after the cut with
products new to them are the labels. Without timestamps, a random quarter of each shopper's products
is held out instead. Every row comes from ``pipeline.candidate_features``, the request path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .content import ContentModel
from .features import RANDOM_GAP_COLUMN
from .frames import Events, kind_codes
from .history import code_shopper
from .pipeline import candidate_features
from .sources import Catalog, ItemFactorFitter, SourceParams, SourceSet
from .validation import PROTOCOLS, ValidationSet

POSITIVE_KINDS = ("purchase", "add_to_cart", "like")


@dataclass(frozen=True)
class Holdout:
    """Training events for the sources, and the held-out positives per shopper code."""

    train: Events
    truth: dict[int, set[int]]
    weak: dict[int, set[int]]  # other products new to the shopper they touched in the window
    existing: np.ndarray  # products that existed (were touched) before the holdout ended
    protocol: str  # validation.PROTOCOLS


def _subset(events: Events, keep: np.ndarray) -> Events:
    return Events(
        users=events.users[keep],
        items=events.items[keep],
        kinds=events.kinds[keep],
        values=events.values[keep],
        days=events.days[keep],
        user_ids=events.user_ids,
        n_items=events.n_items,
    )


def _pair_keys(users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """Each (user code, catalogue position) pair as one integer."""
    return users.astype(np.int64) * n_items + items.astype(np.int64)


def _positive(events: Events) -> np.ndarray:
    positive = np.isin(events.kinds, POSITIVE_KINDS)
    return positive | ((events.kinds == "rating") & (events.values >= 4))


#: A holdout with fewer shoppers than this is widened (up to ``MAX_FRACTION`` of the events), and
#: earlier windows are added (up to ``MAX_FOLDS``) until the ranker has this many shoppers to learn from.
ENOUGH_USERS = 300
ENOUGH_FOLD_USERS = 1500
MAX_FRACTION = 0.3
MAX_FOLDS = 3


def time_holdouts(events: Events, fraction: float) -> list[Holdout]:
    """Consecutive time windows, the latest first, each holding out ``fraction`` of the events.

    A ranker learns little from a few dozen shoppers: while fewer than ``ENOUGH_USERS`` shoppers have
    held-out positives in the latest window, it grows by half, up to ``MAX_FRACTION`` of the events;
    while all windows together hold fewer than ``ENOUGH_FOLD_USERS`` shoppers, the window before is added
    (each with the sources fitted on the events before it), up to ``MAX_FOLDS``.
    """
    best = None
    while True:
        holdout = time_holdout(events, fraction)
        if holdout is not None and (best is None or len(holdout.truth) > len(best.truth)):
            best, width = holdout, fraction
        if (best is not None and len(best.truth) >= ENOUGH_USERS) or fraction >= MAX_FRACTION:
            break
        fraction = min(MAX_FRACTION, fraction * 1.5)
    if best is None:
        return []
    folds = [best]
    while len(folds) < MAX_FOLDS and sum(len(f.truth) for f in folds) < ENOUGH_FOLD_USERS:
        earlier = time_holdout(events, width, offset=width * len(folds))
        if earlier is None or not earlier.truth:
            break
        folds.append(earlier)
    return folds


def time_holdout(events: Events, fraction: float, offset: float = 0.0) -> Holdout | None:
    """Hold out the timestamped events between the ``offset + fraction`` and ``offset`` quantiles from
    the end; the sources learn from everything before the window."""
    finite = np.isfinite(events.days)
    if finite.sum() < 20 or offset + fraction >= 0.9:
        return None
    days = events.days[finite]
    cut = float(np.quantile(days, 1.0 - offset - fraction))
    stop = float(np.quantile(days, 1.0 - offset)) if offset > 0 else np.inf
    early = events.days < cut
    window = ~early & finite & (events.days < stop)
    if not early.any() or not window.any():
        return None
    train = _subset(events, early)
    # (user, product) pairs as one integer each: membership over a million events in one np.isin,
    # where a set of tuples took seconds of the fit.
    seen = _pair_keys(train.users, train.items, events.n_items)
    has_history = np.zeros(events.n_users, dtype=bool)
    has_history[train.users] = True
    positive = _positive(events)
    truth: dict[int, set[int]] = {}
    weak: dict[int, set[int]] = {}
    for strong, found in ((True, truth), (False, weak)):
        late = np.flatnonzero(window & (positive if strong else ~positive))
        users, items = events.users[late], events.items[late]
        new = has_history[users] & ~np.isin(_pair_keys(users, items, events.n_items), seen)
        for u, i in zip(users[new].tolist(), items[new].tolist(), strict=True):
            found.setdefault(u, set()).add(i)
    existing = (
        np.bincount(events.items[~finite | (events.days < stop)], minlength=events.n_items) > 0
    )
    return Holdout(train, truth, weak, existing, "time")


def random_holdout(
    events: Events, fraction: float, seed: int, min_items: int = 4
) -> Holdout | None:
    """A random ``fraction`` of each shopper's positive products (shoppers with ``min_items`` or more)."""
    rng = np.random.default_rng(seed)
    positive = _positive(events)
    pairs = np.unique(np.stack([events.users[positive], events.items[positive]], axis=1), axis=0)
    if len(pairs) == 0:
        return None
    held = np.zeros(len(pairs), dtype=bool)
    starts = np.flatnonzero(np.r_[True, pairs[1:, 0] != pairs[:-1, 0]])
    stops = np.r_[starts[1:], len(pairs)]
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        if stop - start >= min_items:
            n_out = max(1, int(round(fraction * (stop - start))))
            held[start + rng.choice(stop - start, n_out, replace=False)] = True
    if not held.any():
        return None
    out_pairs = pairs[held]
    out_keys = _pair_keys(out_pairs[:, 0], out_pairs[:, 1], events.n_items)
    keep = ~np.isin(_pair_keys(events.users, events.items, events.n_items), out_keys)
    truth: dict[int, set[int]] = {}
    for u, i in out_pairs.tolist():
        truth.setdefault(u, set()).add(i)
    existing = np.bincount(events.items, minlength=events.n_items) > 0
    return Holdout(_subset(events, keep), truth, {}, existing, "random")


def validation_set(
    holdout: Holdout,
    content: ContentModel,
    catalog: Catalog,
    params: SourceParams,
    seeds: tuple[int, int],
    kind_table: np.ndarray,
    half_life_days: float | None,
    max_users: int,
    sample_seed: int,
    als_fitter: ItemFactorFitter | None = None,
) -> ValidationSet | None:
    """Fit the sources on the holdout's training events and build every validation shopper's rows."""
    train = holdout.train
    sources = SourceSet(params, seeds).fit(train, content, catalog, als_fitter)
    users = np.array(sorted(holdout.truth))
    if len(users) > max_users:
        rng = np.random.default_rng(sample_seed)
        users = np.sort(rng.choice(users, max_users, replace=False))
    order = np.argsort(train.users, kind="stable")
    sorted_users = train.users[order]
    starts = np.searchsorted(sorted_users, users, side="left")
    stops = np.searchsorted(sorted_users, users, side="right")
    codes = kind_codes(train.kinds)
    popular_order = np.argsort(-sources.trending_, kind="stable")
    # Products nobody touched before the holdout ended are left out: the holdout cannot tell a product
    # added after it from one that nobody wants.
    absent = ~holdout.existing
    features, labels, groups, positives = [], [], [], []
    # One shopper's scores are a few small matrix-vector products: BLAS threads only fight each other
    # (and the web workers) over them, so the loop runs single-threaded, as a request does.
    with threadpool_limits(1, "blas"):
        for user, start, stop in zip(users.tolist(), starts.tolist(), stops.tolist(), strict=True):
            rows = order[start:stop]
            if len(rows) == 0:
                continue
            shopper = code_shopper(
                train.items[rows],
                codes[rows],
                train.values[rows],
                train.days[rows],
                kind_table,
                half_life_days,
            )
            if not len(shopper.items):
                continue
            blocked = absent.copy()
            blocked[shopper.history_items] = True
            picked = candidate_features(
                shopper, sources, catalog, blocked, int(blocked.sum()), popular_order
            )
            truth = holdout.truth[user]
            weak = holdout.weak.get(user, set())
            features.append(picked.features)
            # Graded: 2 for a held-out positive (what the evaluation counts), 1 for a product the
            # shopper only viewed or clicked in the window (interest, and many times more of it).
            labels.append(
                np.fromiter(
                    (
                        2.0 if i in truth else 1.0 if i in weak else 0.0
                        for i in picked.items.tolist()
                    ),
                    dtype=float,
                )
            )
            groups.append(len(picked.items))
            positives.append(len(truth))
    if not groups:
        return None
    features = np.vstack(features)
    features[:, RANDOM_GAP_COLUMN] = float(holdout.protocol == "random")
    data = ValidationSet(
        features,
        np.concatenate(labels),
        np.array(groups),
        np.array(positives),
        np.full(len(groups), PROTOCOLS.index(holdout.protocol)),
    )
    return data
