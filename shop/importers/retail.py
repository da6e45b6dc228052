"""Importing a real transaction log (the UCI Online Retail format) into the shop, in bulk.

The log has one row per invoice line. It becomes products (by stock code), customers (by customer
number), orders (by invoice number) with their lines, and one purchase event per line, so the engine
learns from real baskets exactly as it learns from purchases made on the site. An invoice is an old,
finished sale: its order is ``delivered``, with the history placed -> delivered at the invoice date.
Imported products keep their stock uncounted (NULL): the log says what sold, not what is on the
shelf, so they never run out until an admin sets a count.

Speed matters (the public log has 541,909 lines): all cleaning is vectorised in pandas, and rows go in
with ``db.session.execute(insert(Model), rows)`` in chunks inside one transaction, so an import either
lands completely or not at all. Re-importing a file adds nothing twice: orders are matched by invoice
number, products by SKU and customers by customer number.
"""

from __future__ import annotations

import gzip
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert, select, update

from shop.extensions import db
from shop.models import Category, Event, Order, OrderEvent, OrderLine, Product, User
from shop.services import activity
from shop.services.caches import forget_shop_figures
from shop.services.counters import recompute_product_counters

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
#: A catalogue stock code: five digits, optionally followed by letters. Everything else (POST, D, M,
#: BANK CHARGES, DOT, C2, AMAZONFEE, CRUK, PADS, gift vouchers...) is a fee or an adjustment.
PRODUCT_CODE = r"^\d{5}[A-Z]*$"
SOURCE = "import:retail"
IMPORTED_NOTE = "Imported invoice"
CHUNK = 10_000

#: Skip reasons, in the order they are checked: a row is counted under the first that applies.
SKIP_REASONS = (
    "cancellation",
    "non-product code",
    "no customer (guest order)",
    "bad quantity or price",
    "bad date",
)

#: First match wins; descriptions that match nothing land in "Gifts".
CATEGORY_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Christmas", ("christmas", "xmas", "advent", "santa", "reindeer", "snowflake", "bauble")),
    ("Bags", ("bag", "bags", "tote", "purse", "shopper")),
    (
        "Candles & Lighting",
        ("candle", "candles", "t-light", "t-lights", "tealight", "lantern", "lights", "lamp"),
    ),
    (
        "Kitchen",
        (
            "mug",
            "mugs",
            "cup",
            "cups",
            "teapot",
            "tea",
            "plate",
            "plates",
            "bowl",
            "bowls",
            "jug",
            "cake",
            "cakestand",
            "baking",
            "spoon",
            "spoons",
            "kitchen",
            "napkins",
            "lunch",
            "jar",
            "jars",
            "bottle",
            "tin",
            "tins",
            "apron",
            "coaster",
            "coasters",
            "cutlery",
            "glass",
        ),
    ),
    (
        "Stationery",
        (
            "card",
            "cards",
            "wrap",
            "paper",
            "notebook",
            "pen",
            "pens",
            "pencil",
            "pencils",
            "sticker",
            "stickers",
            "envelope",
            "envelopes",
            "tissue",
            "tissues",
            "tape",
            "journal",
            "calendar",
        ),
    ),
    (
        "Toys & Games",
        (
            "toy",
            "toys",
            "game",
            "games",
            "doll",
            "jigsaw",
            "playhouse",
            "dolly",
            "spaceboy",
            "kids",
        ),
    ),
    (
        "Jewellery",
        ("necklace", "bracelet", "earrings", "ring", "rings", "jewel", "brooch", "charm", "hair"),
    ),
    ("Garden", ("garden", "plant", "flower", "birdhouse", "bird", "watering", "pot", "pots")),
    (
        "Home Decor",
        (
            "frame",
            "clock",
            "cushion",
            "sign",
            "mirror",
            "doorstop",
            "hook",
            "hooks",
            "hanger",
            "vase",
            "decoration",
            "heart",
            "wall",
            "doormat",
            "drawer",
            "cabinet",
            "box",
            "boxes",
            "basket",
            "bunting",
        ),
    ),
)
DEFAULT_CATEGORY = "Gifts"
_WORD = re.compile(r"[a-z][a-z'-]*")
_SMALL_WORDS = frozenset({"of", "and", "the", "in", "with", "a", "an", "for", "on", "to", "or"})

