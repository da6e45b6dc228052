"""Training on a log larger than the worker's memory: the streamed reads and the recent window.

The reads are checked against `all_interactions` (the one-frame read they replace) on SQLite and
on PostgreSQL; the Spark fit over the export is in tests/test_training_spark.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import event

from shop.extensions import db
from shop.recommend.frames import DEFAULT_KIND_WEIGHTS, implicit_weights, to_epoch_days
from shop.recommend.hybrid import catalogue_ids
from shop.services.interactions import (
    all_interactions,
    interaction_chunks,
    interaction_count,
    products_frame,
    recent_interactions,
)
from shop.training import runs
from tests.conftest import ON_POSTGRES
from tests.test_training import build_small_shop


@pytest.fixture
def small_shop(app):
    return build_small_shop()


def rows_of(frame: pd.DataFrame) -> list[tuple]:
    """The interactions as sorted plain tuples, whatever order and dtypes they came in."""
    return sorted(
        zip(
            frame["user_id"].astype(int),
            frame["product_id"].astype(int),
            frame["kind"].astype(str),
            frame["value"].astype(float),
            frame["timestamp"].astype("int64") // 10**3,  # to the microsecond
            strict=True,
        )
    )


def test_the_log_streams_in_chunks_through_a_server_side_cursor(app, small_shop):
    streamed: list[bool] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "UNION ALL" in statement:
            streamed.append(bool(context.execution_options.get("stream_results")))
            if ON_POSTGRES:  # psycopg's named cursor: the server hands rows over as asked
                streamed.append(type(cursor).__name__ == "ServerCursor")

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        chunks = list(interaction_chunks(7))
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)

    whole = all_interactions()
    assert len(whole) > 100
    assert [len(chunk) for chunk in chunks[:-1]] == [7] * (len(chunks) - 1)
    assert 1 <= len(chunks[-1]) <= 7 and len(chunks) == math.ceil(len(whole) / 7)
    assert rows_of(pd.concat(chunks)) == rows_of(whole)
    assert list(chunks[0].dtypes.astype(str)) == list(whole.dtypes.astype(str))
    assert streamed and all(streamed)
    assert interaction_count() == len(whole)


def test_the_export_writes_the_whole_log_coded_as_the_engine_codes_it(app, small_shop, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")  # the spark extra
    from shop.training.event_log import export_log

    products = products_frame()
    catalogue = catalogue_ids(products)
    dropped = int(catalogue[-1])  # a product the catalogue no longer lists: its events are dropped
    listed = catalogue[:-1]

    exported = export_log(tmp_path / "log.parquet", listed, DEFAULT_KIND_WEIGHTS, chunk_rows=7)

    whole = all_interactions()
    kept = whole[whole["product_id"] != dropped]
    assert exported.rows_read == len(whole) and exported.rows == len(kept) < len(whole)
    assert exported.chunks == math.ceil(len(whole) / 7)
    parquet = pq.ParquetFile(exported.path)
    assert parquet.metadata.num_rows == len(kept)
    assert 1 < parquet.num_row_groups <= exported.chunks
    assert max(parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)) <= 7
    written = parquet.read().to_pandas()
    expected = pd.DataFrame(
        {
            "user": kept["user_id"].to_numpy(),
            "item": listed.get_indexer(kept["product_id"]),
            "weight": implicit_weights(
                kept["kind"].to_numpy(dtype=object), kept["value"].to_numpy(), DEFAULT_KIND_WEIGHTS
            ),
            "day": to_epoch_days(kept["timestamp"], len(kept)),
        }
    )
    order = ["user", "item", "day", "weight"]
    got = written.sort_values(order, ignore_index=True)
    want = expected.sort_values(order, ignore_index=True)
    assert (got["user"].to_numpy() == want["user"].to_numpy()).all()
    assert (got["item"].to_numpy() == want["item"].to_numpy()).all()
    assert np.allclose(got["weight"], want["weight"]) and np.allclose(got["day"], want["day"])


def test_the_recent_window_is_the_newest_interactions_oldest_first(app, small_shop):
    whole = all_interactions()
    newest = whole.sort_values("timestamp", kind="stable").tail(40)

    window = recent_interactions(40, chunk_rows=7)

    assert len(window) == 40
    assert rows_of(window) == rows_of(newest)
    assert window["timestamp"].is_monotonic_increasing
    assert window["timestamp"].min() == newest["timestamp"].min()
    assert len(recent_interactions(10**6)) == len(whole)  # a window past the log is the log


def test_the_window_defaults_to_the_whole_log_locally_and_is_bounded_on_spark(app):
    assert runs.resolve_window(app, "local") == 0
    assert runs.resolve_window(app, "spark") == runs.SPARK_WINDOW_EVENTS == 2_000_000
    app.config["SHOP_TRAIN_WINDOW_EVENTS"] = 0
    assert runs.resolve_window(app, "spark") == 0
    app.config["SHOP_TRAIN_WINDOW_EVENTS"] = 5000
    assert runs.resolve_window(app, "local") == 5000
    assert runs.resolve_window(app, "local", 300) == 300
    app.config["SHOP_TRAIN_WINDOW_EVENTS"] = -1
    with pytest.raises(ValueError, match="0 \\(the whole log\\) or more"):
        runs.resolve_window(app, "local")


def test_train_with_a_window_fits_on_the_newest_interactions_and_says_so(
    app, runner, client, auth, admin_user, small_shop
):
    total = interaction_count()

    result = runner.invoke(args=["train", "--no-evaluate", "--window-events", "200"])

    assert result.exit_code == 0, result.output
    assert "Reading the latest 200 interactions" in result.output
    assert f"Window          the latest 200 of {total:,} interactions" in result.output
    engine = app.extensions["recommender_store"].get()
    assert engine.metadata_["n_interactions"] == 200
    assert engine.metadata_["training_log"] == {
        "window_limit": 200,
        "window_events": 200,
        "log_events": total,
        "als_events": 200,
    }
    history = all_interactions()
    history = history[history["user_id"] == small_shop["users"][0].id]
    assert len(engine.recommend(history, n=5)) == 5
    auth.login(email="admin@example.com", password="admin-password")
    page = client.get("/admin/model").get_data(as_text=True)
    assert f"Fitted on the latest 200 of the {total:,} interactions in the log" in page


def test_a_negative_window_is_refused_before_anything_runs(app, runner, small_shop):
    app.config["SHOP_TRAIN_WINDOW_EVENTS"] = -5
    result = runner.invoke(args=["train"])
    assert result.exit_code == 2 and "the training window must be 0" in result.output
    assert runs.active_run() is None
