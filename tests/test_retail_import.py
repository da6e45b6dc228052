"""`flask import-retail`: a real transaction log becomes products, customers, orders and purchases."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.importers.retail import (
    REQUIRED_COLUMNS,
    category_for,
    import_retail,
    nice_title,
)
from shop.models import (
    Category,
    Event,
    Order,
    OrderEvent,
    OrderLine,
    Product,
    StockMovement,
    User,
)

HEADER = list(REQUIRED_COLUMNS)
CATALOGUE = {
    "85123A": ("WHITE HANGING HEART T-LIGHT HOLDER", "2.55"),
    "71053": ("WHITE METAL LANTERN", "3.39"),
    "22423": ("REGENCY CAKESTAND 3 TIER", "12.75"),
    "85099B": ("JUMBO BAG RED RETROSPOT", "1.95"),
    "22086": ("PAPER CHAIN KIT 50'S CHRISTMAS ", "2.55"),
    "84879": ("ASSORTED COLOUR BIRD ORNAMENT", "1.69"),
    "22720": ("SET OF 3 CAKE TINS PANTRY DESIGN", "4.95"),
    "21212": ("PACK OF 72 RETROSPOT CAKE CASES", "0.55"),
    "22197": ("SMALL POPCORN HOLDER", "0.85"),
    "23203": ("JUMBO BAG DOILEY PATTERNS", "2.08"),
    "21731": ("RED TOADSTOOL LED NIGHT LIGHT", "1.65"),
    "22960": ("JAM MAKING SET WITH JARS", "4.25"),
    "22961": ("JAM MAKING SET PRINTED", "1.45"),
    "84997D": ("PINK 3 PIECE POLKADOT CUTLERY SET", "3.75"),
    "22138": ("BAKING SET 9 PIECE RETROSPOT ", "4.95"),
    "21080": ("SET/20 RED RETROSPOT PAPER NAPKINS ", "0.85"),
}
CODES = list(CATALOGUE)


def sample_rows() -> list[list[str]]:
    """Six customers with three invoices of three lines, plus every line the importer must drop."""
    rows = []
    invoice = 536400
    for c in range(6):
        customer = str(12350 + c)
        for visit in range(3):
            invoice += 1
            when = f"2011-0{1 + visit}-{10 + c:02d} 1{visit}:30:00"
            for k in range(3):
                code = CODES[(c * 3 + visit * 2 + k * 5) % len(CODES)]
                name, price = CATALOGUE[code]
                rows.append([str(invoice), code, name, str(k + 1), when, price, customer, "France"])
    special = [
        # a cancellation, and a fee code inside an otherwise good invoice
        ["C536500", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "-6", "2011-03-01 09:00:00", "2.55", "12350", "France"],
        ["536402", "POST", "POSTAGE", "1", "2011-01-10 10:30:00", "18.00", "12350", "France"],
        ["536403", "BANK CHARGES", "Bank Charges", "1", "2011-01-10 11:30:00", "15.00", "12350", "France"],
        ["536404", "gift_0001_20", "Dotcomgiftshop Gift Voucher £20.00", "1", "2011-01-11 10:30:00", "17.02", "12351", "France"],
        ["536405", "AMAZONFEE", "AMAZON FEE", "1", "2011-01-11 11:30:00", "1.00", "12351", "France"],
        # guest orders: no customer number
        ["536600", "22423", "REGENCY CAKESTAND 3 TIER", "2", "2011-04-01 12:00:00", "12.75", "", "United Kingdom"],
        ["536600", "71053", "WHITE METAL LANTERN", "1", "2011-04-01 12:00:00", "3.39", "", "United Kingdom"],
        # non-positive quantity or price
        ["536601", "22197", "SMALL POPCORN HOLDER", "0", "2011-04-02 12:00:00", "0.85", "12352", "France"],
        ["536602", "22197", "SMALL POPCORN HOLDER", "3", "2011-04-02 12:00:00", "0.00", "12352", "France"],
        # the same product twice on one invoice: one order line of 5
        ["536700", "21212", "PACK OF 72 RETROSPOT CAKE CASES", "2", "2011-05-01 08:00:00", "0.55", "12360", "Germany"],
        ["536700", "21212", "PACK OF 72 RETROSPOT CAKE CASES", "3", "2011-05-01 08:00:00", "0.55", "12360", "Germany"],
        ["536700", "22720", "SET OF 3 CAKE TINS PANTRY DESIGN", "1", "2011-05-01 08:00:00", "4.95", "12360", "Germany"],
    ]  # fmt: skip
    return rows + special


def write_csv(path, rows=None, header=HEADER, compress=False):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(sample_rows() if rows is None else rows)
    data = buffer.getvalue().encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture
def sample_csv(tmp_path):
    return write_csv(tmp_path / "retail.csv")


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_import_creates_products_customers_orders_and_purchases(app, runner, sample_csv):
    result = runner.invoke(args=["import-retail", str(sample_csv)])
    assert result.exit_code == 0, result.output
    assert count(User) == 7  # six regular customers and the German one; no guests
    assert count(Product) == len(CATALOGUE)
    assert count(Order) == 6 * 3 + 1
    assert count(OrderLine) == 6 * 3 * 3 + 2
    assert count(Event) == count(OrderLine)
    lines = result.output
    assert "Rows read                      66" in lines
    assert "Rows kept                      57" in lines
    assert "skipped: cancellation                      1" in lines
    assert "skipped: non-product code                  4" in lines
    assert "skipped: no customer (guest order)         2" in lines
    assert "skipped: bad quantity or price             2" in lines
    assert "Duplicate lines merged          1" in lines


def test_imported_rows_carry_the_logs_details(app, sample_csv):
    import_retail(sample_csv)
    customer = db.session.scalar(select(User).where(User.external_id == "12360"))
    assert customer.email == "customer-12360@retail.invalid"
    assert customer.display_name == "Customer 12360"
    assert customer.password_hash is None and customer.country == "Germany"
    assert not customer.check_password("")

    order = db.session.scalar(select(Order).where(Order.external_ref == "536700"))
    assert order.user_id == customer.id
    assert order.total == Decimal("7.70")  # 5 x 0.55 + 4.95
    assert order.created_at.replace(tzinfo=UTC) == datetime(2011, 5, 1, 8, 0, tzinfo=UTC)
    quantities = {line.product.sku: line.quantity for line in order.lines}
    assert quantities == {"21212": 5, "22720": 1}

    product = db.session.scalar(select(Product).where(Product.sku == "85123A"))
    assert product.name == "White Hanging Heart T-Light Holder"
    assert product.description == "WHITE HANGING HEART T-LIGHT HOLDER"
    assert product.price == Decimal("2.55") and product.brand == ""
    assert product.category.name == "Candles & Lighting"
    assert product.purchase_count == count_purchases(product)

    events = db.session.scalars(select(Event).where(Event.user_id == customer.id)).all()
    assert len(events) == 2
    event = events[0]
    assert event.kind == "purchase" and event.source == "import:retail"
    assert event.created_at.replace(tzinfo=UTC) == datetime(2011, 5, 1, 8, 0, tzinfo=UTC)


def test_imported_invoices_are_delivered_orders_with_their_history(app, sample_csv):
    import_retail(sample_csv)
    orders = db.session.scalars(select(Order)).all()
    assert {order.status for order in orders} == {"delivered"}
    for order in orders:
        history = [(e.from_status, e.to_status, e.created_at) for e in order.events]
        placed = order.created_at
        assert history == [(None, "placed", placed), ("placed", "delivered", placed)]
        assert order.updated_at == placed
    assert count(OrderEvent) == 2 * len(orders)
    # the log says what sold, not what is on the shelf: stock stays uncounted, no ledger rows
    assert db.session.scalar(select(func.count(Product.id)).where(Product.stock.is_not(None))) == 0
    assert count(StockMovement) == 0
    import_retail(sample_csv)  # again: nothing twice
    assert count(OrderEvent) == 2 * len(orders)


def count_purchases(product) -> int:
    return db.session.scalar(
        select(func.count(Event.id)).where(Event.product_id == product.id, Event.kind == "purchase")
    )


def test_reimporting_the_same_file_adds_nothing(app, runner, sample_csv):
    import_retail(sample_csv)
    before = {model: count(model) for model in (User, Product, Order, OrderLine, Event, Category)}
    result = runner.invoke(args=["import-retail", str(sample_csv)])
    assert result.exit_code == 0, result.output
    assert {model: count(model) for model in before} == before
    assert "Orders created                  0" in result.output
    assert "Orders already present         19" in result.output
    product = db.session.scalar(select(Product).where(Product.sku == "22423"))
    assert product.purchase_count == count_purchases(product)


def test_gzipped_log_imports_like_the_plain_one(app, tmp_path):
    path = write_csv(tmp_path / "retail.csv.gz", compress=True)
    summary = import_retail(path)
    assert summary.orders_created == 19
    assert summary.rows_kept == 57


def test_limit_rows_reads_only_the_head_of_the_file(app, runner, sample_csv):
    result = runner.invoke(args=["import-retail", str(sample_csv), "--limit-rows", "8"])
    assert result.exit_code == 0, result.output
    assert count(Order) == 3  # two whole invoices and the head of the third
    assert count(OrderLine) == 8


def test_missing_file_is_a_clear_error(app, runner, tmp_path):
    result = runner.invoke(args=["import-retail", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "no such file" in result.output
    assert count(Product) == 0


def test_wrong_columns_are_named_in_the_error(app, runner, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order,sku,qty\n1,A,2\n")
    result = runner.invoke(args=["import-retail", str(path)])
    assert result.exit_code == 2
    assert "lacks the columns InvoiceNo, StockCode" in result.output
    assert count(Product) == 0


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 4, gzip.compress(bytes(range(256)) * 4), b"", b"\x1f\x8bnot really gzip"],
)
def test_a_file_that_is_not_a_csv_is_refused(app, runner, tmp_path, content):
    path = tmp_path / "picture.csv"
    path.write_bytes(content)
    result = runner.invoke(args=["import-retail", str(path)])
    assert result.exit_code == 2, result.output
    assert "Error: " in result.output
    assert count(Product) == 0 and count(Order) == 0


def test_engine_trains_and_recommends_shop_products_from_imported_orders(app, sample_csv):
    from shop.services.recommendations import recommended_for
    from shop.training.runs import train_and_publish

    import_retail(sample_csv)
    run = train_and_publish(app, evaluate=False)
    assert run.status == "succeeded", run.error
    assert run.n_products == len(CATALOGUE)

    customer = db.session.scalar(select(User).where(User.external_id == "12350"))
    shown = recommended_for(customer.id, n=3)
    assert shown.model_version == run.model_version
    assert len(shown.items) == 3
    bought = set(db.session.scalars(select(Event.product_id).where(Event.user_id == customer.id)))
    for item in shown.items:
        assert isinstance(item.product, Product)  # string SKUs came back as the shop's products
        assert item.product.id not in bought


@pytest.mark.parametrize(
    ("raw", "nice"),
    [
        ("WHITE HANGING HEART T-LIGHT HOLDER", "White Hanging Heart T-Light Holder"),
        ("SET OF 3 CAKE TINS PANTRY DESIGN", "Set of 3 Cake Tins Pantry Design"),
        ("CHILDREN'S APRON DOLLY GIRL ", "Children's Apron Dolly Girl"),
        ("3D HEARTS HONEYCOMB PAPER GARLAND", "3D Hearts Honeycomb Paper Garland"),
    ],
)
def test_names_are_title_cased_nicely(raw, nice):
    assert nice_title(raw) == nice


@pytest.mark.parametrize(
    ("description", "category"),
    [
        ("JUMBO BAG RED RETROSPOT", "Bags"),
        ("PAPER CHAIN KIT 50'S CHRISTMAS", "Christmas"),
        ("REGENCY CAKESTAND 3 TIER", "Kitchen"),
        ("ROSES REGENCY TEACUP AND SAUCER", "Gifts"),
        ("WHITE METAL LANTERN", "Candles & Lighting"),
        ("PARTY BUNTING", "Home Decor"),
        ("SMALL POPCORN HOLDER", "Gifts"),
    ],
)
def test_categories_come_from_keywords(description, category):
    assert category_for(description) == category
