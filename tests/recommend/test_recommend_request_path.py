"""The request path's shortcuts give what the plain computations give: candidates read off a shortlist
(every source at once), contributions read from the leaves the scores came from, a history read from a
frame's stored columns, the sources' scores written into one block."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shop.recommend.candidates import best_unblocked, select_candidates, select_from_rows
from shop.recommend.features import FEATURES, RANDOM_GAP_COLUMN, SCORE_COLUMN, product_values
from shop.recommend.frames import DEFAULT_KIND_WEIGHTS, KINDS, kind_weight_table
from shop.recommend.history import CatalogIndex, code_shopper, shopper_from_frame
from shop.recommend.pipeline import candidate_features
from shop.recommend.rankers import LearnedRanker
from shop.recommend.validation import ValidationSet

K = 40


def _reference_picks(scores: np.ndarray, blocked: np.ndarray, k: int = K) -> np.ndarray:
    """The definition: the k best unblocked products with a positive score, by a full sort."""
    order = np.argsort(-scores, kind="stable")
    order = order[~blocked[order] & (scores[order] > 0)]
    return np.sort(order[:k])


def _sources(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Scores of the shapes sources give, without ties: dense, sparse, mostly negative, silent."""
    dense = rng.random(n)
    sparse = np.where(rng.random(n) < 0.02, rng.random(n), 0.0)
    few = np.where(rng.random(n) < 0.002, rng.random(n), 0.0)
    shifted = rng.random(n) - 0.99
    return {"dense": dense, "sparse": sparse, "few": few, "shifted": shifted}


def _blocked_among_the_best(
    rng: np.random.Generator, rows: list[np.ndarray], top: int, per_row: int, anywhere: int
) -> np.ndarray:
    """Blocked products among every source's best, where they push the cut-off down, and anywhere."""
    n = len(rows[0])
    blocked = np.zeros(n, dtype=bool)
    for values in rows:
        blocked[np.argsort(-values)[rng.choice(top, per_row, replace=False)]] = True
    blocked[rng.choice(n, anywhere, replace=False)] = True
    return blocked


@pytest.mark.parametrize("seed", range(6))
def test_candidates_are_every_sources_best_unblocked_products_by_the_definition(seed):
    rng = np.random.default_rng(seed)
    n = 10_000
    scores = _sources(rng, n)
    blocked = _blocked_among_the_best(rng, list(scores.values()), 60, 8, 20)
    n_blocked = int(blocked.sum())
    popular_order = rng.permutation(n)

    for name, values in scores.items():
        np.testing.assert_array_equal(
            best_unblocked(values, blocked, K), _reference_picks(values, blocked), name
        )

    candidates, votes = select_candidates(
        {"popularity": rng.random(n), **scores}, blocked, n_blocked, popular_order
    )
    popular = popular_order[~blocked[popular_order]][:K]
    expected = [popular, *(_reference_picks(values, blocked) for values in scores.values())]
    every, counts = np.unique(np.concatenate(expected), return_counts=True)
    np.testing.assert_array_equal(candidates, every)
    np.testing.assert_array_equal(votes, counts)


def test_a_tie_at_the_last_place_goes_to_the_lowest_positions_on_every_call():
    rng = np.random.default_rng(7)
    n = 10_000
    values = rng.random(n) * 0.5
    best = np.argsort(-values)
    values[best[: K - 1]] = np.linspace(1.0, 0.9, K - 1)
    tied = np.sort(best[K - 1 : K + 2])
    values[tied] = 0.8  # three products share the last place
    blocked = np.zeros(n, dtype=bool)
    candidates, votes = select_candidates({"tied": values}, blocked, 0, np.arange(n))
    assert len(candidates) == K
    assert set(best[: K - 1]) <= set(candidates.tolist())
    assert tied[0] in candidates and not np.isin(tied[1:], candidates).any()
    assert np.all(votes == 1)
    # Blocking the winner of the tie hands its place to the next position, not to anyone else.
    blocked[tied[0]] = True
    again, _ = select_candidates({"tied": values}, blocked, 1, np.arange(n))
    np.testing.assert_array_equal(
        again, np.sort(np.append(candidates[candidates != tied[0]], tied[1]))
    )


