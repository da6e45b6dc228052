"""What the engine reads from the products frame: the per-product arrays of ``Catalog`` and the texts.

Built once per fit (and for products added since, their names); kept apart from the facade so that
``hybrid`` reads as the pipeline it runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .sources import Catalog


def text_values(
    products: pd.DataFrame, column: str, fallback: pd.Index | None = None
) -> np.ndarray:
    """A text column as str values ("" if missing), or ``fallback`` (the ids as text) where empty."""
    if column not in products.columns:
        values = pd.Series([""] * len(products)) if fallback is None else pd.Series(list(fallback))
    else:
        values = products[column].astype("string").fillna("").astype(str)
        if fallback is not None:
            values = values.where(
                values.str.len() > 0, pd.Series(list(fallback), index=values.index)
            )
    return values.to_numpy(dtype=object)


def catalog_from_products(products: pd.DataFrame, product_ids: pd.Index) -> Catalog:
    """The per-product arrays every request reads, with prices as z-scores within their category."""
    categories = text_values(products, "category")
    brands = text_values(products, "brand")
    price = (
        pd.to_numeric(products["price"], errors="coerce").to_numpy(dtype=float)
        if "price" in products.columns
        else np.full(len(products), np.nan)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        log_price = np.where(price > 0, np.log(price), np.nan)
    category_codes = pd.factorize(categories)[0].astype(np.int64)
    frame = pd.DataFrame({"c": category_codes, "p": log_price})
    grouped = frame.groupby("c")["p"]
    spread = grouped.transform("std").fillna(0.0).to_numpy()
    rel_price = (log_price - grouped.transform("mean").to_numpy()) / np.where(
        spread > 0, spread, 1.0
    )
    return Catalog(
        names=text_values(products, "name", fallback=product_ids.astype(str)),
        categories=categories,
        category_codes=category_codes,
        brand_codes=pd.factorize(brands)[0].astype(np.int64),
        log_price=log_price,
        rel_price=np.nan_to_num(rel_price),
    )
