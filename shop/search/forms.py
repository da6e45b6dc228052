"""The search filters: read from the query string (GET), so no CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DecimalField, SearchField, SelectField
from wtforms.validators import NumberRange, Optional


class PriceField(DecimalField):
    """A price; "NaN" and "Infinity" parse as decimals but are not prices."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError("Enter a price of 0 or more.")


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = SearchField("Search")
    category = SelectField("Category", choices=[], default="", validate_choice=True)
    price_max = PriceField(
        "Max price",
        places=2,
        validators=[
            Optional(),
            NumberRange(min=0, max=1_000_000, message="Enter a price of 0 or more."),
        ],
    )

    def set_categories(self, categories) -> None:
        self.category.choices = [("", "All categories")] + [(c.slug, c.name) for c in categories]
