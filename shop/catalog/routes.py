"""The shop window: home page, product listing, product page and drawn product pictures."""

from __future__ import annotations

import hashlib
import logging
from urllib.parse import urlencode

from flask import Response, abort, current_app, g, make_response, render_template, request, url_for
from flask_login import current_user
from limits.storage import MemoryStorage
from sqlalchemy.exc import SQLAlchemyError

from shop import page_cache, page_frames
from shop.catalog import bp, queries
from shop.database import begin_write, commit_keeping_loaded
from shop.errors import error_response
from shop.experiments.impressions import impression_for
from shop.extensions import db, limiter
from shop.images import product_svg
from shop.product_page import framed_page, render_product_page
from shop.services import categories, facets, feedback, home, visits
from shop.services.events import record_event
from shop.web import parse_page

log = logging.getLogger(__name__)

IMAGE_MAX_AGE = 30 * 24 * 3600
REVIEWS_PER_PAGE = 10
# Arguments a listing's filter links carry on; anything else in the query string is dropped.
LISTING_ARGS = ("category", "sort", "brand", "price", "rating")


@bp.route("/")
def index():
    user_id = current_user.id if current_user.is_authenticated else None
    page = home.home_page(user_id)
    commit_keeping_loaded()  # an experiment's list shown is recorded as an impression
    return render_template("catalog/index.html", page=page, tiles=categories.category_tiles())


@bp.route("/products")
def products():
    slug = request.args.get("category", "").strip()
    category = categories.category_by_slug(slug)
    if slug and category is None:
        return error_response(
            404,
            "We have no category by that name. Browse all products instead.",
            "No such category",
        )
    sort = queries.parse_sort(request.args.get("sort"))
    page = parse_page(request.args.get("page"))
    filters = facets.filters_from_args(request.args)
    pager = db.paginate(
        queries.browse_statement(category, sort, filters.conditions()),
        page=page,
        per_page=current_app.config["SHOP_PAGE_SIZE"],
        error_out=False,
    )
    if page > 1 and not pager.items:
        return error_response(
            404,
            f"There is no page {page} here; this list has {pager.pages} page(s).",
            "No such page",
        )
    counts = facets.count_facets(
        None, filters, scope=queries.category_scope(category), with_categories=False
    )
    args = [(key, value) for key in LISTING_ARGS for value in request.args.getlist(key) if value]
    return render_template(
        "catalog/products.html",
        pager=pager,
        category=category,
        filters=filters,
        facet_groups=facets.facet_groups(counts, filters, args, _listing_url),
        clear_url=_listing_url([(k, v) for k, v in args if k in ("category", "sort")])
        if filters.active
        else None,
        categories=categories.all_categories(),
        sort=sort,
        featured=queries.pinned_ids(category, sort),
        default_sort=queries.DEFAULT_SORT,
        sort_options=queries.SORT_OPTIONS,
    )


def _listing_url(args: list[tuple[str, str]]) -> str:
    query = urlencode([(k, v) for k, v in args if not (k == "sort" and v == queries.DEFAULT_SORT)])
    return url_for("catalog.products") + (f"?{query}" if query else "")


@bp.route("/products/<id:product_id>")
def product_detail(product_id: int):
    source = request.args.get("src")
    impression_id = _impression_arg()
    html = framed_page(product_id)
    if html is None:
        product = queries.product_with_category(product_id)
        if product is None or not (product.listed or _is_admin()):
            abort(404)
        html = render_product_page(product, impression_id=impression_id, source=source)
    _record_visit(product_id, source, impression_id)
    response = make_response(html)
    if "page_frame" in g:  # for the tests and whoever looks: "filled" or "built"
        response.headers[page_frames.HEADER] = g.page_frame
    return response