Progress = Callable[[str], None]


class RetailImportError(Exception):
    """The file cannot be imported (missing, not a CSV, wrong columns); the message says which."""


@dataclass
class ImportSummary:
    rows_read: int = 0
    rows_kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    duplicate_lines_merged: int = 0
    products_created: int = 0
    products_updated: int = 0
    customers_created: int = 0
    orders_created: int = 0
    orders_already_present: int = 0
    order_lines_created: int = 0
    events_created: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """The summary as the CLI prints it."""
        out = [
            f"Rows read              {self.rows_read:>10,}",
            f"Rows kept              {self.rows_kept:>10,}",
        ]
        for reason in SKIP_REASONS:
            out.append(f"  skipped: {reason:<27}{self.skipped.get(reason, 0):>8,}")
        out += [
            f"Duplicate lines merged {self.duplicate_lines_merged:>10,}",
            f"Products created       {self.products_created:>10,}",
            f"Products updated       {self.products_updated:>10,}",
            f"Customers created      {self.customers_created:>10,}",
            f"Orders created         {self.orders_created:>10,}",
            f"Orders already present {self.orders_already_present:>10,}",
            f"Order lines created    {self.order_lines_created:>10,}",
            f"Purchase events        {self.events_created:>10,}",
            f"Seconds                {self.seconds:>10.1f}",
        ]
        return out


# --- text helpers -----------------------------------------------------------------------------


def nice_title(text: str) -> str:
    """'SET OF 3 CAKE TINS PANTRY DESIGN' -> 'Set of 3 Cake Tins Pantry Design'.

    str.title() would write "Children'S" and "T-light"; this capitalises each part of a hyphenated
    word, keeps small joining words lower case and leaves tokens with digits (3D, 12PC) as they are.
    """
    words = str(text).strip().split()
    out = []
    for position, word in enumerate(words):
        if any(ch.isdigit() for ch in word):
            out.append(word.upper())
            continue
        lower = word.lower()
        if position > 0 and lower in _SMALL_WORDS:
            out.append(lower)
            continue
        out.append("-".join(part[:1].upper() + part[1:] for part in lower.split("-")))
    return " ".join(out)


def category_for(description: str) -> str:
    """A small set of shop categories from keywords in a product description."""
    words = set(_WORD.findall(str(description).lower()))
    for name, keywords in CATEGORY_RULES:
        if words.intersection(keywords):
            return name
    return DEFAULT_CATEGORY


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# --- reading and cleaning ---------------------------------------------------------------------


def read_log(path: str | Path, limit_rows: int | None = None) -> pd.DataFrame:
    """Read the CSV (gzipped or plain); refuse a missing file, a non-CSV or missing columns clearly."""
    source = Path(path)
    if not source.exists():
        raise RetailImportError(f"no such file: {source}")
    if not source.is_file():
        raise RetailImportError(f"not a file: {source}")
    with source.open("rb") as stream:
        magic = stream.read(2)
    compression = "gzip" if magic == b"\x1f\x8b" else None
    try:
        frame = pd.read_csv(
            source,
            dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": "Int64"},
            compression=compression,
            nrows=limit_rows,
            encoding="utf-8",
            encoding_errors="strict",
        )
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise RetailImportError(f"{source.name} is not a readable CSV file: {exc}") from exc
    except pd.errors.EmptyDataError as exc:
        raise RetailImportError(f"{source.name} is empty") from exc
    except (pd.errors.ParserError, ValueError, TypeError) as exc:
        # ValueError/TypeError: a column that should be a number (CustomerID) holds text.
        raise RetailImportError(
            f"{source.name} is not in the Online Retail CSV format: {exc}"
        ) from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise RetailImportError(
            f"{source.name} lacks the columns {', '.join(missing)}; expected "
            f"{', '.join(REQUIRED_COLUMNS)}"
        )
    return frame


