"""The admin's catalogue: products (list, create, edit, stock, picture), categories and the CSV.

Thin views: a form checks the input (database checks in its ``validate_<field>``), a service in
shop.services does the write and flushes, the view commits and redirects. Bad input re-renders the
page with the message next to the field and a 4xx status; nothing is stored.
"""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.exceptions import RequestEntityTooLarge

from shop.admin import bp
from shop.admin.product_forms import (
    CatalogueImportForm,
    CategoryForm,
    PictureForm,
    ProductForm,
    StockAdjustForm,
)
from shop.database import MAX_ID, end_transaction
from shop.errors import error_response
from shop.extensions import db
from shop.models import Category, Product
from shop.services import catalogue_csv, pictures, products, stock
from shop.web import parse_page

ADMIN_PAGE_SIZE = 50
#: An upload's request may carry the picture (5 MB) and the form's few fields.
PICTURE_REQUEST_BYTES = pictures.MAX_BYTES + 64 * 1024
CATALOGUE_MAX_BYTES = 16 * 1024 * 1024


UPLOAD_LIMITS = {
    "admin.product_picture": PICTURE_REQUEST_BYTES,
    "admin.catalogue_import": CATALOGUE_MAX_BYTES,
}


@bp.url_value_preprocessor
def allow_uploads(endpoint: str | None, values: dict | None) -> None:
    """Raise MAX_CONTENT_LENGTH (2 MB) for the two upload forms, before anything reads the body.

    It has to be this early: CSRF protection parses the form in the app's before_request.
    """
    limit = UPLOAD_LIMITS.get(endpoint or "")
    if limit:
        request.max_content_length = limit


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(exc: RequestEntityTooLarge):
    """A body past the limit is refused unread, with the message next to the upload field."""
    if request.endpoint == "admin.product_picture":
        product = db.get_or_404(Product, (request.view_args or {}).get("product_id"))
        form = PictureForm(formdata=None)
        form.picture.errors = ["The picture is larger than 5 MB."]
        return _edit_page(product, picture_form=form, status=413)
    if request.endpoint == "admin.catalogue_import":
        form = CatalogueImportForm(formdata=None)
        form.file.errors = ["The file is larger than 16 MB."]
        return render_template("admin/catalogue_import.html", form=form), 413
    return error_response(413, "That request is too large.")


# --- Products --------------------------------------------------------------------------------


@bp.route("/products")
def products_list():
    q = request.args.get("q", "", type=str).strip()[:100]
    q = "".join(ch for ch in q if ch.isprintable())
    category_id = request.args.get("category", type=int)
    if category_id is not None and (
        not 0 < category_id <= MAX_ID or db.session.get(Category, category_id) is None
    ):
        category_id = None
    listed = request.args.get("listed")
    listed = listed if listed in products.LISTED_FILTERS else None
    stock_filter = request.args.get("stock")
    stock_filter = stock_filter if stock_filter in products.STOCK_FILTERS else None
    pager = db.paginate(
        products.admin_product_query(q, category_id, listed, stock_filter),
        page=parse_page(request.args.get("page")),
        per_page=ADMIN_PAGE_SIZE,
        error_out=False,
    )
    return render_template(
        "admin/products.html",
        pager=pager,
        rows=[(product, stock.level(product)) for product in pager.items],
        categories=products.categories_with_counts(),
        q=q,
        category_id=category_id,
        listed=listed,
        stock_filter=stock_filter,
        low_count=products.low_stock_count(),
    )


@bp.route("/products/new", methods=["GET", "POST"])
def product_new():
    form = ProductForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("admin/product_form.html", form=form, product=None), 422
        product = products.create_product(form.product_data(), actor_id=current_user.id)
        db.session.commit()
        flash(f"“{product.name}” created.", "success")
        return redirect(url_for("admin.product_edit", product_id=product.id))
    return render_template("admin/product_form.html", form=form, product=None)


def _edit_page(product: Product, form=None, picture_form=None, stock_form=None, status=200):
    return (
        render_template(
            "admin/product_form.html",
            product=product,
            form=form
            or ProductForm(formdata=None, obj=_FormValues(product), product_id=product.id),
            picture_form=picture_form or PictureForm(formdata=None),
            stock_form=stock_form or StockAdjustForm(formdata=None),
            level=stock.level(product),
            ledger=db.session.scalars(stock.ledger_query(product.id).limit(10)).all(),
        ),
        status,
    )


class _FormValues:
    """A product's values under the form's field names (its category as the select's value)."""

    def __init__(self, product: Product):
        for name in products.PRODUCT_FIELDS:
            setattr(self, name, getattr(product, name))
        self.category = str(product.category_id) if product.category_id else ""


@bp.route("/products/<id:product_id>/edit", methods=["GET", "POST"])
def product_edit(product_id: int):
    product = db.get_or_404(Product, product_id)
    if request.method == "GET":
        return _edit_page(product)
    form = ProductForm(product_id=product.id)
    if not form.validate_on_submit():
        return _edit_page(product, form=form, status=422)
    changes = products.update_product(product, form.product_data(), actor_id=current_user.id)
    db.session.commit()
    flash(
        f"Saved: {', '.join(changes)}." if changes else "Nothing changed.",
        "success" if changes else "info",
    )
    return redirect(url_for("admin.product_edit", product_id=product.id))


