"""The catalogue CSV: export, import by SKU with a dry run, all-or-nothing, and the command."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import AuditEntry, Category, Product, StockMovement
from tests import factories

HEADER = "sku,name,description,category,brand,price,stock,low_stock_threshold,listed\r\n"


@pytest.fixture
def as_admin(client, auth, admin_user):
    auth.login(email="admin@example.com", password="admin-password")
    return client


@pytest.fixture
def catalogue(app):
    kettle = factories.make_product("Blue Kettle", sku="KET-1", price="19.99")
    kettle.stock = 5
    factories.make_product("=HYPERLINK(evil)", category="Garden", sku="EVIL-1", price="3.00")
    mug = factories.make_product("Mug", sku="MUG-1", price="4.50")
    mug.listed = False
    db.session.commit()
    return kettle


def _state() -> list[tuple]:
    db.session.expire_all()
    rows = db.session.execute(
        select(
            Product.sku,
            Product.name,
            Product.description,
            Product.category_id,
            Product.brand,
            Product.price,
            Product.stock,
            Product.low_stock_threshold,
            Product.listed,
            Product.updated_at,
        ).order_by(Product.sku)
    )
    counts = [
        db.session.scalar(select(func.count()).select_from(m))
        for m in (Category, StockMovement, AuditEntry)
    ]
    return [tuple(r) for r in rows] + [tuple(counts)]


def _import(post, text: str, dry_run: bool, filename: str = "catalogue.csv"):
    data = {"file": (io.BytesIO(text.encode("utf-8")), filename)}
    if dry_run:
        data["dry_run"] = "y"
    return post("/admin/catalogue/import", data, content_type="multipart/form-data")


def test_the_export_lists_every_product_with_formulas_neutralised(as_admin, client, catalogue):
    response = client.get("/admin/catalogue/export.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    by_sku = {row["sku"]: row for row in rows}
    assert set(by_sku) == {"KET-1", "EVIL-1", "MUG-1"}
    assert by_sku["EVIL-1"]["name"] == "'=HYPERLINK(evil)"
    assert by_sku["KET-1"]["price"] == "19.99" and by_sku["KET-1"]["stock"] == "5"
    assert by_sku["MUG-1"]["listed"] == "no" and by_sku["MUG-1"]["stock"] == ""


def test_exporting_and_importing_the_same_file_changes_nothing(as_admin, client, post, catalogue):
    exported = client.get("/admin/catalogue/export.csv").get_data(as_text=True)
    before = _state()
    response = _import(post, exported, dry_run=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "create 0 products, change 0 products and leave 3 products as they are" in html
    response = _import(post, exported, dry_run=False)
    assert response.status_code == 302
    after = _state()
    assert after[:-1] == before[:-1]
    assert after[-1][:2] == before[-1][:2]  # no category, no stock movement
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalogue.import"))
    assert entry.after["unchanged"] == 3 and entry.after["created"] == 0


def test_a_dry_run_shows_creations_and_changes_and_changes_nothing(as_admin, post, catalogue):
    text = HEADER + (
        "KET-1,Blue Kettle,,Kitchen,Acme,21.00,8,,yes\r\n"
        "NEW-1,Garden Hose,Long and green,Outdoor,Hoser,12.5,30,4,yes\r\n"
    )
    before = _state()
    response = _import(post, text, dry_run=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Dry run: nothing was changed" in html
    assert "create 1 product, change 1 product" in html
    assert "It would create the categories Outdoor." in html
    assert "NEW-1: Garden Hose" in html
    assert "<td>KET-1</td><td>price</td><td>19.99</td><td>21.00</td>" in html
    assert "<td>KET-1</td><td>stock</td><td>5</td><td>8</td>" in html
    assert _state() == before


def test_the_real_import_creates_updates_and_writes_the_ledger(as_admin, post, catalogue):
    text = HEADER + (
        "KET-1,Blue Kettle,,Kitchen,Acme,21.00,8,,yes\r\n"
        "NEW-1,Garden Hose,Long and green,Outdoor,Hoser,12.5,30,4,true\r\n"
        "NEW-2,Trowel,,Outdoor,,3,,,0\r\n"
    )
    response = _import(post, text, dry_run=False)
    assert response.status_code == 302
    db.session.expire_all()
    kettle = db.session.scalar(select(Product).where(Product.sku == "KET-1"))
    assert str(kettle.price) == "21.00" and kettle.stock == 8
    hose = db.session.scalar(select(Product).where(Product.sku == "NEW-1"))
    assert hose.category.name == "Outdoor" and hose.stock == 30 and hose.low_stock_threshold == 4
    trowel = db.session.scalar(select(Product).where(Product.sku == "NEW-2"))
    assert trowel.stock is None and not trowel.listed and trowel.category_id == hose.category_id
    movements = db.session.execute(
        select(StockMovement.product_id, StockMovement.change, StockMovement.reason)
    ).all()
    assert sorted(movements) == sorted([(kettle.id, 3, "import"), (hose.id, 30, "import")])
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "catalogue.import"))
    assert (entry.after["created"], entry.after["updated"], entry.actor_id) == (2, 1, 1)
    page = _import(post, text, dry_run=True).get_data(as_text=True)
    assert "create 0 products, change 0 products and leave 3 products" in page


def test_one_bad_line_imports_nothing_and_every_bad_line_is_named(as_admin, post, catalogue):
    text = HEADER + (
        "NEW-1,Garden Hose,,Outdoor,,12.50,30,,yes\r\n"
        "KET-1,Blue Kettle,,Kitchen,Acme,-2,8,,yes\r\n"
        "NEW-3,Rake,,Outdoor,,1.999,,,yes\r\n"
        "NEW-4,Spade,,Outdoor,,5,-1,,yes\r\n"
        "NEW-5,Fork,,Outdoor,,5,,,maybe\r\n"
        "NEW-1,Hose again,,Outdoor,,5,,,yes\r\n"
        ",No SKU,,Outdoor,,5,,,yes\r\n"
    )
    before = _state()
    response = _import(post, text, dry_run=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was imported: 6 bad lines" in html
    assert "Line 3: price: The price cannot be negative." in html
    assert "Line 4: price: Give the price in pounds and pence" in html
    assert "Line 5: stock cannot be negative." in html
    assert "Line 6: listed must be yes/no" in html
    assert "Line 7: SKU NEW-1 is already on line 2." in html
    assert "Line 8: the SKU is empty." in html
    assert _state() == before


def test_a_new_sku_differing_only_in_case_from_a_product_is_refused(as_admin, post, catalogue):
    before = _state()
    html = _import(post, HEADER + "ket-1,Kettle,,,,5,,,yes\r\n", dry_run=True).get_data(
        as_text=True
    )
    assert "Line 2: SKU ket-1 differs only in case from the shop&#39;s KET-1." in html
    assert _state() == before


def test_a_file_without_the_required_columns_or_not_utf8_is_refused(as_admin, post, catalogue):
    before = _state()
    html = _import(post, "sku,name\r\nA,B\r\n", dry_run=False).get_data(as_text=True)
    assert "Line 1: the header lacks the column(s) price." in html
    response = post(
        "/admin/catalogue/import",
        {"file": (io.BytesIO(b"sku,name,price\r\nA,\xff\xfe,1\r\n"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "the file is not UTF-8 text." in response.get_data(as_text=True)
    assert _state() == before


def test_the_command_imports_and_dry_runs(app, runner, catalogue, tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_text(HEADER + "NEW-1,Garden Hose,,Outdoor,,12.50,30,,yes\r\n", "utf-8")
    help_text = runner.invoke(args=["import-catalogue", "--help"]).output
    assert "--dry-run" in help_text and "SKU" in help_text
    before = _state()
    result = runner.invoke(args=["import-catalogue", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1 products would be created" in result.output
    assert _state() == before
    result = runner.invoke(args=["import-catalogue", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 products were created" in result.output
    db.session.expire_all()
    assert db.session.scalar(select(Product.stock).where(Product.sku == "NEW-1")) == 30


def test_the_command_names_the_bad_lines_and_fails(app, runner, catalogue, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "NEW-1,Garden Hose,,Outdoor,,abc,30,,yes\r\n", "utf-8")
    before = _state()
    result = runner.invoke(args=["import-catalogue", str(path)])
    assert result.exit_code == 2
    assert "line 2: price: Enter the price as a number" in result.output
    assert _state() == before