@bp.route("/products/<id:product_id>/reviews")
def product_reviews(product_id: int):
    """Every written review of a product, paged, newest or best or worst first."""
    product = queries.product_with_category(product_id)
    if product is None or not (product.listed or _is_admin()):
        abort(404)
    sort = feedback.parse_review_sort(request.args.get("sort"))
    pager = db.paginate(
        feedback.reviews_query(product.id, sort),
        page=parse_page(request.args.get("page")),
        per_page=REVIEWS_PER_PAGE,
        error_out=False,
    )
    return render_template(
        "catalog/reviews.html",
        product=product,
        pager=pager,
        sort=sort,
        sorts=feedback.REVIEW_SORTS,
        breakdown=feedback.rating_breakdown(product.id),
        buyers=feedback.buyers_among(product.id, [r.user_id for r in pager.items]),
    )


def _is_admin() -> bool:
    """Admins see a hidden product's page (with a banner); to everyone else it does not exist."""
    return current_user.is_authenticated and current_user.is_admin


def _impression_arg() -> int | None:
    """``imp`` from a recommendation link, when it was signed for the shopper who follows it."""
    user_id = current_user.id if current_user.is_authenticated else None
    return impression_for(request.args.get("imp"), user_id)


def _first_time(kind: str, product_id: int) -> bool:
    """True for the first view (or click) of a product by this visitor within the window.

    A visitor is the signed-in shopper, or else the client address (a script without cookies is
    still one visitor). The marks live in the rate limiter's storage, which several workers share
    (Redis); when that storage is this process's memory, in the process's own lighter marks.
    """
    window = current_app.config["SHOP_EVENT_WINDOW_SECONDS"]
    if window <= 0:
        return True
    if current_user.is_authenticated:
        visitor = f"user:{current_user.id}"
    else:
        visitor = f"address:{request.remote_addr}"
    key = f"shop/seen/{kind}/{visitor}/{product_id}"
    if type(limiter.storage) is MemoryStorage:  # this process's memory anyway: a lighter mark
        return visits.seen_marks(current_app._get_current_object()).first(key, window)
    return limiter.storage.incr(key, window) == 1


def _record_visit(product_id: int, source: str | None, impression_id: int | None) -> None:
    """A view, and a click when the shopper came from a list (the page is already rendered).

    One of each per visitor and product within ``SHOP_EVENT_WINDOW_SECONDS``: reloading a page, or
    a script fetching the link a hundred times, counts once (the list's popularity and an
    experiment's click-through are not for sale by the request).

    Written by this process's visit writer a moment later (:mod:`shop.services.visits`), or here
    when ``SHOP_VISIT_FLUSH_SECONDS`` is 0. Losing one view event is better than losing the page,
    so a database that stays locked past its busy timeout is logged and the page is still sent.
    """
    user_id = current_user.id if current_user.is_authenticated else None
    view = _first_time("view", product_id)
    click = bool(source) and _first_time("click", product_id)
    if not (view or click):
        return
    app = current_app._get_current_object()
    if visits.batching(app):
        queued = [visits.Visit(product_id, "view", user_id)] if view else []
        if click:
            queued.append(visits.Visit(product_id, "click", user_id, source, impression_id))
        visits.record(app, queued)
        return
    try:
        begin_write()
        if view:
            record_event(product_id, "view", user_id=user_id)
        if click:
            record_event(
                product_id, "click", user_id=user_id, source=source, impression_id=impression_id
            )
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("Could not record a visit to product %s", product_id, exc_info=True)


@page_cache.on_hit("catalog.product_detail")
def _record_kept_visit(product_id: int) -> None:
    """A product page served from the page cache still counts as a view (and a click, for the
    experiment's list the shopper came from)."""
    _record_visit(product_id, request.args.get("src"), _impression_arg())


@bp.route("/products/<id:product_id>/image.svg")
def product_image(product_id: int):
    product = queries.product_with_category(product_id)
    if product is None:
        abort(404)
    svg = product_svg(product.name, product.category.name if product.category else None)
    response = Response(svg, mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = IMAGE_MAX_AGE
    response.set_etag(hashlib.sha256(svg.encode("utf-8")).hexdigest()[:32])
    return response.make_conditional(request)
