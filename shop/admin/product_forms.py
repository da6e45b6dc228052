"""Forms for products, categories, stock adjustments, pictures and the catalogue CSV import."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from shop.extensions import db
from shop.forms import WholeNumberField, clean_text
from shop.models import Category
from shop.services import products


class PriceField(StringField):
    """A price as typed; ``data`` is a Decimal, and a bad one says why next to the field."""

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        try:
            self.data = products.parse_price(self.raw)
        except ValueError as exc:
            self.data = None
            raise ValueError(str(exc)) from exc

    def _value(self) -> str:
        if getattr(self, "raw", None) is not None:
            return self.raw
        return "" if self.data is None else f"{self.data:.2f}"


def category_choices() -> list[tuple[str, str]]:
    rows = db.session.execute(select(Category.id, Category.name).order_by(Category.name))
    return [("", "No category")] + [(str(i), name) for i, name in rows]


class ProductForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[clean_text],
        validators=[DataRequired("Give the product a name."), Length(max=200)],
    )
    sku = StringField(
        "SKU",
        filters=[clean_text],
        validators=[
            DataRequired("Give the product a SKU (its stock-keeping code)."),
            Length(max=32),
            Regexp(
                r"^[A-Za-z0-9._-]+$", message="Use letters, digits, dots, dashes or underscores."
            ),
        ],
    )
    description = TextAreaField("Description", filters=[clean_text], validators=[Length(max=5000)])
    category = SelectField("Category", validate_choice=False)
    brand = StringField("Brand", filters=[clean_text], validators=[Length(max=80)])
    price = PriceField("Price")
    stock = WholeNumberField(
        "Stock (units on hand; empty: not counted)",
        message="Stock must be a whole number (or empty: not counted).",
        validators=[
            Optional(),
            NumberRange(min=0, message="Stock cannot be negative."),
            NumberRange(max=products.MAX_UNITS, message="Stock must be at most 1,000,000."),
        ],
    )
    low_stock_threshold = WholeNumberField(
        "Low-stock threshold (empty: the shop's)",
        message="Enter a whole number of units.",
        validators=[
            Optional(),
            NumberRange(min=0, max=products.MAX_UNITS, message="Use 0 to 1,000,000 units."),
        ],
    )
    listed = BooleanField("Listed (on sale; untick to hide it from shoppers)", default=True)

    def __init__(self, *args, product_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.product_id = product_id
        self.category.choices = category_choices()

    def validate_sku(self, field) -> None:
        if field.data and products.sku_taken(field.data, exclude_id=self.product_id):
            raise ValidationError("Another product already has this SKU.")

    def validate_category(self, field) -> None:
        if not field.data:
            return
        known = {value for value, _ in self.category.choices if value}
        if field.data not in known:
            raise ValidationError("Choose one of the shop's categories.")

    def validate_price(self, field) -> None:
        if field.data is None and not field.errors:
            raise ValidationError("Give a price.")

    def product_data(self) -> products.ProductData:
        return products.ProductData(
            sku=self.sku.data,
            name=self.name.data,
            description=self.description.data or "",
            category_id=int(self.category.data) if self.category.data else None,
            brand=self.brand.data or "",
            price=self.price.data,
            stock=self.stock.data,
            low_stock_threshold=self.low_stock_threshold.data,
            listed=bool(self.listed.data),
        )


class PictureForm(FlaskForm):
    picture = FileField("New picture (JPEG, PNG or WebP; at most 5 MB and 4,000 x 4,000 pixels)")
    remove = BooleanField("Remove the picture (the drawn one shows again)")


class StockAdjustForm(FlaskForm):
    change = WholeNumberField(
        "Change (+ received, - removed)",
        message="Enter a whole number such as 12 or -3.",
        validators=[
            InputRequired("Enter a whole number such as 12 or -3."),
            NumberRange(min=-products.MAX_UNITS, max=products.MAX_UNITS, message="Too many units."),
        ],
    )
    note = StringField("Note", filters=[clean_text], validators=[Length(max=255)])

    def validate_change(self, field) -> None:
        if field.data == 0:
            raise ValidationError("A change of 0 changes nothing.")


class CategoryForm(FlaskForm):
    name = StringField(
        "Category name",
        filters=[clean_text],
        validators=[DataRequired("Give the category a name."), Length(max=80)],
    )

    def __init__(self, *args, category_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.category_id = category_id

    def validate_name(self, field) -> None:
        if field.data and products.category_name_taken(field.data, exclude_id=self.category_id):
            raise ValidationError("A category with this name already exists.")


class CatalogueImportForm(FlaskForm):
    file = FileField("Catalogue CSV")
    dry_run = BooleanField("Dry run: show what would change, change nothing", default=True)
