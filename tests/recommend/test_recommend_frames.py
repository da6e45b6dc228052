"""Input handling: the frames the shop builds, timestamps in every flavour, minimal histories."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from conftest import history

from shop.recommend import HybridRecommender, interactions_frame, products_frame
from shop.recommend.content import ContentModel
from shop.recommend.features import FEATURES, RANDOM_GAP_COLUMN
from shop.recommend.frames import (
    DEFAULT_KIND_WEIGHTS,
    encode_events,
    kind_weight_table,
    to_epoch_days,
)
from shop.recommend.pipeline import candidate_features
from shop.recommend.tuning import random_holdout, time_holdouts, validation_set

NOON = 20089.5  # 2025-01-01 12:00 UTC in days since the epoch


@pytest.mark.parametrize(
    "stamps",
    [
        pd.Series(pd.to_datetime(["2025-01-01 12:00"])),  # naive: taken as UTC
        pd.Series(pd.to_datetime(["2025-01-01 12:00"], utc=True)),
        pd.Series(pd.to_datetime(["2025-01-01 13:00"])).dt.tz_localize("Europe/Paris"),
        pd.Series(pd.to_datetime(["2025-01-01 12:00"])).dt.as_unit("s"),
        pd.Series(["2025-01-01T12:00:00Z"]),
    ],
)
def test_timestamps_of_every_flavour_become_the_same_instant(stamps):
    assert to_epoch_days(stamps, 1) == pytest.approx([NOON])


def test_missing_timestamps_become_nan():
    days = to_epoch_days(pd.Series(pd.to_datetime(["2025-01-01 12:00", None])), 2)
    assert days[0] == pytest.approx(NOON)
    assert np.isnan(days[1])


def test_interactions_frame_fills_defaults_from_database_rows():
    rows = [
        {
            "user_id": 1,
            "product_id": 7,
            "kind": "like",
            "timestamp": datetime(2025, 1, 1, tzinfo=UTC),
        },
        {
            "user_id": 1,
            "product_id": 8,
            "kind": "rating",
            "value": 4,
            "timestamp": datetime(2025, 1, 2),
        },
    ]
    frame = interactions_frame(rows)
    assert list(frame.columns) == ["user_id", "product_id", "kind", "value", "timestamp"]
    assert frame["value"].tolist() == [1.0, 4.0]
    assert str(frame["timestamp"].dt.tz) == "UTC"


def test_products_frame_adds_missing_text_columns():
    frame = products_frame([{"product_id": 1, "name": "Kettle"}])
    assert {"description", "category", "brand", "price"} <= set(frame.columns)


def test_history_without_value_or_timestamp_columns_is_accepted(engine, shop):
    _, products = shop
    bare = pd.DataFrame({"product_id": products["product_id"][:3], "kind": "purchase"})
    recommended = engine.recommend(bare, n=5)
    assert len(recommended) == 5
    assert not {r.product_id for r in recommended} & set(bare["product_id"])


def test_history_with_an_unknown_kind_is_rejected(engine):
    with pytest.raises(ValueError, match="unknown interaction kinds"):
        engine.recommend(history([(1, "stare")]))


def test_pair_similarity_matches_the_sparse_product(shop):
    _, products = shop
    model = ContentModel().fit(products)
    a, b = np.array([0, 5, 17, 33]), np.array([2, 5, 40])
    expected = (model.item_vectors_[a] @ model.item_vectors_[b].T).toarray()
    assert np.allclose(model.pair_similarity(a, b), expected, atol=1e-6)
    square = (model.item_vectors_[a] @ model.item_vectors_[a].T).toarray()
    assert np.allclose(model.pair_similarity(a), square, atol=1e-6)


def test_without_timestamps_the_ranker_learns_from_a_random_holdout(shop):
    interactions, products = shop
    undated = interactions.assign(timestamp=pd.NaT)
    engine = HybridRecommender(random_state=0).fit(undated, products)
    assert engine.metadata_["ranker"]["folds"] == ["random"]
    assert engine.metadata_["ranker"]["n_users"] > 0


def test_a_small_shop_widens_its_time_holdout_until_enough_shoppers_are_in_it(shop):
    interactions, products = shop
    engine = HybridRecommender(random_state=0, validation_fraction=0.02).fit(interactions, products)
    folds = engine.metadata_["ranker"]["folds"]
    assert folds[0] == "time" and folds[-1] == "random"
    assert engine.metadata_["ranker"]["n_users"] >= 40


def test_validation_rows_say_which_protocol_labelled_them_and_a_request_ranks_the_future(
    shop, engine
):
    interactions, _ = shop
    events = encode_events(interactions, engine.product_ids_)
    table = kind_weight_table(DEFAULT_KIND_WEIGHTS)
    built = {}
    for holdout in (time_holdouts(events, 0.2)[0], random_holdout(events, 0.25, 0)):
        part = validation_set(
            holdout,
            engine.content_,
            engine.catalog_,
            engine._source_params(),
            (1, 2),
            table,
            engine.recency_half_life_days,
            1000,
            0,
        )
        built[holdout.protocol] = part
    assert (built["time"].features[:, RANDOM_GAP_COLUMN] == 0).all()
    assert (built["random"].features[:, RANDOM_GAP_COLUMN] == 1).all()
    served = built["random"].as_served()
    assert (served.features[:, RANDOM_GAP_COLUMN] == 0).all()
    others = np.arange(len(FEATURES)) != RANDOM_GAP_COLUMN
    assert np.array_equal(
        served.features[:, others], built["random"].features[:, others], equal_nan=True
    )
    shopper = engine.shopper(history([(0, "purchase"), (5, "like")]))
    blocked = np.zeros(len(engine.product_ids_), dtype=bool)
    blocked[shopper.history_items] = True
    popular = np.argsort(-engine.sources_.trending_, kind="stable")
    request = candidate_features(
        shopper, engine.sources_, engine.catalog_, blocked, int(blocked.sum()), popular
    )
    assert len(request.items) and (request.features[:, RANDOM_GAP_COLUMN] == 0).all()


def test_event_counted_taste_follows_how_often_a_shopper_comes_back_to_a_category(engine):
    # Twenty views of one kitchen product against one purchase each of two garden products: weighed
    # per product (the log of each product's weighted events) the garden leads; counted per event the
    # kitchen does. The two taste sources disagree, and the ranker sees both.
    mine = history([(0, "view")] * 20 + [(1, "purchase"), (6, "purchase")])
    shopper = engine.shopper(mine)
    sources = engine.sources_
    kitchen, garden = sources.category_codes_[0], sources.category_codes_[1]
    weighed, counted = sources.category_shares(shopper), sources.event_shares(shopper)
    assert weighed[garden] > weighed[kitchen]
    assert counted[kitchen] > counted[garden]
    assert np.isclose(counted.sum(), 1.0)
    scores = sources.score(shopper, only={"taste", "taste_events"})
    kitchen_item, garden_item = 5, 11  # neither touched; same categories as products 0 and 1
    assert engine.catalog_.categories[kitchen_item] == engine.catalog_.categories[0]
    assert engine.catalog_.categories[garden_item] == engine.catalog_.categories[1]
    relative_kitchen = scores["taste_events"][kitchen_item] / scores["taste_events"][garden_item]
    assert relative_kitchen > scores["taste"][kitchen_item] / scores["taste"][garden_item]
