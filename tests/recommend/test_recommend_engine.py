"""The hybrid engine as the shop sees it: lists for shoppers, cold starts, exclusions, real-time updates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import catalogue, events, history, shop_data

from shop.recommend import (
    VARIANTS,
    HybridRecommender,
    NotFittedError,
    Recommendation,
    UnknownProductError,
)
from shop.recommend.frames import kind_codes, to_epoch_days
from shop.recommend.guard import FUTURE_WEIGHTS
from shop.recommend.history import Shopper, code_shopper
from shop.recommend.sources import SOURCES


def ids(recommendations):
    return [r.product_id for r in recommendations]


def test_empty_history_gets_popular_products(engine, shop):
    interactions, _ = shop
    cold = engine.recommend(history([]), n=5)
    assert len(cold) == 5
    assert all(isinstance(r, Recommendation) for r in cold)
    assert ids(cold) == ids(engine.recommend(None, n=5))
    trending = ids(engine.popular(20, kind="trending"))
    assert set(ids(cold)) <= set(trending)
    assert all(r.reason.startswith(("Popular in", "Trending")) for r in cold)


def test_history_of_unknown_products_is_treated_as_a_new_shopper(engine):
    unknown = history([("not-in-catalogue", "purchase"), (99_999, "like")])
    assert ids(engine.recommend(unknown, n=5)) == ids(engine.recommend(None, n=5))


def test_personal_list_follows_the_shoppers_taste(engine, shop):
    _, products = shop
    garden = products.loc[products["category"] == "Garden", "product_id"].tolist()
    mine = history([(p, "purchase") for p in garden[:4]])
    recommended = engine.recommend(mine, n=5)
    categories = products.set_index("product_id").loc[ids(recommended), "category"]
    assert (categories == "Garden").sum() >= 3
    assert all(r.reason for r in recommended)


def test_recommended_for_you_only_shows_products_new_to_the_shopper(engine, shop):
    """Discovery, as the evaluation measures it: nothing bought, rated, liked or even viewed comes back."""
    _, products = shop
    tech = products.loc[products["category"] == "Tech", "product_id"].tolist()
    mine = history(
        [(tech[0], "purchase"), (tech[1], "rating", 5), (tech[2], "like"), (tech[3], "view")]
    )
    for variant in VARIANTS:
        recommended = ids(engine.recommend(mine, n=len(products), variant=variant))
        assert not set(recommended) & set(tech[:4]), variant
        assert len(recommended) == len(products) - 4, variant


def test_explicit_exclude_removes_more_products(engine):
    first = engine.recommend(None, n=3)
    after = engine.recommend(None, n=3, exclude=[first[0].product_id])
    assert first[0].product_id not in ids(after)


def test_a_new_like_changes_the_list_without_refitting(engine, shop):
    _, products = shop
    books = products.loc[products["category"] == "Books", "product_id"].tolist()
    toys = products.loc[products["category"] == "Toys", "product_id"].tolist()
    before = history([(books[0], "view", 1, 0), (books[1], "click", 1, 1)])
    after = pd.concat(
        [before, history([(toys[0], "like", 1, 2), (toys[1], "rating", 5, 3)])], ignore_index=True
    )
    first, second = ids(engine.recommend(before, n=10)), ids(engine.recommend(after, n=10))
    assert first != second
    toy_share = products.set_index("product_id").loc[second, "category"].eq("Toys").sum()
    assert toy_share > products.set_index("product_id").loc[first, "category"].eq("Toys").sum()


def test_recent_events_weigh_more_than_old_ones(shop):
    interactions, products = shop
    engine = HybridRecommender(random_state=0, ranker="fixed", recency_half_life_days=7).fit(
        interactions, products
    )
    garden = products.loc[products["category"] == "Garden", "product_id"].tolist()
    books = products.loc[products["category"] == "Books", "product_id"].tolist()
    # Same events, only the order in time differs.
    garden_last = history(
        [
            (books[0], "view", 1, 0),
            (books[1], "view", 1, 1),
            (garden[0], "view", 1, 2000),
            (garden[1], "view", 1, 2001),
        ]
    )
    books_last = history(
        [
            (garden[0], "view", 1, 0),
            (garden[1], "view", 1, 1),
            (books[0], "view", 1, 2000),
            (books[1], "view", 1, 2001),
        ]
    )
    lookup = products.set_index("product_id")["category"]
    top_garden = lookup.loc[ids(engine.recommend(garden_last, n=5))].eq("Garden").sum()
    top_books = lookup.loc[ids(engine.recommend(books_last, n=5))].eq("Garden").sum()
    assert top_garden > top_books


def test_new_product_without_interactions_is_reachable_through_content():
    interactions, products = shop_data(n_users=60, n_products=40, n_events=3000)
    newcomer = pd.DataFrame(
        [
            {
                "product_id": "new-1",
                "name": "steel tech gadget pro",
                "description": "a tech product, model 2",
                "category": "Tech",
                "price": 30.0,
            }
        ]
    )
    engine = HybridRecommender(random_state=0).fit(
        interactions, pd.concat([products, newcomer], ignore_index=True)
    )
    tech = products.loc[products["category"] == "Tech", "product_id"].tolist()
    assert "new-1" in ids(engine.similar(tech[0], n=10))
    mine = history([(p, "like") for p in tech[:3]])
    assert "new-1" in ids(engine.recommend(mine, n=10, variant="content"))
    everything = engine.recommend(mine, n=len(products))
    assert "new-1" in ids(everything)
    reason = next(r.reason for r in everything if r.product_id == "new-1")
    liked_names = set(products.set_index("product_id").loc[tech[:3], "name"])
    assert any(name in reason for name in liked_names)  # explained by a product the shopper liked


def test_diversity_reranking_breaks_up_near_duplicates():
    names = {f"dup-{i}": f"white hanging heart t-light holder {i}" for i in range(8)}
    names |= {
        f"other-{i}": f"{w} item"
        for i, w in enumerate(["garden spade", "crime novel", "red kettle", "toy robot"])
    }
    products = catalogue(names)
    # Everyone buys the duplicates a lot, the others a little: relevance alone would list duplicates first.
    rows = [(u, f"dup-{i}", "purchase") for u in range(30) for i in range(8)]
    rows += [(u, f"other-{i}", "purchase") for u in range(20) for i in range(4)]
    interactions = events(rows)
    plain = HybridRecommender(random_state=0, ranker="fixed", diversity=0.0).fit(
        interactions, products
    )
    diverse = HybridRecommender(random_state=0, ranker="fixed", diversity=0.7).fit(
        interactions, products
    )
    mine = history([("dup-0", "purchase")])
    count = lambda recs: sum(str(p).startswith("other") for p in ids(recs))  # noqa: E731
    assert count(diverse.recommend(mine, n=6)) > count(plain.recommend(mine, n=6))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_returns_a_full_list(engine, shop, variant):
    interactions, _ = shop
    mine = interactions.loc[interactions["user_id"] == 5]
    recommended = engine.recommend(mine, n=10, variant=variant)
    assert len(recommended) == 10
    assert len(set(ids(recommended))) == 10
    scores = [r.score for r in recommended]
    assert (
        scores == sorted(scores, reverse=True) or variant == "hybrid"
    )  # MMR may reorder the hybrid


def test_svd_variant_without_ratings_falls_back_to_popularity(engine):
    assert ids(engine.recommend(history([(3, "view")]), n=5, variant="svd")) == ids(
        engine.recommend(None, n=5)
    )


def test_unknown_variant_is_rejected(engine):
    with pytest.raises(ValueError, match="unknown variant"):
        engine.recommend(None, variant="magic")


def test_similar_and_also_bought(engine, shop):
    _, products = shop
    first = products["product_id"].iloc[0]
    similar = engine.similar(first, n=5)
    assert len(similar) == 5 and first not in ids(similar)
    assert similar[0].reason.startswith("Similar to")
    bought = engine.also_bought(first, n=5)
    assert len(bought) == 5 and first not in ids(bought)
    assert bought[0].reason.startswith("Customers who bought")


def test_similar_of_an_unknown_product_raises_a_named_error(engine):
    with pytest.raises(UnknownProductError) as caught:
        engine.similar("nope")
    assert isinstance(caught.value, KeyError)
    with pytest.raises(UnknownProductError):
        engine.also_bought("nope")


def test_using_an_unfitted_engine_raises_not_fitted():
    with pytest.raises(NotFittedError):
        HybridRecommender().recommend(None)


def test_same_random_state_gives_identical_models_and_lists(shop):
    interactions, products = shop
    a = HybridRecommender(random_state=3).fit(interactions, products)
    b = HybridRecommender(random_state=3).fit(interactions, products)
    mine = interactions.loc[interactions["user_id"] == 7]
    assert a.metadata_["ranker"] == b.metadata_["ranker"]
    assert a.recommend(mine, n=10) == b.recommend(mine, n=10)


def test_string_ids_and_naive_timestamps_work():
    interactions, products = shop_data(n_users=40, n_products=30, n_events=1500)
    interactions = interactions.assign(
        user_id="cust-" + interactions["user_id"].astype(str),
        product_id="8512" + interactions["product_id"].astype(str) + "A",
        timestamp=interactions["timestamp"].dt.tz_localize(None),
    )
    products = products.assign(product_id="8512" + products["product_id"].astype(str) + "A")
    engine = HybridRecommender(random_state=0).fit(interactions, products)
    mine = interactions.loc[interactions["user_id"] == "cust-1"]
    recommended = engine.recommend(mine, n=5)
    assert all(isinstance(p, str) and p.endswith("A") for p in ids(recommended))
    aware = mine.assign(timestamp=mine["timestamp"].dt.tz_localize("UTC"))
    assert ids(engine.recommend(aware, n=5)) == ids(recommended)


def test_metadata_describes_the_fit(engine, shop):
    interactions, products = shop
    meta = engine.metadata_
    assert meta["version"] >= 1
    assert meta["n_products"] == len(products)
    assert meta["n_interactions"] == len(interactions)
    assert meta["ranker"]["chosen"] in {"lambdarank", "logit", "blend"} | {
        f"source:{name}" for name in SOURCES
    } | {f"lambdarank:{weight:g}" for weight in FUTURE_WEIGHTS}
    assert meta["ranker"]["reason"]
    assert pd.Timestamp(meta["trained_at"]).tzinfo is not None


def test_fit_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown interaction kinds"):
        HybridRecommender().fit(events([(1, "a", "stare")]), catalogue({"a": "A"}))


def test_a_shop_without_any_interactions_still_answers():
    products = catalogue({1: "Blue kettle", 2: "Red kettle", 3: None}, {1: "Kitchen", 3: "Garden"})
    empty = events([]).astype({"timestamp": "datetime64[ns, UTC]"})
    engine = HybridRecommender(random_state=0).fit(empty, products)
    assert len(engine.recommend(None, n=3)) == 3
    assert ids(engine.similar(1, n=1)) == [2]
    assert engine.also_bought(1) == []
    liked = engine.recommend(history([(1, "like")]), n=2)
    assert liked[0].product_id == 2
    assert "Blue kettle" in liked[0].reason
    assert liked[1].reason.startswith(("Popular in", "Trending"))


@pytest.mark.parametrize("user", [3, 8, 21])
def test_requests_code_a_history_exactly_as_the_ranker_was_trained(engine, shop, user):
    """Validation codes shoppers from event arrays, requests from a frame; both feed one scoring path."""
    interactions, _ = shop
    mine = interactions.loc[interactions["user_id"] == user]
    serving = engine._serving_state()
    from_arrays = code_shopper(
        engine.product_ids_.get_indexer(mine["product_id"]),
        kind_codes(mine["kind"].to_numpy(dtype=object)),
        mine["value"].to_numpy(dtype=float),
        to_epoch_days(mine["timestamp"], len(mine)),
        serving.kind_weights,
        engine.recency_half_life_days,
    )
    from_frame = engine.shopper(mine)
    for field in Shopper._fields:
        assert np.allclose(getattr(from_frame, field), getattr(from_arrays, field)), field


def test_the_guard_never_serves_worse_than_the_best_single_source_on_validation(engine):
    report = engine.metadata_["ranker"]
    scores = report["score"]  # NDCG@10 relative to the best single source, averaged over protocols
    worst = report["worst_protocol"]  # the same, on the protocol where it is lowest
    chosen = report["chosen"]
    safe = [name for name, value in worst.items() if value >= 1.0 - 1e-9]
    if safe:
        assert chosen in safe and scores[chosen] == max(scores[name] for name in safe)
    else:
        assert worst[chosen] == max(worst.values())
    # Either way no single source does better on the protocol where the chosen ranker is weakest.
    assert worst[chosen] >= max(v for k, v in worst.items() if k.startswith("source:"))
    assert set(report["ndcg@10"]) == {"time", "random"}
    assert {"lambdarank", "lambdarank:0.5", "logit", "blend"} <= set(scores)  # all were tried


def test_too_little_data_keeps_a_fixed_blend_and_says_why():
    interactions, products = shop_data(n_users=8, n_products=20, n_events=200)
    engine = HybridRecommender(random_state=0).fit(interactions, products)
    assert engine.metadata_["ranker"]["chosen"] == "blend"
    assert "too little validation data" in engine.metadata_["ranker"]["reason"]
    assert len(engine.recommend(interactions.loc[interactions["user_id"] == 1], n=5)) == 5


def test_a_category_reason_says_which_you_like_only_for_the_shoppers_own_categories(engine, shop):
    interactions, products = shop
    garden = products.loc[products["category"] == "Garden", "product_id"].tolist()
    mine = history([(p, "purchase") for p in garden[:4]])
    category = products.set_index("product_id")["category"]
    for r in engine.recommend(mine, n=len(products) - 4):
        if r.reason.endswith(", which you like"):
            assert category[r.product_id] == "Garden", r


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([("kitchen", "view")], id="one-glance"),
        pytest.param([("kitchen", "rating", 2), ("kitchen", "purchase")], id="bought-then-rated-2"),
        pytest.param(
            [("kitchen", "view"), ("kitchen", "view"), ("kitchen", "rating", 1)],
            id="viewed-twice-then-rated-1",
        ),
    ],
)
def test_which_you_like_needs_positive_evidence_in_the_category(engine, shop, rows):
    interactions, products = shop
    kitchen = products.loc[products["category"] == "Kitchen", "product_id"].tolist()
    picked = iter(kitchen)
    mine = history([(next(picked) if p == "kitchen" else p, *rest) for p, *rest in rows])
    category = products.set_index("product_id")["category"]
    for r in engine.recommend(mine, n=len(products) - len(mine)):
        if r.reason.endswith(", which you like"):
            assert category[r.product_id] != "Kitchen", r


def test_fond_categories_come_from_likes_high_stars_purchases_and_repeated_views():
    from shop.recommend.explain import fond_of_categories
    from shop.recommend.frames import KINDS
    from shop.recommend.history import Shopper

    code = {kind: KINDS.index(kind) for kind in KINDS}
    # Catalogue positions 0-5 in categories 0, 0, 1, 2, 3, 4.
    categories = np.array([0, 0, 1, 2, 3, 4])
    touched = np.array([0, 1, 2, 3, 3, 4, 5])
    codes = np.array(
        [
            code["view"],
            code["view"],
            code["like"],
            code["purchase"],
            code["rating"],
            code["view"],
            code["purchase"],
        ]
    )
    shopper = Shopper.empty()._replace(
        touched=touched,
        codes=codes,
        rated_items=np.array([3, 5]),
        ratings=np.array([5.0, 2.0]),
        history_items=np.unique(touched),
    )
    fond = fond_of_categories(shopper, categories, 5)
    # 0: two views; 1: a like; 2: bought and rated 5; 3: one view; 4: bought but rated 2.
    assert fond.tolist() == [True, True, True, False, False]


def test_a_fit_on_a_recent_window_serves_the_als_fitted_on_the_whole_log(shop):
    interactions, products = shop
    whole = HybridRecommender(random_state=0, ranker="fixed").fit(interactions, products)
    factors = whole.sources_.als_.item_factors_
    asked, fitted_on_window = [], []

    def full_log_als(model):
        asked.append((model.factors, model.iterations, model.random_state))
        return factors

    window = interactions.tail(1500)  # the newest quarter of the log, as the worker reads it
    engine = HybridRecommender(random_state=0, ranker="fixed").fit(
        window,
        products,
        als_fitter=lambda events, model: fitted_on_window.append(len(events.users)),
        full_log_als=full_log_als,
    )

    assert engine.metadata_["n_interactions"] == 1500
    assert asked == [(64, 15, whole.sources_.als_.random_state)]  # the engine's own model
    assert fitted_on_window == []  # the served ALS is the whole log's, not the window's
    assert np.array_equal(engine.sources_.als_.item_factors_, factors)
    me = history([(3, "purchase"), (8, "view"), (13, "click")])
    assert len(engine.recommend(me, n=5, variant="als")) == 5
    with pytest.raises(ValueError, match="catalogue of 60 products"):
        HybridRecommender(random_state=0, ranker="fixed").fit(
            window, products, full_log_als=lambda model: factors[:-1]
        )
