"""Saved engines come back identical, and broken files fail with a message that says what broke."""

from __future__ import annotations

import pytest

from shop.recommend import HybridRecommender, ModelLoadError, persistence


def test_save_and_load_round_trip_gives_identical_results(engine, shop, tmp_path):
    interactions, products = shop
    path = tmp_path / "models" / "engine.pkl"
    engine.save(path)
    loaded = HybridRecommender.load(path)
    mine = interactions.loc[interactions["user_id"] == 11]
    assert loaded.recommend(mine, n=10) == engine.recommend(mine, n=10)
    assert loaded.similar(products["product_id"][0]) == engine.similar(products["product_id"][0])
    assert loaded.popular(5, kind="purchase") == engine.popular(5, kind="purchase")
    assert loaded.metadata_ == engine.metadata_
    assert [p.name for p in path.parent.iterdir()] == ["engine.pkl"]  # no temp files left behind


def test_load_of_a_missing_file_says_so(tmp_path):
    with pytest.raises(ModelLoadError, match="no model file"):
        HybridRecommender.load(tmp_path / "absent.pkl")


def test_load_of_a_truncated_file_says_so(engine, tmp_path):
    path = tmp_path / "engine.pkl"
    engine.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="truncated"):
        HybridRecommender.load(path)


def test_load_of_another_format_version_says_so(engine, tmp_path, monkeypatch):
    path = tmp_path / "engine.pkl"
    monkeypatch.setattr(persistence, "FORMAT_VERSION", persistence.FORMAT_VERSION + 1)
    engine.save(path)
    monkeypatch.undo()
    with pytest.raises(ModelLoadError, match="format version"):
        HybridRecommender.load(path)


def test_load_of_a_foreign_file_says_so(tmp_path):
    path = tmp_path / "engine.pkl"
    path.write_bytes(b"not a model at all")
    with pytest.raises(ModelLoadError, match="not a saved recommender"):
        HybridRecommender.load(path)


def test_a_failed_save_leaves_the_previous_model_in_place(engine, tmp_path, monkeypatch):
    path = tmp_path / "engine.pkl"
    engine.save(path)
    before = path.read_bytes()

    def broken_replace(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(persistence.os, "replace", broken_replace)
    with pytest.raises(OSError):
        engine.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["engine.pkl"]