@bp.route("/products/<id:product_id>/stock", methods=["POST"])
def product_stock(product_id: int):
    product = db.get_or_404(Product, product_id)
    form = StockAdjustForm()
    if not form.validate_on_submit():
        return _edit_page(product, stock_form=form, status=422)
    try:
        products.adjust_stock(
            product, form.change.data, form.note.data or "", actor_id=current_user.id
        )
    except stock.StockError as exc:
        db.session.rollback()
        form.change.errors = [str(exc)]
        return _edit_page(db.get_or_404(Product, product_id), stock_form=form, status=409)
    db.session.commit()
    flash(f"Stock of “{product.name}” is now {product.stock}.", "success")
    return redirect(url_for("admin.product_edit", product_id=product.id))


@bp.route("/products/<id:product_id>/picture", methods=["POST"])
def product_picture(product_id: int):
    product = db.get_or_404(Product, product_id)
    form = PictureForm()
    if not form.validate_on_submit():
        abort(400)
    old_hash = product.image_hash
    upload = form.picture.data
    if form.remove.data and not upload:
        products.set_picture(product, None)
    elif upload:
        # No slow work inside a write transaction (shop/database.py): Pillow runs after it.
        end_transaction()
        try:
            new_hash = pictures.store(pictures.read_limited(upload.stream))
        except pictures.PictureRefused as exc:
            form.picture.errors = [str(exc)]
            return _edit_page(product, picture_form=form, status=422)
        products.set_picture(product, new_hash)
    else:
        form.picture.errors = ["Choose a picture to upload, or tick “Remove”."]
        return _edit_page(product, picture_form=form, status=422)
    db.session.commit()
    if old_hash and old_hash != product.image_hash:
        still_used = db.session.scalar(
            select(func.count(Product.id)).where(Product.image_hash == old_hash)
        )
        pictures.discard(old_hash, bool(still_used))
    flash("Picture saved." if product.image_hash else "Picture removed.", "success")
    return redirect(url_for("admin.product_edit", product_id=product.id))


# --- Categories ------------------------------------------------------------------------------


def _categories_page(form=None, rename_form=None, rename_id=None, status=200):
    return (
        render_template(
            "admin/categories.html",
            categories=products.categories_with_counts(),
            form=form or CategoryForm(formdata=None),
            rename_form=rename_form,
            rename_id=rename_id,
        ),
        status,
    )


@bp.route("/categories", methods=["GET", "POST"])
def categories():
    if request.method == "GET":
        return _categories_page()
    form = CategoryForm()
    if not form.validate_on_submit():
        return _categories_page(form=form, status=422)
    category = products.create_category(form.name.data)
    db.session.commit()
    flash(f"Category “{category.name}” created.", "success")
    return redirect(url_for("admin.categories"))


@bp.route("/categories/<id:category_id>/rename", methods=["POST"])
def category_rename(category_id: int):
    category = db.get_or_404(Category, category_id)
    form = CategoryForm(category_id=category.id, prefix=f"c{category.id}")
    if not form.validate_on_submit():
        return _categories_page(rename_form=form, rename_id=category.id, status=422)
    old = category.name
    products.rename_category(category, form.name.data)
    db.session.commit()
    flash(f"Category “{old}” is now “{category.name}”.", "success")
    return redirect(url_for("admin.categories"))


# --- Catalogue CSV ---------------------------------------------------------------------------


@bp.route("/catalogue/export.csv")
def catalogue_export():
    return Response(
        catalogue_csv.export_csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="catalogue.csv"'},
    )


@bp.route("/catalogue/import", methods=["GET", "POST"])
def catalogue_import():
    if request.method == "GET":
        return render_template("admin/catalogue_import.html", form=CatalogueImportForm())
    form = CatalogueImportForm()
    if not form.validate_on_submit():
        abort(400)
    upload = form.file.data
    if not upload:
        form.file.errors = ["Choose a CSV file."]
        return render_template("admin/catalogue_import.html", form=form), 422
    data = upload.stream.read(CATALOGUE_MAX_BYTES + 1)
    name = (upload.filename or "")[:80]
    try:
        # Read and check every line outside the write transaction (shop/database.py).
        end_transaction()
        lines = catalogue_csv.read_lines(data)
        result = catalogue_csv.plan_lines(lines)
    except catalogue_csv.CatalogueError as exc:
        return render_template("admin/catalogue_import.html", form=form, failure=exc), 422
    if form.dry_run.data:
        return render_template("admin/catalogue_import.html", form=form, plan=result, dry_run=True)
    summary = catalogue_csv.apply(result, actor=current_user, source=name)
    db.session.commit()
    flash(
        f"Imported: {summary['created']} created, {summary['updated']} updated, "
        f"{summary['unchanged']} unchanged, {summary['categories_created']} categories created.",
        "success",
    )
    current_app.logger.info("Catalogue import by %s: %s", current_user.email, summary)
    return redirect(url_for("admin.products_list"))
