"""The catalogue as CSV: export every product, and import by SKU all or nothing, with a dry run.

An import reads and checks every line before it writes anything; one bad line and nothing is
imported, and the answer names each bad line (up to ``MAX_ERRORS``) with its reason. A good file
becomes a :class:`Plan` (what would be created, what would change, field by field), which the dry
run shows and :func:`apply` writes in the caller's transaction: new products and changed fields with
executemany statements, stock through :func:`shop.services.stock.import_counts` (``import``
movements), and one ``catalogue.import`` audit entry. Unknown categories are created.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import insert, select, update

from shop.extensions import db
from shop.models import Category, Product, utcnow
from shop.services import audit, products, stock
from shop.services.analytics import FORMULA_STARTS, neutralise_cell
from shop.services.caches import forget_shop_figures

COLUMNS = (
    "sku",
    "name",
    "description",
    "category",
    "brand",
    "price",
    "stock",
    "low_stock_threshold",
    "listed",
)
REQUIRED = ("sku", "name", "price")
MAX_ERRORS = 20
TRUE_WORDS = {"yes", "true", "1"}
FALSE_WORDS = {"no", "false", "0"}
SKU_RE = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
LIMITS = {"name": 200, "description": 5000, "category": 80, "brand": 80}


class CatalogueError(ValueError):
    """A file that cannot be imported; ``errors`` lists (line number, reason), first lines first."""

    def __init__(self, errors: list[tuple[int, str]], total: int | None = None):
        self.errors = errors[:MAX_ERRORS]
        self.total = total if total is not None else len(errors)
        first = f"line {errors[0][0]}: {errors[0][1]}" if errors else "no lines"
        super().__init__(f"{self.total} bad line(s); {first}")


@dataclass(frozen=True)
class Line:
    """One checked CSV line; None means the column was absent (or the cell empty where allowed)."""

    number: int
    sku: str
    name: str
    description: str | None
    category: str | None
    brand: str | None
    price: Decimal
    stock: int | None
    has_stock: bool
    low_stock_threshold: int | None
    has_threshold: bool
    listed: bool | None


@dataclass
class Plan:
    creates: list[Line] = field(default_factory=list)
    # (product id, line, {field: (before, after)}) for products whose fields would change.
    updates: list[tuple[int, Line, dict[str, tuple[object, object]]]] = field(default_factory=list)
    unchanged: int = 0
    new_categories: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.creates),
            "updated": len(self.updates),
            "unchanged": self.unchanged,
            "categories_created": len(self.new_categories),
        }


# --- Export ----------------------------------------------------------------------------------


def export_csv() -> str:
    """Every product as CSV text (RFC 4180 line ends), formula-like cells neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    rows = db.session.execute(
        select(
            Product.sku,
            Product.name,
            Product.description,
            Category.name,
            Product.brand,
            Product.price,
            Product.stock,
            Product.low_stock_threshold,
            Product.listed,
        )
        .outerjoin(Category, Category.id == Product.category_id)
        .order_by(Product.sku)
    )
    for sku, name, description, category, brand, price, units, threshold, listed in rows:
        writer.writerow(
            [
                neutralise_cell(value)
                for value in (
                    sku,
                    name,
                    description or "",
                    category or "",
                    brand or "",
                    f"{Decimal(price):.2f}",
                    "" if units is None else units,
                    "" if threshold is None else threshold,
                    "yes" if listed else "no",
                )
            ]
        )
    return out.getvalue()


# --- Reading and checking ---------------------------------------------------------------------


def _cell(row: dict, name: str) -> str | None:
    """The cell's text, trimmed, with the export's formula guard (a leading ') taken off."""
    value = row.get(name)
    if value is None:
        return None
    value = "".join(ch for ch in value if ch.isprintable() or ch in "\n\t").strip()
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        value = value[1:]
    return value


