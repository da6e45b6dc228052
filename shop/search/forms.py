"""The search page's input: read from the query string (GET), so no CSRF token.

The words and the maximum price go through a WTForms form (a bad price is reported and left
out). The facets are repeated query arguments (``category``, ``brand``, ``price``, ``rating``) that the page's
own links build; ``parse_filters`` keeps the values that name something real and reports the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import DecimalField, SearchField
from wtforms.validators import NumberRange, Optional

from shop.models import Category
from shop.services import facets


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
    price_max = PriceField(
        "Max price",
        places=2,
        validators=[
            Optional(),
            NumberRange(min=0, max=1_000_000, message="Enter a price of 0 or more."),
        ],
    )


@dataclass(frozen=True)
class ParsedFilters:
    filters: facets.Filters
    categories: list[Category]
    unknown_category: bool


def parse_filters(args: MultiDict, categories: list[Category], form: SearchForm) -> ParsedFilters:
    by_slug = {category.slug: category for category in categories}
    slugs = facets.clean_values(args.getlist("category"))
    chosen = [by_slug[slug] for slug in slugs if slug in by_slug]
    price_max = form.price_max.data if not form.price_max.errors else None
    filters = facets.filters_from_args(
        args, category_ids=tuple(category.id for category in chosen), price_max=price_max
    )
    unknown = len(chosen) < len([s for s in args.getlist("category") if s])
    return ParsedFilters(filters, chosen, unknown)
