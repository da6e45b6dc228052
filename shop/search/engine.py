"""Product search: stemmed, typo-forgiving, prefix-matching, faceted, and safe for any input.

The index: on SQLite the FTS5 table ``product_fts`` (porter stemming over unicode61, kept in step
by triggers, see migrations 0002 and 0003) answers the query and ``bm25`` ranks it with a match in
the name worth most; on PostgreSQL a ``product_fts`` table of weighted ``english`` tsvectors does
the same with ``ts_rank`` (name weighted A). Either way "mugs" finds "Mug" and "kett" finds
"Kettle".

Shoppers never write index syntax: their words are cut into word-character tokens (shop.search.text),
each becomes a quoted prefix term, and the terms are joined with AND. Quotes, ``NEAR(``, ``-``,
column filters and the like cannot reach either parser as syntax, so no input can raise an error.

How a query is read (``interpret``), before any filter applies so that the reading never depends
on a facet: every word must match; if that finds nothing, each word that matches nothing alone is
corrected against the shop's vocabulary (shop.search.vocabulary) and every word must match again
(when a word has several equally near corrections, the first under which every word matches);
if that still finds nothing, any word may match. A query that finds nothing even then gets the
nearest words and popular products from the categories they point to, never a blank page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import (
    Select,
    String,
    Subquery,
    bindparam,
    column,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy.orm import joinedload

from shop.extensions import db
from shop.models import Product
from shop.search import facets
from shop.search.text import (
    MAX_QUERY_CHARS,
    MAX_TOKENS,
    display_text,
    is_too_long,
    read_words,
    tokenize,
)
from shop.search.vocabulary import current_vocabulary
from shop.services.availability import is_listed, sold_out_last

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_TOKENS",
    "Reading",
    "SearchResults",
    "fts_match_expression",
    "interpret",
    "match_subquery",
    "search_products",
    "tokenize",
]

# bm25 column weights, in product_fts column order: name, description, category, brand.
BM25_WEIGHTS = (10.0, 1.0, 3.0, 5.0)
FALLBACK_PRODUCTS = 8
MAX_CORRECTION_TRIALS = 8

_sqlite_fts = table("product_fts", column("rowid"))
_pg_fts = table("product_fts", column("product_id"), column("document"))


@dataclass(frozen=True)
class Reading:
    """How the shop reads a query: the words searched for, and how they were arrived at."""

    tokens: list[str]  # the shopper's words
    terms: list[str]  # the words searched for (corrected where a word matched nothing)
    operator: str = "AND"
    found: bool = True  # whether any product matches at all, before filters

    @property
    def corrected(self) -> bool:
        return self.terms != self.tokens

    @property
    def corrected_text(self) -> str:
        return " ".join(self.terms)


@dataclass(frozen=True)
class SearchResults:
    text: str  # what the shopper typed, tidied for showing back
    tokens: list[str]
    pager: Pagination | None
    reading: Reading | None = None
    facets: facets.FacetCounts | None = None
    nearest: list[str] = field(default_factory=list)  # other words to try, when nothing matched
    fallback: list[Product] = field(default_factory=list)  # popular products, when nothing matched
    words_ignored: bool = False  # the query had more than MAX_TOKENS words; the rest were ignored
    too_long: bool = False  # the query had more than MAX_QUERY_CHARS characters: not searched

    @property
    def total(self) -> int:
        return self.pager.total if self.pager is not None else 0

    @property
    def matched_all_words(self) -> bool:
        return self.reading is None or self.reading.operator == "AND"

    @property
    def corrected_text(self) -> str | None:
        if self.reading is not None and self.reading.corrected and self.reading.found:
            return self.reading.corrected_text
        return None


def fts_match_expression(tokens: list[str], operator: str = "AND") -> str:
    """``["blue", "kett"]`` -> ``"blue"* AND "kett"*``: every token a string literal with a prefix star.

    Tokens hold word characters only, so none can contain a double quote; the quoting still doubles
    any quote, which is FTS5's escape, in case the tokenizer rule is ever loosened.
    """
    if operator not in ("AND", "OR"):
        raise ValueError("operator must be AND or OR")
    quoted = ['"' + token.replace('"', '""') + '"*' for token in tokens]
    return f" {operator} ".join(quoted)


def pg_tsquery_text(tokens: list[str], operator: str = "AND") -> str:
    """``["blue", "kett"]`` -> ``'blue':* & 'kett':*`` for ``to_tsquery`` (prefix matching)."""
    joiner = {"AND": " & ", "OR": " | "}[operator]
    return joiner.join("'" + token.replace("'", "''") + "':*" for token in tokens)


def match_subquery(terms: list[str], operator: str = "AND") -> Subquery:
    """Every product the terms match: ``product_id`` and ``score`` (higher is better)."""
    if db.engine.dialect.name == "postgresql":
        tsquery = func.to_tsquery(
            literal_column("'english'"),
            bindparam(None, pg_tsquery_text(terms, operator), type_=String),
        )
        statement = select(
            _pg_fts.c.product_id.label("product_id"),
            func.ts_rank(_pg_fts.c.document, tsquery).label("score"),
        ).where(_pg_fts.c.document.op("@@")(tsquery))
    else:
        weights = ", ".join(str(w) for w in BM25_WEIGHTS)
        statement = select(
            _sqlite_fts.c.rowid.label("product_id"),
            (-literal_column(f"bm25(product_fts, {weights})")).label("score"),
        ).where(
            literal_column("product_fts").op("MATCH")(
                bindparam(None, fts_match_expression(terms, operator), type_=String)
            )
        )
    return statement.subquery("matches")


def _any_match(terms: list[str], operator: str = "AND") -> bool:
    matches = match_subquery(terms, operator)
    return db.session.scalar(select(matches.c.product_id).limit(1)) is not None


def interpret(tokens: list[str], *, allow_correction: bool = True) -> Reading:
    """Decide which words to search for (see the module docstring)."""
    if _any_match(tokens):
        return Reading(tokens, tokens)
    terms = tokens
    if allow_correction:
        vocabulary = current_vocabulary()
        options = [
            vocabulary.candidates(token) if len(tokens) == 1 or not _any_match([token]) else []
            for token in tokens
        ]
        terms = [found[0] if found else token for token, found in zip(tokens, options, strict=True)]
        # The likeliest correction of each word first; then, one word at a time, its other
        # candidates, keeping the first reading under which every word matches.
        trials = [terms] + [
            terms[:i] + [other] + terms[i + 1 :]
            for i, found in enumerate(options)
            for other in found[1:]
        ]
        for trial in trials[:MAX_CORRECTION_TRIALS]:
            if trial != tokens and _any_match(trial):
                return Reading(tokens, trial)
    if len(terms) > 1 and _any_match(terms, "OR"):
        return Reading(tokens, terms, "OR")
    return Reading(tokens, tokens, found=False)


def ranked_statement(matches: Subquery, conditions: list) -> Select:
    """The matching listed products, best first (sold-out ones after those in stock), narrowed by
    the filters' conditions."""
    return (
        select(Product)
        .join(matches, matches.c.product_id == Product.id)
        .options(joinedload(Product.category))
        .where(is_listed(), *conditions)
        .order_by(sold_out_last(), matches.c.score.desc(), Product.id)
    )