def _whole(text: str, what: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(f"{what} must be a whole number, not {text[:20]!r}.")
    value = int(text)
    if value < 0:
        raise ValueError(f"{what} cannot be negative.")
    if value > products.MAX_UNITS:
        raise ValueError(f"{what} must be at most {products.MAX_UNITS:,}.")
    return value


def _check(number: int, row: dict, columns: set[str]) -> Line:
    sku = _cell(row, "sku") or ""
    if not sku:
        raise ValueError("the SKU is empty.")
    if not SKU_RE.match(sku):
        raise ValueError("the SKU must be 1 to 32 letters, digits, dots, dashes or underscores.")
    name = _cell(row, "name") or ""
    if not name:
        raise ValueError("the name is empty.")
    texts = {key: _cell(row, key) if key in columns else None for key in LIMITS}
    texts["name"] = name
    for key, limit in LIMITS.items():
        if texts[key] is not None and len(texts[key]) > limit:
            raise ValueError(f"the {key} is longer than {limit} characters.")
    try:
        price = products.parse_price(_cell(row, "price"))
    except ValueError as exc:
        raise ValueError(f"price: {exc}") from None
    units = threshold = None
    raw_stock = _cell(row, "stock") if "stock" in columns else None
    if raw_stock:
        units = _whole(raw_stock, "stock")
    raw_threshold = _cell(row, "low_stock_threshold") if "low_stock_threshold" in columns else None
    if raw_threshold:
        threshold = _whole(raw_threshold, "low_stock_threshold")
    listed = None
    raw_listed = (_cell(row, "listed") or "").lower() if "listed" in columns else ""
    if raw_listed in TRUE_WORDS:
        listed = True
    elif raw_listed in FALSE_WORDS:
        listed = False
    elif raw_listed:
        raise ValueError(f"listed must be yes/no, true/false or 1/0, not {raw_listed[:20]!r}.")
    return Line(
        number=number,
        sku=sku,
        name=name,
        description=texts["description"],
        category=texts["category"],
        brand=texts["brand"],
        price=price,
        stock=units,
        has_stock="stock" in columns,
        low_stock_threshold=threshold,
        has_threshold="low_stock_threshold" in columns,
        listed=listed,
    )


def read_lines(data: bytes) -> list[Line]:
    """Every line checked, or CatalogueError naming each bad one (line 1 is the header)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CatalogueError([(1, "the file is not UTF-8 text.")]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CatalogueError([(1, f"the header lacks the column(s) {', '.join(missing)}.")])
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise CatalogueError([(1, f"unknown column(s) {', '.join(unknown)[:100]}.")])
    reader.fieldnames = header
    columns = set(header)
    lines: list[Line] = []
    errors: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            number = reader.line_num
            if None in row:
                errors.append((number, "more cells than the header has columns."))
                continue
            if not any((value or "").strip() for value in row.values()):
                continue  # a blank line
            try:
                line = _check(number, row, columns)
            except ValueError as exc:
                errors.append((number, str(exc)))
                continue
            if line.sku in seen:
                errors.append((number, f"SKU {line.sku} is already on line {seen[line.sku]}."))
                continue
            seen[line.sku] = number
            lines.append(line)
    except csv.Error as exc:
        errors.append((reader.line_num, f"the CSV cannot be read ({exc})."))
    if errors:
        raise CatalogueError(errors)
    if not lines:
        raise CatalogueError([(1, "the file holds no products.")])
    return lines


# --- Planning and applying --------------------------------------------------------------------

_COMPARED = ("name", "description", "brand", "price", "low_stock_threshold", "listed")


def plan(data: bytes) -> Plan:
    """What importing ``data`` would do (CatalogueError if any line is bad); writes nothing."""
    return plan_lines(read_lines(data))


def plan_lines(lines: list[Line]) -> Plan:
    """The plan for checked lines against the database as it is now (in the caller's transaction)."""
    categories = {
        name.lower(): (cid, name)
        for cid, name in db.session.execute(select(Category.id, Category.name))
    }
    slugs = {
        slug: (cid, name)
        for cid, name, slug in db.session.execute(select(Category.id, Category.name, Category.slug))
    }
    existing = {
        row.sku: row
        for row in db.session.execute(
            select(
                Product.id,
                Product.sku,
                Product.name,
                Product.description,
                Product.brand,
                Product.price,
                Product.stock,
                Product.low_stock_threshold,
                Product.listed,
                Product.category_id,
            )
        )
    }
    result = Plan()
    new_slugs: dict[str, str] = {}

    def category_of(name: str | None) -> tuple[int | None, str]:
        if not name:
            return None, ""
        known = categories.get(name.lower()) or slugs.get(products.slugify(name))
        if known:
            return known
        slug = products.slugify(name)
        if slug not in new_slugs:
            new_slugs[slug] = name
            result.new_categories.append(name)
        return None, new_slugs[slug]

    category_names = dict(categories.values())
    by_lower = {sku.lower(): sku for sku in existing}
    clashes = [
        (line.number, f"SKU {line.sku} differs only in case from the shop's {by_lower[key]}.")
        for line in lines
        if line.sku not in existing and (key := line.sku.lower()) in by_lower
    ]
    if clashes:
        raise CatalogueError(clashes)
    for line in lines:
        category_id, category_name = category_of(line.category)
        row = existing.get(line.sku)
        if row is None:
            result.creates.append(line)
            continue
        changes: dict[str, tuple[object, object]] = {}
        for name in _COMPARED:
            new = getattr(line, name)
            if new is None and name in ("description", "brand", "listed"):
                continue  # the column is absent or the cell empty: keep what the shop has
            if name == "low_stock_threshold" and not line.has_threshold:
                continue
            old = getattr(row, name)
            if name == "price":
                old = Decimal(old).quantize(Decimal("0.01"))
            if old != new:
                changes[name] = (old, new)
        if line.category is not None and (
            category_id != row.category_id or (category_id is None and category_name)
        ):
            changes["category"] = (category_names.get(row.category_id, ""), category_name)
        if line.has_stock and line.stock != row.stock:
            changes["stock"] = (row.stock, line.stock)
        if changes:
            result.updates.append((row.id, line, changes))
        else:
            result.unchanged += 1
    return result


def _plain(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


def apply(result: Plan, *, actor=None, source: str = "") -> dict[str, int]:
    """Write the plan in the caller's transaction (flushes; the caller commits)."""
    now = utcnow()
    actor_id = actor.id if actor is not None else None
    for name in result.new_categories:
        db.session.add(Category(name=name, slug=products.slugify(name)))
    db.session.flush()
    by_slug = {slug: cid for cid, slug in db.session.execute(select(Category.id, Category.slug))}

    def category_id(name: str | None) -> int | None:
        return by_slug.get(products.slugify(name)) if name else None

    counts: list[tuple[int, int | None, int | None]] = []
    if result.creates:
        rows = [
            {
                "sku": line.sku,
                "name": line.name,
                "description": line.description or "",
                "category_id": category_id(line.category),
                "brand": line.brand or "",
                "price": line.price,
                "low_stock_threshold": line.low_stock_threshold,
                "listed": True if line.listed is None else line.listed,
                "created_at": now,
                "updated_at": now,
            }
            for line in result.creates
        ]
        db.session.execute(insert(Product), rows)
        wanted = {line.sku: line.stock for line in result.creates if line.stock is not None}
        if wanted:
            skus = list(wanted)
            ids = {}
            for start in range(0, len(skus), 5000):
                chunk = skus[start : start + 5000]
                ids.update(
                    db.session.execute(
                        select(Product.sku, Product.id).where(Product.sku.in_(chunk))
                    ).all()
                )
            counts.extend((ids[sku], None, units) for sku, units in wanted.items())
    if result.updates:
        rows = []
        for product_id, _line, changes in result.updates:
            row = {"id": product_id, "updated_at": now}
            for name, (_, new) in changes.items():
                if name == "category":
                    row["category_id"] = category_id(new)
                elif name == "stock":
                    counts.append((product_id, changes["stock"][0], new))
                else:
                    row[name] = new
            rows.append(row)
        # One executemany per set of changed columns (SQLAlchemy groups them by keys).
        db.session.execute(update(Product), rows)
    stock.import_counts(counts, actor_id=actor_id, note=f"catalogue import {source}".strip())
    summary = result.counts
    audit.record(
        "catalogue.import",
        "catalogue",
        None,
        f"Catalogue import {source}: {summary['created']} created, {summary['updated']} updated, "
        f"{summary['unchanged']} unchanged, {summary['categories_created']} categories created",
        after={
            **summary,
            "new_categories": result.new_categories[:50],
            "changed": {
                line.sku: {k: [_plain(v[0]), _plain(v[1])] for k, v in changes.items()}
                for _, line, changes in result.updates[:200]
            },
        },
        actor=actor,
    )
    db.session.flush()
    forget_shop_figures()
    return summary