def _by_unique(series: pd.Series, transform: Callable[[pd.Index], Any]) -> np.ndarray:
    """Apply ``transform`` to the distinct values only, then spread the result back over the rows.

    A log has hundreds of thousands of lines but only thousands of distinct codes, descriptions and
    timestamps, so cleaning the distinct values is what makes the import fast. Missing values come
    back as the transform of an empty string.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    cleaned = np.asarray(transform(pd.Index(uniques.astype(str)).append(pd.Index([""]))))
    return cleaned[codes]  # code -1 (missing) picks the appended ""


def _text(series: pd.Series, upper: bool = False) -> np.ndarray:
    def clean(values: pd.Index):
        values = values.str.strip()
        return values.str.upper() if upper else values

    return _by_unique(series, clean).astype(object)


def _parse_dates(raw: pd.Series) -> pd.Series:
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    values = pd.Index(uniques.astype(str)).str.strip()
    parsed = pd.to_datetime(values, format="%Y-%m-%d %H:%M:%S", errors="coerce", utc=True)
    retry = parsed.isna() & (values != "")
    if retry.any():  # the original UCI file writes dates as 12/1/2010 8:26
        again = pd.to_datetime(values[retry], format="mixed", errors="coerce", utc=True)
        filled = pd.Series(parsed)
        filled.iloc[np.flatnonzero(retry)] = again
        parsed = pd.DatetimeIndex(filled)
    spread = parsed.append(pd.DatetimeIndex([pd.NaT], tz="UTC"))[codes]
    return pd.Series(spread, index=raw.index)


def clean_lines(frame: pd.DataFrame, summary: ImportSummary) -> pd.DataFrame:
    """Keep real product purchases by known customers; count every skipped row under its reason."""
    invoice = pd.Series(_text(frame["InvoiceNo"], upper=True), index=frame.index)
    code = pd.Series(_text(frame["StockCode"], upper=True), index=frame.index)
    quantity = pd.to_numeric(frame["Quantity"], errors="coerce")
    price = pd.to_numeric(frame["UnitPrice"], errors="coerce")
    when = _parse_dates(frame["InvoiceDate"])
    product_code = pd.Series(
        _by_unique(frame["StockCode"], lambda v: v.str.strip().str.upper().str.match(PRODUCT_CODE)),
        index=frame.index,
    )
    checks = (
        ("cancellation", invoice.str.startswith("C") | (invoice == "")),
        ("non-product code", ~product_code.astype(bool)),
        ("no customer (guest order)", frame["CustomerID"].isna()),
        ("bad quantity or price", ~(quantity > 0) | ~(price > 0) | (quantity % 1 != 0)),
        ("bad date", when.isna()),
    )
    alive = pd.Series(True, index=frame.index)
    for reason, bad in checks:
        hit = alive & bad.fillna(True).astype(bool)
        summary.skipped[reason] = int(hit.sum())
        alive &= ~hit
    kept_rows = frame.loc[alive]
    kept = pd.DataFrame(
        {
            "invoice": invoice[alive].to_numpy(dtype=object),
            "sku": code[alive].to_numpy(dtype=object),
            "description": _text(kept_rows["Description"]),
            "quantity": quantity[alive].astype("int64").to_numpy(),
            "price": price[alive].astype("float64").to_numpy(),
            "when": when[alive].array,
            "customer": _by_unique(kept_rows["CustomerID"], lambda v: v).astype(object),
            "country": _text(kept_rows["Country"]),
        }
    )
    summary.rows_kept = len(kept)
    return kept


# --- writing ----------------------------------------------------------------------------------


def _chunks(rows: Sequence[dict[str, Any]], size: int = CHUNK) -> Iterable[Sequence[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _bulk_insert(model, rows: Sequence[dict[str, Any]]) -> None:
    """Core executemany on the model's table: the ORM's per-row bookkeeping would double the time."""
    for chunk in _chunks(rows):
        db.session.execute(insert(model.__table__), list(chunk))


def _py_datetimes(series: pd.Series) -> list[datetime]:
    """Timestamps as Python datetimes, converting each distinct invoice time once."""
    codes, uniques = pd.factorize(series)
    return np.asarray(pd.DatetimeIndex(uniques).to_pydatetime(), dtype=object)[codes].tolist()


def _category_ids(names: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(names))
    existing = dict(db.session.execute(select(Category.name, Category.id)).all())
    taken_slugs = set(db.session.scalars(select(Category.slug)).all())
    new = []
    for name in wanted:
        if name in existing:
            continue
        slug = _slug(name)
        if slug in taken_slugs:
            slug = f"{slug}-retail"
        taken_slugs.add(slug)
        new.append({"name": name, "slug": slug})
    if new:
        _bulk_insert(Category, new)
        existing = dict(db.session.execute(select(Category.name, Category.id)).all())
    return {name: existing[name] for name in wanted}


def _upsert_products(lines: pd.DataFrame, summary: ImportSummary) -> dict[str, int]:
    """Products by SKU: most common description, median price, a category from the keywords."""
    described = lines.loc[lines["description"] != "", ["sku", "description"]]
    descriptions = (
        described.value_counts(sort=True)
        .reset_index()
        .drop_duplicates("sku", keep="first")
        .set_index("sku")["description"]
    )
    grouped = lines.groupby("sku", sort=True)
    table = pd.DataFrame(
        {"price": grouped["price"].median().round(2), "first_seen": grouped["when"].min()}
    )
    table["description"] = descriptions.reindex(table.index).fillna("")
    table["name"] = [
        nice_title(d)[:200] if d else f"Product {sku}"
        for sku, d in zip(table.index, table["description"], strict=True)
    ]
    table["category"] = [category_for(d) for d in table["description"]]
    existing = dict(db.session.execute(select(Product.sku, Product.id)).all())
    fresh = table.loc[~table.index.isin(list(existing))]
    known = table.loc[table.index.isin(list(existing))]
    if len(fresh):
        categories = _category_ids(fresh["category"])
        rows = [
            {
                "sku": sku[:32],
                "name": name,
                "description": description,
                "category_id": categories[category],
                "brand": "",
                "price": float(price),
                "created_at": when.to_pydatetime(),
            }
            for sku, name, description, category, price, when in zip(
                fresh.index,
                fresh["name"],
                fresh["description"],
                fresh["category"],
                fresh["price"],
                fresh["first_seen"],
                strict=True,
            )
        ]
        _bulk_insert(Product, rows)
    if len(known):
        # An upsert refreshes what the log knows (name, description, price) and leaves the rest
        # (category, images, counters) as the shop has it.
        updates = [
            {"id": existing[sku], "name": name, "description": description, "price": float(price)}
            for sku, name, description, price in zip(
                known.index, known["name"], known["description"], known["price"], strict=True
            )
        ]
        for chunk in _chunks(updates):
            db.session.execute(update(Product), list(chunk))
    summary.products_created = len(fresh)
    summary.products_updated = len(known)
    return dict(db.session.execute(select(Product.sku, Product.id)).all())


def _create_customers(lines: pd.DataFrame, summary: ImportSummary) -> dict[str, int]:
    first = lines.sort_values("when", kind="stable").drop_duplicates("customer", keep="first")
    existing = dict(
        db.session.execute(
            select(User.external_id, User.id).where(User.external_id.is_not(None))
        ).all()
    )
    fresh = first.loc[~first["customer"].isin(list(existing))]
    if len(fresh):
        emails = [f"customer-{c}@retail.invalid" for c in fresh["customer"]]
        taken = set(
            db.session.scalars(select(User.email).where(User.email.like("%@retail.invalid"))).all()
        )
        rows = [
            {
                "email": email,
                "display_name": f"Customer {customer}",
                "password_hash": None,
                "is_admin": False,
                "external_id": customer,
                "country": country or None,
                "created_at": when.to_pydatetime(),
            }
            for email, customer, country, when in zip(
                emails, fresh["customer"], fresh["country"], fresh["when"], strict=True
            )
            if email not in taken
        ]
        _bulk_insert(User, rows)
        summary.customers_created = len(rows)
    return dict(
        db.session.execute(
            select(User.external_id, User.id).where(User.external_id.is_not(None))
        ).all()
    )


def _orders_and_lines(
    lines: pd.DataFrame,
    product_ids: dict[str, int],
    user_ids: dict[str, int],
    summary: ImportSummary,
    progress: Progress,
) -> None:
    # One line per (invoice, stock code): quantities add up, the price is quantity-weighted.
    lines = lines.assign(amount=lines["quantity"] * lines["price"])
    merged = lines.groupby(["invoice", "sku"], sort=False, as_index=False).agg(
        quantity=("quantity", "sum"),
        amount=("amount", "sum"),
        when=("when", "min"),
        customer=("customer", "first"),
    )
    summary.duplicate_lines_merged = len(lines) - len(merged)
    merged["unit_price"] = (merged["amount"] / merged["quantity"]).round(2)
    merged["subtotal"] = merged["unit_price"] * merged["quantity"]

    existing_refs = set(
        db.session.scalars(select(Order.external_ref).where(Order.external_ref.is_not(None))).all()
    )
    present = merged["invoice"].isin(list(existing_refs))
    summary.orders_already_present = int(merged.loc[present, "invoice"].nunique())
    merged = merged.loc[~present]
    if merged.empty:
        return
    invoices = merged.groupby("invoice", sort=False).agg(
        when=("when", "min"), customer=("customer", "first"), total=("subtotal", "sum")
    )
    invoices = invoices.sort_values("when", kind="stable")
    order_rows = [
        {
            "user_id": user_ids[customer],
            "status": "delivered",
            "total": round(float(total), 2),
            "external_ref": invoice[:32],
            "created_at": when.to_pydatetime(),
            "updated_at": when.to_pydatetime(),
        }
        for invoice, customer, total, when in zip(
            invoices.index, invoices["customer"], invoices["total"], invoices["when"], strict=True
        )
    ]
    progress(f"Inserting {len(order_rows):,} orders")
    _bulk_insert(Order, order_rows)
    summary.orders_created = len(order_rows)
    order_ids = dict(
        db.session.execute(
            select(Order.external_ref, Order.id).where(Order.external_ref.is_not(None))
        ).all()
    )
    # An invoice is a sale the shop already made: its history is placed, then delivered, both at
    # the invoice date (the log knows no other); the id keeps them in order.
    progress(f"Inserting {2 * len(order_rows):,} order events")
    histories = []
    for row in order_rows:
        order_id, when = order_ids[row["external_ref"]], row["created_at"]
        histories.append(_history(order_id, None, "placed", when))
        histories.append(_history(order_id, "placed", "delivered", when, IMPORTED_NOTE))
    _bulk_insert(OrderEvent, histories)

    merged = merged.sort_values(["when", "invoice"], kind="stable")
    order_col = merged["invoice"].map(order_ids).astype("int64").tolist()
    product_col = merged["sku"].map(product_ids).astype("int64").tolist()
    user_col = merged["customer"].map(user_ids).astype("int64").tolist()
    quantity_col = merged["quantity"].astype("int64").tolist()
    price_col = merged["unit_price"].astype("float64").tolist()
    when_col = _py_datetimes(merged["when"])

    progress(f"Inserting {len(order_col):,} order lines")
    _bulk_insert(
        OrderLine,
        [
            {"order_id": o, "product_id": p, "quantity": q, "unit_price": u}
            for o, p, q, u in zip(order_col, product_col, quantity_col, price_col, strict=True)
        ],
    )
    summary.order_lines_created = len(order_col)
    progress(f"Inserting {len(order_col):,} purchase events")
    _bulk_insert(
        Event,
        [
            {
                "user_id": u,
                "product_id": p,
                "kind": "purchase",
                "quantity": q,
                "source": SOURCE,
                "created_at": w,
            }
            for u, p, q, w in zip(user_col, product_col, quantity_col, when_col, strict=True)
        ],
    )
    summary.events_created = len(order_col)
    # Bulk inserts pass no flush: the shoppers' kept pages must still see their new history.
    activity.bump(set(user_col))


def _history(order_id: int, before: str | None, after: str, when, note: str = "") -> dict:
    return {
        "order_id": order_id,
        "from_status": before,
        "to_status": after,
        "note": note,
        "actor_id": None,
        "created_at": when,
    }


def import_retail(
    path: str | Path,
    limit_rows: int | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import an Online Retail CSV into the shop in one transaction and return what happened.

    Raises RetailImportError for a file that cannot be imported; nothing is written then.
    """
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    summary = ImportSummary()
    say(f"Reading {Path(path).name}")
    frame = read_log(path, limit_rows)
    summary.rows_read = len(frame)
    lines = clean_lines(frame, summary)
    del frame
    try:
        if not lines.empty:
            say(f"Kept {summary.rows_kept:,} of {summary.rows_read:,} rows; writing products")
            product_ids = _upsert_products(lines, summary)
            say("Writing customers")
            user_ids = _create_customers(lines, summary)
            _orders_and_lines(lines, product_ids, user_ids, summary, say)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    say("Recomputing product counters")
    recompute_product_counters()
    db.session.commit()
    forget_shop_figures()
    summary.seconds = time.perf_counter() - started
    return summary