def search_products(
    raw: str | None,
    *,
    filters: facets.Filters | None = None,
    page: int = 1,
    per_page: int = 24,
    allow_correction: bool = True,
) -> SearchResults:
    """One page of products matching the shopper's words, best match first, with facet counts."""
    filters = filters or facets.Filters()
    text_shown = display_text(raw)
    if is_too_long(raw):
        return SearchResults(text=text_shown, tokens=[], pager=None, too_long=True)
    tokens, ignored = read_words(raw)
    if not tokens:
        return SearchResults(text=text_shown, tokens=[], pager=None)
    reading = interpret(tokens, allow_correction=allow_correction)
    if not reading.found:
        nearest, fallback = _dead_end_help(tokens)
        return SearchResults(
            text_shown,
            tokens,
            pager=None,
            reading=reading,
            nearest=nearest,
            fallback=fallback,
            words_ignored=ignored,
        )
    matches = match_subquery(reading.terms, reading.operator)
    pager = db.paginate(
        ranked_statement(matches, filters.conditions()),
        page=page,
        per_page=per_page,
        error_out=False,
        count=True,
    )
    return SearchResults(
        text_shown,
        tokens,
        pager,
        reading=reading,
        facets=facets.count_facets(matches, filters),
        words_ignored=ignored,
    )


def _dead_end_help(tokens: list[str]) -> tuple[list[str], list[Product]]:
    """The nearest words to try, and popular products from the categories those words point to."""
    vocabulary = current_vocabulary()
    nearest: list[str] = []
    for token in tokens[:3]:
        for word in vocabulary.nearest(token):
            if word not in nearest:
                nearest.append(word)
    category_ids = vocabulary.category_ids_for(nearest)[:3]
    statement = (
        select(Product)
        .options(joinedload(Product.category))
        .where(is_listed())
        .order_by(
            sold_out_last(),
            Product.click_count.desc(),
            Product.purchase_count.desc(),
            Product.view_count.desc(),
            Product.id,
        )
        .limit(FALLBACK_PRODUCTS)
    )
    products: list[Product] = []
    if category_ids:
        products = list(db.session.scalars(statement.where(Product.category_id.in_(category_ids))))
    if not products:
        products = list(db.session.scalars(statement))
    return nearest[:6], products
