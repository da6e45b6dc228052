"""The search page and the suggestions behind the search box.

Any text is a valid query: shop.search.engine makes it safe for the index.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import current_app, jsonify, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from shop.database import begin_write
from shop.errors import error_response
from shop.extensions import db
from shop.search import bp
from shop.search.budget import SearchTooCostly, search_budget
from shop.search.engine import MAX_QUERY_CHARS, MAX_TOKENS, SearchResults, search_products
from shop.search.forms import SearchForm, parse_filters
from shop.search.history import record_search
from shop.search.suggest import Suggestions
from shop.search.suggest import suggest as suggestions_for
from shop.search.vocabulary import current_vocabulary
from shop.services import categories, facets
from shop.templating import money
from shop.web import parse_page

log = logging.getLogger(__name__)

# Arguments a results link carries on; anything else in the query string is dropped.
KEPT_ARGS = ("q", "category", "brand", "price", "rating", "price_max", "exact")
SUGGEST_SOURCE = "search-suggest"


@bp.route("/search")
def search():
    form = SearchForm(formdata=request.args)
    form.validate()
    parsed = parse_filters(request.args, categories.all_categories(), form)
    try:
        with search_budget(current_app.config["SHOP_SEARCH_TIMEOUT_MS"]):
            results = search_products(
                form.q.data,
                filters=parsed.filters,
                page=parse_page(request.args.get("page")),
                per_page=current_app.config["SHOP_PAGE_SIZE"],
                allow_correction=request.args.get("exact") != "1",
            )
    except SearchTooCostly:
        log.info("A search ran past its budget: %r", (form.q.data or "")[:200])
        return error_response(
            503,
            "That search took too long, so we stopped it. Try fewer words, or longer ones.",
            "Search took too long",
        )
    if current_user.is_authenticated and results.tokens:
        _remember_search(results)
    return render_template(
        "search/results.html",
        form=form,
        results=results,
        parsed=parsed,
        facet_groups=facets.facet_groups(
            results.facets, parsed.filters, _current_args(), _search_url_from
        )
        if results.facets
        else [],
        clear_url=_search_url(q=results.text) if parsed.filters.active else None,
        exact_url=_search_url(q=results.text, exact="1") if results.corrected_text else None,
        tiles=categories.category_tiles() if not results.tokens else [],
        max_words=MAX_TOKENS,
        max_query_chars=MAX_QUERY_CHARS,
    )


@bp.route("/search/suggest")
def suggest():
    """JSON for the search box's dropdown: ``{query, corrected, suggestions: [...]}``.

    A query that runs past the search budget suggests nothing rather than fail.
    """
    try:
        with search_budget(current_app.config["SHOP_SEARCH_TIMEOUT_MS"]):
            found = suggestions_for(request.args.get("q", ""))
    except SearchTooCostly:
        found = Suggestions(None, [], [])
    terms = found.reading.corrected_text if found.reading else ""
    items = [
        {
            "type": "category",
            "label": category.name,
            "count": count,
            "url": _search_url(q=terms, category=category.slug),
        }
        for category, count in found.categories
    ]
    items += [
        {
            "type": "product",
            "label": product.name,
            "detail": " · ".join(
                part
                for part in (
                    product.category.name if product.category else "",
                    money(product.price),
                )
                if part
            ),
            "url": url_for("catalog.product_detail", product_id=product.id, src=SUGGEST_SOURCE),
        }
        for product in found.products
    ]
    response = jsonify(
        query=" ".join(found.reading.tokens) if found.reading else "",
        corrected=found.corrected_text,
        search_url=_search_url(q=terms) if terms else None,
        suggestions=items,
    )
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


def _remember_search(results: SearchResults) -> None:
    """Keep the signed-in shopper's search (a write on a GET, made here and nowhere deeper).

    Losing one history row is better than losing the results page, so a database error is logged.
    """
    try:
        begin_write()
        record_search(current_user.id, results.text, results.total)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("Could not record a search", exc_info=True)


def _search_url(**args: str) -> str:
    return _search_url_from(list(args.items()))


def _search_url_from(args: list[tuple[str, str]]) -> str:
    return f"{url_for('search.search')}?{urlencode(args)}"


def _current_args() -> list[tuple[str, str]]:
    return [(key, value) for key in KEPT_ARGS for value in request.args.getlist(key) if value]


@bp.app_template_global()
def search_placeholder() -> str:
    """The home page's search hint: words this shop's products really answer (three or more each)."""
    words = [f"“{word}”" for word in current_vocabulary().examples]
    if not words:
        return "Search products"
    if len(words) == 1:
        return f"Try {words[0]}"
    return f"Try {', '.join(words[:-1])} or {words[-1]}"
