"""Product search: full-text, ranked, prefix-matching, and safe for any input.

On SQLite the FTS5 table ``product_fts`` (kept in step by triggers, see migration 0002) answers the
query and ``bm25`` ranks it, with a match in the name worth most. Shoppers never write FTS5 syntax:
their words are cut into word-character tokens, each token becomes a quoted string with a ``*``
prefix marker, and the tokens are joined with AND (falling back to OR when nothing has every word).
Quotes, ``NEAR(``, ``-``, column filters and the like therefore cannot reach the FTS parser as
syntax, so no search box input can raise an error.

On PostgreSQL the same tokens become a prefix ``to_tsquery`` over the expression the GIN index of
migration 0002 covers, ranked with ``ts_rank``, plus an ``ILIKE`` prefix match on name, brand and
category so that words the English stemmer mangles still find something.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, and_, case, column, func, literal_column, or_, select, table, text
from sqlalchemy.orm import joinedload

from shop.extensions import db
from shop.models import Category, Product

# Word characters in any script, without the underscore (FTS5's unicode61 splits on it anyway).
TOKEN_RE = re.compile(r"[^\W_]+")
MAX_TOKENS = 12
MAX_TOKEN_LENGTH = 40
# Only this much of a pasted essay is looked at: twelve words never need more.
MAX_QUERY_CHARS = 1000
MAX_DISPLAY_CHARS = 200

# bm25 column weights, in product_fts column order: name, description, category, brand.
BM25_WEIGHTS = (10.0, 1.0, 3.0, 5.0)

_fts = table("product_fts", column("rowid"))

PG_DOCUMENT = literal_column(
    "to_tsvector('english', coalesce(products.name, '') || ' ' || coalesce(products.brand, '') "
    "|| ' ' || coalesce(products.description, ''))"
)


@dataclass(frozen=True)
class SearchResults:
    text: str  # what the shopper typed, tidied for showing back
    tokens: list[str]
    pager: Pagination | None
    matched_all_words: bool = True

    @property
    def total(self) -> int:
        return self.pager.total if self.pager is not None else 0


def display_text(raw: str | None) -> str:
    """The query as shown back on the page: printable characters only, and not a whole essay."""
    cleaned = "".join(ch for ch in (raw or "") if ch.isprintable())
    return cleaned.strip()[:MAX_DISPLAY_CHARS]


def tokenize(raw: str | None) -> list[str]:
    """Distinct lower-case word tokens of a query, at most ``MAX_TOKENS`` of them."""
    tokens: list[str] = []
    for word in TOKEN_RE.findall((raw or "")[:MAX_QUERY_CHARS]):
        token = word.lower()[:MAX_TOKEN_LENGTH]
        if token not in tokens:
            tokens.append(token)
        if len(tokens) == MAX_TOKENS:
            break
    return tokens


def fts_match_expression(tokens: list[str], operator: str = "AND") -> str:
    """``["blue", "kett"]`` -> ``"blue"* AND "kett"*``: every token a string literal with a prefix star.

    Tokens hold word characters only, so none can contain a double quote; the quoting still doubles
    any quote, which is FTS5's escape, in case the tokenizer rule is ever loosened.
    """
    if operator not in ("AND", "OR"):
        raise ValueError("operator must be AND or OR")
    quoted = ['"' + token.replace('"', '""') + '"*' for token in tokens]
    return f" {operator} ".join(quoted)


def pg_tsquery_text(tokens: list[str], operator: str = "&") -> str:
    """``["blue", "kett"]`` -> ``'blue':* & 'kett':*`` for ``to_tsquery`` (prefix matching)."""
    return f" {operator} ".join("'" + token.replace("'", "''") + "':*" for token in tokens)


def search_products(
    raw: str | None,
    *,
    category_id: int | None = None,
    price_max: Decimal | None = None,
    page: int = 1,
    per_page: int = 24,
) -> SearchResults:
    """One page of products matching the shopper's words, best match first."""
    tokens = tokenize(raw)
    text_shown = display_text(raw)
    if not tokens:
        return SearchResults(text=text_shown, tokens=[], pager=None)
    pager = _paginate(_statement(tokens, "AND", category_id, price_max), page, per_page)
    if pager.total == 0 and len(tokens) > 1:
        pager = _paginate(_statement(tokens, "OR", category_id, price_max), page, per_page)
        return SearchResults(text_shown, tokens, pager, matched_all_words=False)
    return SearchResults(text_shown, tokens, pager)


def _paginate(statement: Select, page: int, per_page: int) -> Pagination:
    return db.paginate(statement, page=page, per_page=per_page, error_out=False, count=True)


def _statement(
    tokens: list[str], operator: str, category_id: int | None, price_max: Decimal | None
) -> Select:
    if db.engine.dialect.name == "postgresql":
        statement = _postgres_statement(tokens, operator)
    else:
        statement = _sqlite_statement(tokens, operator)
    statement = statement.options(joinedload(Product.category))
    if category_id is not None:
        statement = statement.where(Product.category_id == category_id)
    if price_max is not None:
        statement = statement.where(Product.price <= price_max)
    return statement


def _sqlite_statement(tokens: list[str], operator: str) -> Select:
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    rank = literal_column(f"bm25(product_fts, {weights})")
    return (
        select(Product)
        .join(_fts, _fts.c.rowid == Product.id)
        .where(
            text("product_fts MATCH :fts_query").bindparams(
                fts_query=fts_match_expression(tokens, operator)
            )
        )
        .order_by(rank, Product.id)
    )


def _postgres_statement(tokens: list[str], operator: str) -> Select:
    tsquery = func.to_tsquery(
        literal_column("'english'"), pg_tsquery_text(tokens, "&" if operator == "AND" else "|")
    )
    per_token = []
    name_hits = []
    for token in tokens:
        prefix, inner = f"{token}%", f"% {token}%"
        name_hit = or_(Product.name.ilike(prefix), Product.name.ilike(inner))
        name_hits.append(name_hit)
        per_token.append(
            or_(
                name_hit,
                Product.brand.ilike(prefix),
                Category.name.ilike(prefix),
            )
        )
    joiner = and_ if operator == "AND" else or_
    name_bonus = case((joiner(*name_hits), 1), else_=0)
    return (
        select(Product)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(or_(PG_DOCUMENT.op("@@")(tsquery), joiner(*per_token)))
        .order_by(name_bonus.desc(), func.ts_rank(PG_DOCUMENT, tsquery).desc(), Product.id)
    )
