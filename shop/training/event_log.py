"""The interaction log as training reads it when it may be larger than the worker's memory.

Two bounded reads replace the one frame of every event:

* :func:`export_log` streams the whole log from the database into Parquet, chunk by chunk through a
  server-side cursor, coded the way the engine codes events (catalogue positions for products, each
  event's interest weight and day). Spark reads that file for the served ALS; this process never
  holds more than one chunk of it.
* the most recent ``SHOP_TRAIN_WINDOW_EVENTS`` interactions
  (:func:`shop.services.interactions.recent_interactions`): what the worker fits its own sources
  and the ranker's validation on.

Shoppers are written under their database ids: Spark needs some integer per shopper and nothing
else, since only item factors come back and every shopper is folded in at request time. Products
must use the engine's positions (:func:`shop.recommend.hybrid.catalogue_ids`), or the factors would
land on the wrong products.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shop.recommend.frames import implicit_weights, to_epoch_days
from shop.services.interactions import CHUNK_ROWS, interaction_chunks
from shop.training.spark_als import EventWriter


@dataclass(frozen=True)
class ExportedLog:
    """What :func:`export_log` wrote: ``rows_read`` interactions, of which ``rows`` are on products
    of the catalogue (the others are dropped, as the engine drops them), in ``chunks`` row groups."""

    path: Path
    rows_read: int
    rows: int
    chunks: int


def coded_chunk(
    frame: pd.DataFrame, product_ids: pd.Index, kind_weights: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(shopper ids, catalogue positions, interest weights, days) of one chunk of interactions.

    The weights and days are the engine's own (``implicit_weights``, ``to_epoch_days``), so Spark
    sums what ``SourceSet.fit`` would have summed for the same events.
    """
    items = product_ids.get_indexer(frame["product_id"])
    keep = items >= 0
    frame = frame.loc[keep]
    weights = implicit_weights(
        frame["kind"].to_numpy(dtype=object), frame["value"].to_numpy(dtype=float), kind_weights
    )
    days = to_epoch_days(frame["timestamp"], len(frame))
    return frame["user_id"].to_numpy(dtype=np.int64), items[keep], weights, days


def export_log(
    path: Path,
    product_ids: pd.Index,
    kind_weights: Mapping[str, float],
    chunk_rows: int = CHUNK_ROWS,
) -> ExportedLog:
    """Write every interaction to one Parquet file, ``chunk_rows`` at a time (one row group each)."""
    rows_read = chunks = 0
    with EventWriter(path) as writer:
        for frame in interaction_chunks(chunk_rows):
            rows_read += len(frame)
            chunks += 1
            writer.write(*coded_chunk(frame, product_ids, kind_weights))
    return ExportedLog(Path(path), rows_read, writer.rows, chunks)
