"""EASE's penalty chosen on the fit's holdouts: what the search tries, keeps and serves."""

from __future__ import annotations

import pandas as pd

from shop.recommend import HybridRecommender
from shop.recommend.ease_penalty import LARGEST_SCALE, SMALLEST_SCALE, choose_ease_scale
from shop.recommend.frames import encode_events
from shop.recommend.tuning import random_holdouts, time_holdouts


def test_the_search_keeps_the_penalty_that_ranks_the_held_out_products_best(shop):
    interactions, products = shop
    events = encode_events(interactions, pd.Index(products["product_id"]))
    holdouts = time_holdouts(events, 0.2) + random_holdouts(events, 0.25, 0, 60)
    scale, report = choose_ease_scale(holdouts, 1.0, 6000, 1200.0, 0)
    assert report["protocols"] == ["time", "random"]
    tried = {float(s): values for s, values in report["ndcg@10"].items()}
    assert 1.0 in tried and len(tried) >= 2  # the default and at least one neighbour
    assert all(SMALLEST_SCALE <= s <= LARGEST_SCALE for s in tried)
    best = [max(v[j] for v in tried.values()) for j in range(2)]
    relative = {s: sum(v[j] / best[j] for j in range(2)) for s, v in tried.items()}
    assert relative[scale] == max(relative.values())


def test_the_served_ease_uses_the_chosen_penalty(engine):
    chosen = engine.metadata_["sources"]["ease_penalty"]
    assert engine.sources_.params.ease_l2_scale == chosen["scale"]
    assert engine.sources_.ease_.l2_scale == chosen["scale"]


def test_without_holdouts_the_default_penalty_stays(shop):
    interactions, products = shop
    engine = HybridRecommender(random_state=0, ranker="fixed").fit(interactions, products)
    assert engine.sources_.ease_.l2_scale == 1.0