def _tied_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Scores as the sources give them where ties are common: co-purchase counts over a few hundred
    products (the rest zero), category-wide taste steps, a silent row, a dense row, and a row whose
    every score is shared by two products (a tie at a cut, or inside the picks, by chance)."""
    counts = np.zeros(n)
    bought = rng.choice(n, int(rng.integers(40, 400)), replace=False)
    counts[bought] = rng.zipf(1.6, len(bought)).clip(max=30)
    steps = rng.integers(0, 25, n) / 24.0
    few = np.zeros(n)
    few[rng.choice(n, 45, replace=False)] = rng.integers(1, 4, 45) / 3.0
    pairs = np.repeat(rng.random(n // 2), 2)[rng.permutation(n)]
    return np.vstack([counts / counts.max(), steps, np.zeros(n), rng.random(n), few, pairs])


@pytest.mark.parametrize("seed", range(12))
def test_every_sources_picks_at_once_are_each_sources_best_by_a_full_stable_sort(seed):
    rng = np.random.default_rng(seed)
    n = 10_000
    block = _tied_rows(rng, n)
    blocked = _blocked_among_the_best(rng, list(block), 80, 6, int(rng.integers(0, 40)))
    n_blocked = int(blocked.sum())
    popular_order = rng.permutation(n)

    candidates, votes = select_from_rows(block, blocked, n_blocked, popular_order)
    head = popular_order[: K + n_blocked]
    one_by_one = [head[~blocked[head]][:K]]
    one_by_one += [_reference_picks(values, blocked) for values in block]
    every, counts = np.unique(np.concatenate(one_by_one), return_counts=True)
    np.testing.assert_array_equal(candidates, every)
    np.testing.assert_array_equal(votes, counts)


def test_the_sources_block_holds_what_each_source_scores_alone(engine, shop):
    interactions, _ = shop
    for user in interactions["user_id"].drop_duplicates().head(12):
        history = interactions.loc[interactions["user_id"] == user].drop(columns="user_id")
        shopper = engine.shopper(history)
        scored = engine.sources_.score_rows(shopper)
        together = scored.as_dict()
        assert set(together) <= {"popularity", *scored.names}
        np.testing.assert_array_equal(scored.speaking, scored.block.any(axis=1))
        for name in scored.names:
            alone = engine.sources_.score(shopper, only=[name])
            if name in together:
                np.testing.assert_array_equal(alone[name], together[name], err_msg=name)
            else:
                assert name not in alone, name


def _ranked_rows(seed: int, groups: int = 80, size: int = 25) -> ValidationSet:
    """Candidates whose item-kNN score decides the future and whose EASE score decides the gaps."""
    rng = np.random.default_rng(seed)
    rows = groups * size
    features = rng.random((rows, len(FEATURES))).astype(np.float32)
    features[rng.random(features.shape) < 0.1] = np.nan
    gap = np.repeat(rng.random(groups) < 0.5, size)
    features[:, RANDOM_GAP_COLUMN] = gap
    deciding = np.where(
        gap, features[:, SCORE_COLUMN["ease"]], features[:, SCORE_COLUMN["itemknn"]]
    )
    labels = np.where(np.nan_to_num(deciding) + 0.1 * rng.random(rows) > 0.9, 2.0, 0.0)
    positives = labels.reshape(groups, size).astype(bool).sum(axis=1)
    return ValidationSet(
        features, labels, np.full(groups, size), positives, gap[::size].astype(int)
    )


@pytest.mark.parametrize("future_weight", [1.0, 0.5, 0.0])
def test_shown_rows_are_explained_as_a_second_pass_through_lightgbm_would(future_weight):
    ranker = LearnedRanker(seed=5, n_rounds=40).fit(_ranked_rows(0))
    ranker = ranker.with_future_weight(future_weight)
    features = _ranked_rows(1).as_served().features[:300]
    ranked = ranker.scored(features)
    np.testing.assert_array_equal(ranked.scores, ranker.score(features))
    shown = np.array([17, 3, 250, 4, 99])
    explained = ranked.explain(shown)
    routed_again = ranker.contributions(features[shown])  # its own LightGBM call
    assert explained.keys() == routed_again.keys()
    for source, values in routed_again.items():
        np.testing.assert_array_equal(explained[source], values)


def _frames() -> list[pd.DataFrame]:
    """One history as callers hand it over: numpy, extension and object columns, timestamps of
    several units and zones or as text, an unknown product, a missing and a textual value."""
    base = pd.DataFrame(
        {
            "product_id": [11, 12, 99, 13, 12, 11],
            "kind": ["view", "like", "view", "rating", "purchase", "rating"],
            "value": [1.0, None, 1.0, 4.0, 1.0, 2.0],
            "timestamp": pd.to_datetime(
                [
                    "2025-03-01 10:00",
                    "2025-03-02 00:00",
                    "2025-03-03 00:00",
                    "2025-03-09 08:30",
                    None,
                    "2025-03-10 00:00",
                ]
            ),
        }
    )
    return [
        base,
        base.astype({"kind": object, "product_id": object}),
        base.astype({"value": "Float64"}),
        base.assign(value=["1", "x", "1", "4", None, "2"]),
        base.assign(timestamp=base["timestamp"].dt.tz_localize("UTC")),
        base.assign(timestamp=base["timestamp"].astype("datetime64[s]")),
        base.assign(timestamp=base["timestamp"].astype(str).replace("NaT", None)),
        base.drop(columns=["timestamp"]),
        base.drop(columns=["value"]),
        base.astype({"kind": "string[pyarrow]"}),
        pd.concat([base.iloc[:2], base.iloc[2:]], ignore_index=True),  # kinds in two Arrow chunks
        base.assign(note="x")[["note", "timestamp", "kind", "value", "product_id"]],
    ]


def _coded_by_hand(frame: pd.DataFrame, catalog: CatalogIndex):
    """The same events coded one at a time, with plain Python and pandas scalars."""
    rows = frame.to_dict("records")
    known = [row for row in rows if row["product_id"] in catalog.index]
    items = np.array([catalog.index[row["product_id"]] for row in known], dtype=np.int64)
    codes = np.array([KINDS.index(row["kind"]) for row in known], dtype=np.int64)
    values = []
    for row in known:
        value = pd.to_numeric(pd.Series([row.get("value", 1.0)]), errors="coerce").iloc[0]
        values.append(1.0 if pd.isna(value) else float(value))
    days = []
    for row in known:
        stamp = pd.Timestamp(row["timestamp"]) if row.get("timestamp") is not None else pd.NaT
        if pd.isna(stamp):
            days.append(np.nan)
        else:
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
            days.append((stamp - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(days=1))
    return items, codes, np.array(values), np.array(days, dtype=float)


FRAMES = _frames()


@pytest.mark.parametrize("frame", FRAMES, ids=[str(i) for i in range(len(FRAMES))])
def test_a_history_frame_codes_as_its_events_one_by_one(frame):
    catalog = CatalogIndex(pd.Index([10, 11, 12, 13, 14]))
    weights = kind_weight_table(DEFAULT_KIND_WEIGHTS)
    shopper = shopper_from_frame(frame, catalog, weights, 30.0)
    expected = code_shopper(*_coded_by_hand(frame, catalog), weights, 30.0)
    for field, value in expected._asdict().items():
        np.testing.assert_allclose(getattr(shopper, field), value, rtol=1e-12, err_msg=field)
    assert shopper.items.tolist() == [1, 2, 3]


@pytest.mark.parametrize("kinds", [["view", None, "like"], ["view", "nope", "like"]])
def test_a_missing_or_unknown_kind_in_an_arrow_column_is_refused(kinds):
    frame = pd.DataFrame({"product_id": [10, 11, 12], "kind": kinds}).astype(
        {"kind": "string[pyarrow]"}
    )
    catalog = CatalogIndex(pd.Index([10, 11, 12]))
    with pytest.raises(ValueError, match="unknown interaction kinds"):
        shopper_from_frame(frame, catalog, kind_weight_table(DEFAULT_KIND_WEIGHTS), 30.0)


def test_a_candidates_feature_row_holds_what_each_part_of_the_engine_says(engine, shop):
    """Rows start from the per-product table: its columns hold the product's own values, every
    source's score and rank sit where they belong, and nothing else is filled from the table."""
    interactions, _ = shop
    sources, catalog = engine.sources_, engine.catalog_
    for user in interactions["user_id"].drop_duplicates().head(8):
        shopper = engine.shopper(
            interactions.loc[interactions["user_id"] == user].drop(columns="user_id")
        )
        blocked = np.zeros(len(engine.product_ids_), dtype=bool)
        blocked[shopper.history_items] = True
        popular = np.argsort(-sources.trending_, kind="stable")
        picked = candidate_features(shopper, sources, catalog, blocked, int(blocked.sum()), popular)
        rows, items = picked.features, picked.items
        own = product_values(sources, catalog)
        for name, values in own.items():
            np.testing.assert_array_equal(
                rows[:, FEATURES.index(name)], values[items].astype(np.float32), err_msg=name
            )
        speaking = dict(zip(picked.scores.names, picked.scores.speaking.tolist(), strict=True))
        for row, name in enumerate(picked.scores.names):
            column = rows[:, FEATURES.index(f"{name}_score")]
            if speaking[name]:
                scores = picked.scores.block[row, items]
                np.testing.assert_array_equal(column, scores.astype(np.float32), err_msg=name)
                ranks = np.empty(len(items))
                ranks[np.argsort(-scores, kind="stable")] = np.arange(len(items))
                np.testing.assert_allclose(
                    rows[:, FEATURES.index(f"{name}_rank")], np.log1p(ranks), rtol=1e-6
                )
            else:
                assert np.isnan(column).all(), name
        assert (rows[:, FEATURES.index("history_size")] == np.float32(np.log1p(shopper.size))).all()
        assert (rows[:, RANDOM_GAP_COLUMN] == 0).all()
