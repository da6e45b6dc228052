"""Each component model on data small enough to know the right answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import catalogue, events

from shop.recommend import HybridRecommender
from shop.recommend.content import ContentModel
from shop.recommend.ease import EASEModel, ease_item_limit
from shop.recommend.implicit_mf import ALSModel
from shop.recommend.linalg import solve_spd
from shop.recommend.neighbours import ItemKNN
from shop.recommend.svd import SVDModel, TunedSVD

KITCHEN = catalogue(
    {
        "kettle-blue": "Blue electric kettle",
        "kettle-red": "Red electric kettle",
        "teapot": "Ceramic teapot",
        "spade": "Garden spade",
        "rake": "Garden rake",
        "novel": "Crime novel",
    },
    {
        "kettle-blue": "Kitchen",
        "kettle-red": "Kitchen",
        "teapot": "Kitchen",
        "spade": "Garden",
        "rake": "Garden",
    },
)


def fixed_engine(interactions, products, **params):
    return HybridRecommender(random_state=0, ranker="fixed", **params).fit(interactions, products)


def test_popular_ranks_by_event_count_of_the_requested_kind():
    interactions = events(
        [
            (1, "spade", "click"),
            (2, "spade", "click"),
            (3, "rake", "click"),
            (1, "novel", "purchase"),
            (2, "novel", "purchase"),
            (3, "teapot", "purchase"),
        ]
    )
    engine = fixed_engine(interactions, KITCHEN)
    assert [r.product_id for r in engine.popular(2, kind="click")] == ["spade", "rake"]
    best = engine.popular(1, kind="purchase")[0]
    assert best.product_id == "novel"
    assert best.reason == "Best seller"


def test_popular_per_category_only_returns_that_category():
    interactions = events(
        [(u, "novel", "click") for u in range(5)] + [(1, "teapot", "click"), (2, "rake", "click")]
    )
    engine = fixed_engine(interactions, KITCHEN)
    kitchen = engine.popular(3, kind="click", category="Kitchen")
    assert kitchen[0].product_id == "teapot"
    assert {r.product_id for r in kitchen} <= {"kettle-blue", "kettle-red", "teapot"}
    assert kitchen[0].reason == "Most clicked in Kitchen"


def test_trending_prefers_recent_activity_over_old_volume():
    old = [(u, "novel", "purchase", 1, 0) for u in range(6)]  # six purchases two months earlier
    new = [(u, "spade", "purchase", 1, 24 * 60 + u) for u in range(3)]  # three purchases this week
    engine = fixed_engine(events(old + new), KITCHEN)
    assert engine.popular(1, kind="purchase")[0].product_id == "novel"
    assert engine.popular(1, kind="trending")[0].product_id == "spade"


def test_popular_rejects_unknown_kind():
    engine = fixed_engine(events([(1, "novel", "click")]), KITCHEN)
    with pytest.raises(ValueError, match="unknown popularity kind"):
        engine.popular(3, kind="hype")


def test_content_similarity_finds_the_other_kettle():
    model = ContentModel().fit(KITCHEN)
    row = model.neighbours_[0]  # kettle-blue
    assert KITCHEN["product_id"][row.indices[0]] == "kettle-red"
    # A spade shares nothing with a kettle beyond nothing: it is either absent or ranked below the kettle.
    scores = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
    assert scores.get(3, 0.0) < scores[1]


def test_content_handles_empty_text_without_failing():
    blank = pd.DataFrame(
        {
            "product_id": [1, 2],
            "name": ["", None],
            "description": [None, ""],
            "category": [None, ""],
        }
    )
    model = ContentModel().fit(blank)
    assert model.neighbours_.nnz == 0


def test_svd_fold_in_moves_predictions_towards_the_shoppers_ratings():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(40), 6)
    items = np.tile(np.arange(6), 40)
    # Half the shoppers love items 0-2 and dislike 3-5, the other half the reverse: tastes that only
    # factors carry, so the fit's tuning keeps them.
    loves_first = (items < 3) == (users % 2 == 0)
    ratings = np.where(loves_first, 4.5, 1.5) + rng.normal(0, 0.2, len(items))
    model = SVDModel(n_factors=4, n_epochs=30, random_state=0).fit(users, items, ratings, n_items=6)
    neutral = model.predict_all(np.array([], dtype=int), np.array([]))
    assert model.chosen_["factors"] > 0
    # This shopper loves item 3 and hates item 0, like the second half.
    taste = model.predict_all(np.array([3, 0]), np.array([5.0, 1.0]))
    assert taste[3] > neutral[3]
    assert taste[0] < neutral[0]


def test_svd_without_ratings_stays_empty_and_predicts_nothing_personal():
    model = SVDModel().fit(np.zeros(0, int), np.zeros(0, int), np.zeros(0), n_items=3)
    assert model.n_ratings_ == 0
    assert model.fold_in(np.array([1]), np.array([5.0]))[0] == 0.0


def _rating_trainset(stars: np.ndarray, users: np.ndarray, items: np.ndarray):
    from surprise import Dataset, Reader

    frame = pd.DataFrame({"u": users, "i": items, "r": stars})
    return Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()


def test_tuned_svd_keeps_the_biases_alone_where_stars_have_no_tastes_in_them():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(80), 10)
    items = np.concatenate([rng.choice(40, 10, replace=False) for _ in range(80)])
    # Stars = a generous or strict shopper + a better or worse product + noise: nothing for factors.
    stars = np.clip(3 + 0.5 * rng.normal(size=80)[users] + 0.8 * rng.normal(size=40)[items], 1, 5)
    stars = np.clip(stars + rng.normal(0, 0.7, len(users)), 1, 5)
    algo = TunedSVD(n_factors=20, n_epochs=20, random_state=0).fit(
        _rating_trainset(stars, users, items)
    )
    assert algo.chosen_["factors"] == 0
    assert algo.chosen_["validation_rmse"] == algo.chosen_["biases_alone_rmse"]


def test_tuned_svd_keeps_factors_where_shoppers_disagree_on_products():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(120), 15)
    items = np.concatenate([rng.choice(40, 15, replace=False) for _ in range(120)])
    # Two kinds of shoppers who love each other's hated products: only factors can tell them apart.
    agree = np.where((users % 2) == (items % 2), 1.0, -1.0)
    stars = np.clip(3 + 1.5 * agree + rng.normal(0, 0.3, len(users)), 1, 5)
    algo = TunedSVD(n_factors=20, n_epochs=20, random_state=0).fit(
        _rating_trainset(stars, users, items)
    )
    assert algo.chosen_["factors"] > 0
    assert algo.chosen_["validation_rmse"] < 0.9 * algo.chosen_["biases_alone_rmse"]


def two_groups(n_users: int = 20) -> sp.csr_matrix:
    """Users 0..9 buy items 0-2, users 10..19 buy items 3-5: two clean co-purchase groups."""
    rows, cols = [], []
    for user in range(n_users):
        group = 0 if user < n_users // 2 else 3
        for item in range(group, group + 3):
            rows.append(user)
            cols.append(item)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, 6))


def test_item_knn_scores_the_co_purchased_group_above_the_other():
    model = ItemKNN(n_neighbours=5, shrinkage=0.0).fit(two_groups())
    history = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, 6))
    scores = model.scores(history)[0]
    assert scores[1] > 0 and scores[2] > 0
    assert scores[3] == scores[4] == scores[5] == 0.0


def test_als_fold_in_places_a_new_shopper_in_the_right_group():
    model = ALSModel(factors=4, iterations=10, regularization=0.1, random_state=0).fit(two_groups())
    history = sp.csr_matrix(([1.0], ([0], [4])), shape=(1, 6))
    scores = model.scores(history)[0]
    assert min(scores[3], scores[5]) > max(scores[0], scores[1], scores[2])


def test_als_fold_in_reproduces_a_trained_users_vector():
    matrix = two_groups()
    model = ALSModel(factors=4, iterations=15, regularization=0.1, random_state=0).fit(matrix)
    folded = model.fold_in(matrix[:1])
    # Folding in a training user solves the same least-squares step ALS ended with.
    assert np.allclose(
        folded @ model.item_factors_.T, model.user_factors_[:1] @ model.item_factors_.T, atol=0.05
    )


@pytest.mark.parametrize("weighting", ["idf", "none", "rp3beta"])
def test_every_item_knn_weighting_finds_the_co_purchased_group(weighting):
    model = ItemKNN(n_neighbours=5, shrinkage=0.0, weighting=weighting).fit(two_groups())
    scores = model.scores(sp.csr_matrix(([1.0], ([0], [4])), shape=(1, 6)))[0]
    assert min(scores[3], scores[5]) > 0
    assert scores[:3].max() == 0.0


def test_item_knn_rejects_an_unknown_weighting():
    with pytest.raises(ValueError, match="weighting"):
        ItemKNN(weighting="magic").fit(two_groups())


def one_row(items, strengths, n_items: int) -> sp.csr_matrix:
    return sp.csr_matrix((strengths, (np.zeros(len(items), dtype=int), items)), shape=(1, n_items))


def test_one_shopper_scoring_agrees_with_the_sparse_product_of_every_model():
    """The request path scores one shopper from plain arrays; it must rank as the batch path does."""
    matrix = two_groups()
    items, strengths = np.array([0, 4]), np.array([1.5, 0.5])
    row = one_row(items, strengths, 6)
    knn = ItemKNN(n_neighbours=5, shrinkage=0.0).fit(matrix)
    assert np.allclose(knn.scores_for(items, strengths), knn.scores(row)[0])
    als = ALSModel(factors=4, iterations=10, regularization=0.1, random_state=0).fit(matrix)
    assert np.allclose(als.scores_for(items, strengths), als.scores(row)[0], atol=1e-6)
    assert not als.scores_for(np.zeros(0, dtype=int), np.zeros(0)).any()


@pytest.mark.parametrize(
    "history",
    [["novel"], ["kettle-blue", "teapot"], list(KITCHEN["product_id"])],
    ids=["rare terms", "some shared terms", "every term"],
)
def test_one_shopper_content_scores_agree_with_the_profile_product(history):
    """Rare terms are gathered term by term, common ones use one pass over the catalogue: same scores."""
    model = ContentModel().fit(KITCHEN)
    items = KITCHEN.index[KITCHEN["product_id"].isin(history)].to_numpy()
    strengths = np.linspace(1.0, 2.0, len(items))
    expected = model.profile_scores(one_row(items, strengths, len(KITCHEN)))[0]
    assert np.allclose(model.profile_scores_for(items, strengths), expected, atol=1e-6)


def test_serving_requests_does_not_change_what_is_saved(tmp_path):
    interactions = events([(u, p, "purchase") for u in range(4) for p in ("spade", "rake")])
    engine = fixed_engine(interactions, KITCHEN)
    engine.save(tmp_path / "before.pkl")
    engine.recommend(events([(0, "spade", "click")]).drop(columns="user_id"), n=3)
    engine.save(tmp_path / "after.pkl")
    # Request-time lookups are rebuilt after loading, never written: the file does not grow.
    assert (tmp_path / "after.pkl").stat().st_size == (tmp_path / "before.pkl").stat().st_size


def test_fold_in_solver_handles_positive_definite_and_indefinite_systems():
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(8, 20))
    spd = factors @ factors.T + 0.1 * np.eye(8)
    rhs = rng.normal(size=8)
    assert np.allclose(solve_spd(spd, rhs), np.linalg.solve(spd, rhs))
    indefinite = np.diag([1.0, -2.0, 3.0])  # Cholesky fails: the general solver still answers
    assert np.allclose(indefinite @ solve_spd(indefinite, np.ones(3)), np.ones(3))
    with pytest.raises(np.linalg.LinAlgError):
        solve_spd(np.zeros((2, 2)), np.ones(2))


def test_ease_closed_form_matches_the_textbook_solution_and_the_request_path():
    matrix = two_groups()
    model = EASEModel(l2=2.0).fit(matrix)
    x = (matrix.toarray() > 0).astype(float)
    inverse = np.linalg.inv(x.T @ x + 2.0 * np.eye(x.shape[1]))
    expected = np.eye(x.shape[1]) - inverse / np.diag(inverse)[None, :]
    assert np.allclose(model.weights_, expected, atol=1e-5)
    assert not np.diag(model.weights_).any()
    items = np.array([0, 1])
    row = one_row(items, np.ones(2), 6)
    assert np.allclose(model.scores_for(items, np.ones(2)), model.scores(row)[0], atol=1e-5)
    scores = model.scores_for(items, np.ones(2))
    assert scores[2] > scores[3:].max()  # the rest of the first group comes first


def test_ease_beyond_its_size_cap_covers_the_most_used_products_and_scores_the_rest_zero():
    matrix = two_groups()
    model = EASEModel(l2=1.0, max_items=3).fit(matrix)
    assert model.truncated_ and len(model.items_) == 3
    support = np.diff(matrix.tocsc().indptr)
    assert set(model.items_) == set(np.argsort(-support, kind="stable")[:3])
    scores = model.scores_for(np.array([0]), np.ones(1))
    uncovered = np.setdiff1d(np.arange(6), model.items_)
    assert not scores[uncovered].any()
    assert ease_item_limit(10_000, 1.0) < 10_000  # the memory cap binds too


def test_momentum_is_above_zero_for_a_rising_product_and_below_for_a_fading_one():
    from shop.recommend.sources import momentum

    reference = 100.0
    # Product 0 sold twice a week for six weeks; 1 only in the last two; 2 only in the four before;
    # 3 only before both windows, 4 never.
    days = np.concatenate([reference - np.arange(0, 42, 3.5), reference - np.arange(0, 14, 2.0)])
    items = np.concatenate([np.zeros(12, dtype=np.int64), np.ones(7, dtype=np.int64)])
    days = np.concatenate([days, reference - np.array([20.0, 25.0, 30.0]), [reference - 60.0]])
    items = np.concatenate([items, [2, 2, 2], [3]])
    weights = np.ones(len(items))

    rise = momentum(items, weights, days, reference, n_items=5)

    assert rise[0] == pytest.approx(0.0, abs=0.05)  # steady
    assert rise[1] > 1.0 and rise[2] < -0.5
    assert rise[3] == rise[4] == 0.0  # nothing in either window
    # No times: nothing can be said about a trend.
    np.testing.assert_array_equal(
        momentum(items, weights, np.full(len(items), np.nan), np.nan, n_items=5), np.zeros(5)
    )
