"""Suggestions as the shopper types: a few products and categories, with prefix and typo matching.

The last word is usually unfinished, and every term is a prefix term anyway ("ket" finds Kettle);
a word that matches nothing is corrected the way the results page corrects it ("mugg" -> mug,
"ketel" -> kettle). At most ``limit`` suggestions: up to two categories where the matches are
(with how many), and the best-ranked products for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from shop.extensions import db
from shop.models import Category, Product
from shop.search.engine import Reading, interpret, matches_for, ranked_statement
from shop.search.text import tokenize

MAX_SUGGESTIONS = 8
MAX_CATEGORIES = 2


@dataclass(frozen=True)
class Suggestions:
    reading: Reading | None
    categories: list[tuple[Category, int]]
    products: list[Product]

    @property
    def corrected_text(self) -> str | None:
        if self.reading is not None and self.reading.corrected and self.reading.found:
            return self.reading.corrected_text
        return None


def suggest(raw: str | None, limit: int = MAX_SUGGESTIONS) -> Suggestions:
    tokens = tokenize(raw)
    if not tokens:
        return Suggestions(None, [], [])
    reading = interpret(tokens)
    if not reading.found:
        return Suggestions(reading, [], [])
    matches = matches_for(reading)
    per_category = (
        select(Category, func.count())
        .join(Product, Product.category_id == Category.id)
        .join(matches, matches.c.product_id == Product.id)
        .where(Product.listed.is_(True))
        .group_by(Category.id)
        .order_by(func.count().desc(), Category.name)
        .limit(MAX_CATEGORIES)
    )
    categories = [(category, count) for category, count in db.session.execute(per_category)]
    # A category only helps when it narrows several matches down.
    categories = [(category, count) for category, count in categories if count > 1]
    products = list(
        db.session.scalars(ranked_statement(matches, []).limit(limit - len(categories)))
    )
    return Suggestions(reading, categories, products)
