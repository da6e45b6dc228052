"""The search page. Any text is a valid query: shop.search.engine makes it safe for the index."""

from __future__ import annotations

from flask import current_app, render_template, request

from shop.catalog import queries
from shop.search import bp
from shop.search.engine import search_products
from shop.search.forms import SearchForm


@bp.route("/search")
def search():
    categories = queries.all_categories()
    form = SearchForm(formdata=request.args)
    form.set_categories(categories)
    form.validate()
    # A filter that does not validate is left out (and its message shown); the search still runs.
    category = None
    if not form.category.errors and form.category.data:
        category = queries.category_by_slug(form.category.data)
    price_max = form.price_max.data if not form.price_max.errors else None
    results = search_products(
        form.q.data,
        category_id=category.id if category else None,
        price_max=price_max,
        page=queries.parse_page(request.args.get("page")),
        per_page=current_app.config["SHOP_PAGE_SIZE"],
    )
    return render_template(
        "search/results.html",
        form=form,
        results=results,
        category=category,
        tiles=queries.category_tiles() if not results.tokens else [],
    )
