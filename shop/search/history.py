"""What signed-in shoppers searched for: written by the search page, read as a recommendation signal.

``recent_search_terms(user_id, limit)`` is the read the engine side may use as a feature: the
distinct words of a shopper's latest searches, newest first, lower-case, as the search index reads
them (so "Blue MUGS!" gives ``["blue", "mugs"]``). Searches that found nothing still count: they say
what the shopper wants and the shop lacks. Visitors who are not signed in leave no history.
"""

from __future__ import annotations

from sqlalchemy import select

from shop.extensions import db
from shop.models import SearchQuery
from shop.search.text import MAX_DISPLAY_CHARS, tokenize

# How many of the latest searches recent_search_terms reads, at most.
SEARCHES_READ = 50


def record_search(user_id: int, text: str, result_count: int) -> SearchQuery | None:
    """Add one search to the shopper's history (the caller commits).

    The same words searched again straight away (a facet ticked, a page turned, a reload) are one
    search, not several, so nothing is added then and None is returned.
    """
    text = text.strip()[:MAX_DISPLAY_CHARS]
    if not tokenize(text):
        return None
    last = db.session.scalar(
        select(SearchQuery.text)
        .where(SearchQuery.user_id == user_id)
        .order_by(SearchQuery.created_at.desc(), SearchQuery.id.desc())
        .limit(1)
    )
    if last is not None and tokenize(last) == tokenize(text):
        return None
    search = SearchQuery(user_id=user_id, text=text, result_count=result_count)
    db.session.add(search)
    return search


def recent_search_terms(user_id: int, limit: int = 20) -> list[str]:
    """The distinct words of the shopper's recent searches, newest first, at most ``limit``."""
    if limit < 1:
        return []
    texts = db.session.scalars(
        select(SearchQuery.text)
        .where(SearchQuery.user_id == user_id)
        .order_by(SearchQuery.created_at.desc(), SearchQuery.id.desc())
        .limit(SEARCHES_READ)
    )
    terms: list[str] = []
    for text in texts:
        for token in tokenize(text):
            if token not in terms:
                terms.append(token)
                if len(terms) == limit:
                    return terms
    return terms
