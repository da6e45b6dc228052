"""Products and categories in the admin area: create, edit, hide, stock, filters, who may."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shop.extensions import db
from shop.models import AuditEntry, Category, Product, StockMovement
from tests import factories


@pytest.fixture
def as_admin(client, auth, admin_user):
    auth.login(email="admin@example.com", password="admin-password")
    return client


def _product_form(**overrides) -> dict:
    kitchen = factories.make_category("Kitchen")
    data = {
        "name": "Copper Kettle",
        "sku": "KET-1",
        "description": "Boils water beautifully.",
        "category": str(kitchen.id),
        "brand": "Acme",
        "price": "24.50",
        "stock": "7",
        "low_stock_threshold": "",
        "listed": "y",
    }
    data.update(overrides)
    return data


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_an_admin_creates_a_product_with_stock_a_ledger_row_and_an_audit_entry(as_admin, post):
    response = post("/admin/products/new", _product_form(), follow_redirects=True)
    assert response.status_code == 200
    assert "Copper Kettle" in response.get_data(as_text=True)
    product = db.session.scalar(select(Product).where(Product.sku == "KET-1"))
    assert product.stock == 7 and product.listed and str(product.price) == "24.50"
    movement = db.session.scalar(select(StockMovement))
    assert (movement.reason, movement.change, movement.actor_id) == ("initial", 7, 1)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "product.create"))
    assert entry.after["sku"] == "KET-1" and entry.actor_email == "admin@example.com"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price", "-1", "The price cannot be negative."),
        ("price", "1.999", "at most 2 decimal places"),
        ("price", "abc", "Enter the price as a number"),
        ("price", "\u0661\u0662", "Enter the price as a number"),
        ("price", "1e3", "Enter the price as a number"),
        ("price", "", "Give a price."),
        ("stock", "-3", "Stock cannot be negative."),
        ("stock", "2.5", "Stock must be a whole number"),
        ("name", "   ", "Give the product a name."),
        ("category", "99999", "Choose one of the shop&#39;s categories."),
        ("sku", "has space", "Use letters, digits"),
    ],
)
def test_bad_input_is_refused_next_to_its_field_and_stores_nothing(
    as_admin, post, field, value, message
):
    before = _count(Product)
    response = post("/admin/products/new", _product_form(**{field: value}))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert f'id="{field}-error"' in html
    assert _count(Product) == before
    assert _count(AuditEntry) == 0 and _count(StockMovement) == 0


def test_a_duplicate_sku_is_refused_but_a_product_keeps_its_own(as_admin, post):
    other = factories.make_product("Teapot", sku="POT-1")
    mine = factories.make_product("Mug", sku="MUG-1")
    response = post(f"/admin/products/{mine.id}/edit", _product_form(sku="pot-1", name="Mug"))
    assert response.status_code == 422
    assert "Another product already has this SKU." in response.get_data(as_text=True)
    response = post(f"/admin/products/{mine.id}/edit", _product_form(sku="MUG-1", name="Mug"))
    assert response.status_code == 302
    assert db.session.get(Product, other.id).sku == "POT-1"


def test_editing_audits_only_the_changed_fields_and_hiding_takes_a_product_off_the_shop(
    as_admin, post, client
):
    product = factories.make_product("Garden Gnome", category="Garden", price="9.99")
    form = _product_form(
        name="Garden Gnome",
        sku=product.sku,
        category=str(product.category_id),
        price="12.00",
        stock="",
        description=product.description,
    )
    form.pop("listed")  # unticked: hidden
    response = post(f"/admin/products/{product.id}/edit", form, follow_redirects=True)
    assert "Saved:" in response.get_data(as_text=True)
    db.session.expire_all()
    product = db.session.get(Product, product.id)
    assert not product.listed and str(product.price) == "12.00"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "product.update"))
    assert set(entry.after) == {"price", "listed"}
    assert entry.before["price"] == "9.99" and entry.after["price"] == "12.00"
    listing = client.get("/admin/products?listed=hidden").get_data(as_text=True)
    assert "Garden Gnome" in listing and "Hidden" in listing


def test_a_stock_adjustment_writes_a_ledger_row_and_an_audit_row(as_admin, post):
    product = factories.make_product("Lamp")
    product.stock = 4
    db.session.commit()
    response = post(
        f"/admin/products/{product.id}/stock",
        {"change": "-3", "note": "two broken in transit"},
        follow_redirects=True,
    )
    assert "is now 1" in response.get_data(as_text=True)
    movement = db.session.scalar(select(StockMovement))
    assert (movement.change, movement.stock_after, movement.reason) == (-3, 1, "adjust")
    assert movement.note == "two broken in transit"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "stock.adjust"))
    assert entry.before == {"stock": 4} and entry.after["stock"] == 1


def test_a_stock_adjustment_below_zero_is_refused_and_changes_nothing(as_admin, post):
    product = factories.make_product("Lamp")
    product.stock = 2
    db.session.commit()
    response = post(f"/admin/products/{product.id}/stock", {"change": "-5"})
    assert response.status_code == 409
    assert "cannot remove 5" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Product, product.id).stock == 2
    assert _count(StockMovement) == 0 and _count(AuditEntry) == 0


def test_the_low_and_out_filters_and_the_stock_column(as_admin, client):
    low = factories.make_product("Low Lamp")
    out = factories.make_product("Gone Lamp")
    plenty = factories.make_product("Many Lamps")
    uncounted = factories.make_product("Any Lamp")
    low.stock, out.stock, plenty.stock = 3, 0, 50
    db.session.commit()
    html = client.get("/admin/products").get_data(as_text=True)
    assert "Only 3 left" in html and "Out of stock" in html and "not counted" in html
    low_page = client.get("/admin/products?stock=low").get_data(as_text=True)
    assert "Low Lamp" in low_page and "Gone Lamp" not in low_page
    assert "Many Lamps" not in low_page and uncounted.name not in low_page
    out_page = client.get("/admin/products?stock=out").get_data(as_text=True)
    assert "Gone Lamp" in out_page and "Low Lamp" not in out_page
    found = client.get("/admin/products?q=gone").get_data(as_text=True)
    assert "Gone Lamp" in found and "Low Lamp" not in found
    assert client.get("/admin/products?q=%25&category=99999999999&page=x").status_code == 200


def test_categories_are_created_and_renamed_and_keep_their_products(as_admin, post, client):
    response = post("/admin/categories", {"name": "Home & Garden"}, follow_redirects=True)
    assert "Home &amp; Garden" in response.get_data(as_text=True)
    category = db.session.scalar(select(Category).where(Category.name == "Home & Garden"))
    assert category.slug == "home-garden"
    assert post("/admin/categories", {"name": "home & garden"}).status_code == 422
    assert post("/admin/categories", {"name": ""}).status_code == 422
    factories.make_product("Watering Can", category=category)
    response = post(
        f"/admin/categories/{category.id}/rename",
        {f"c{category.id}-name": "Outdoor Living"},
        follow_redirects=True,
    )
    assert "is now “Outdoor Living”" in response.get_data(as_text=True)
    db.session.expire_all()
    category = db.session.get(Category, category.id)
    assert category.slug == "outdoor-living" and len(category.products) == 1
    assert "Watering Can" in client.get("/search?q=outdoor+living").get_data(as_text=True)
    entries = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert entries == ["category.create", "category.rename"]


def test_a_rename_to_an_existing_name_is_refused_next_to_the_field(as_admin, post):
    kitchen = factories.make_category("Kitchen")
    factories.make_category("Garden")
    response = post(f"/admin/categories/{kitchen.id}/rename", {f"c{kitchen.id}-name": "Garden"})
    assert response.status_code == 422
    assert "A category with this name already exists." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/products"),
        ("GET", "/admin/products/new"),
        ("POST", "/admin/products/new"),
        ("GET", "/admin/categories"),
        ("GET", "/admin/catalogue/export.csv"),
        ("POST", "/admin/catalogue/import"),
    ],
)
def test_a_shopper_who_is_not_an_admin_gets_403(client, auth, shopper, post, method, path):
    auth.login()
    response = client.get(path) if method == "GET" else post(path, {})
    assert response.status_code == 403
