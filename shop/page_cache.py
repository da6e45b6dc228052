"""Visitors' pages kept whole in each process for a few seconds: a micro-cache inside the shop.

A visitor without a session (no session cookie, no remember cookie) gets the same home, listing,
product, reviews and search pages as every other such visitor (``shop.http_cache`` already says
``public`` for them), and a proxy in front may keep them. Without such a proxy every visitor's
request rebuilt the page: the rows, the facets, the engine's lists and the template, some 7 ms of
a 2-core machine per home page. So the answers that went out public are also kept here, per
process, in :data:`shop.extensions.local_pages`, and the next visitor's request for the same URL is
answered from memory before any view runs.

**Keys, and why the copy is never stale for what a shopper changes.** The key is the full URL
(scheme, host, path, the query string with its arguments sorted by name) and :func:`page_state`:
one query of index lookups whose answer moves with every product edit, hide, price or stock change
(``updated_at``), a new product, a category added or renamed, a rating or review, a pin or a
boost, with the served model's version, today's date (a boost starts and ends on a day) and the
shop's currency. Every worker asks it on every visitor's request, so such a change shows on the
very next request in every process, and nothing has to be told to forget anything.

**What may lag.** The popularity lists ("Top 5 most clicked", best sellers, the like counter)
move with every click, like and sale without moving that state; they are already reused for
``SHOP_CACHE_SECONDS`` from the shared cache, and a kept page may add ``SHOP_PAGE_CACHE_SECONDS``
to that (10 by default; 0 turns this cache off).

**What a hit still does.** A product page counts a view (and a click from a list) for the visitor;
:func:`on_hit` lets the page's blueprint say what must still happen when its page comes from here.

Nothing a visitor with a session sees can be in here, nor leak to one: a request that carries the
session or remember cookie neither reads nor fills the cache, and only answers that went out with
``Cache-Control: public``, status 200 and no ``Set-Cookie`` are kept. Pages are not compressed by
the shop, so the copy does not depend on ``Accept-Encoding``.

**A signed-in shopper's pages** (home, listing, product and reviews; not search, which writes the
shopper's search history) are kept apart, in :data:`shop.extensions.local_shopper_pages`, for the
shopper alone: the key adds the shopper's id, name, admin flag and ``activity_version``
(:mod:`shop.services.activity`), which every view, click, cart change, rating, like, purchase and
order change of the shopper moves in the same transaction. So "Recently viewed", "Buy it again",
the picks and the cart count change on the next page after the shopper acts, in every process,
as they did before; a reload or a way back to a page the shopper saw a moment ago costs one user
row, one state query and a string copy instead of the engine and some fifty cards.

The page's one per-session part, the CSRF token (the sign-out form, the meta tag, the product
page's forms), is cut out of the kept copy (an unguessable mark stands where it was) and the asking
session's own token is written into every answer, so a shopper signed in on two devices gets one page with two tokens that each work. A
page that shows a flashed message, or a form kept from an expired session, is neither served from
here nor kept. A list an A/B experiment shows is recorded as an impression once per shopper and
``SHOP_IMPRESSION_WINDOW_SECONDS`` anyway; a kept page lives no longer than that window
(``SHOP_SHOPPER_PAGE_CACHE_SECONDS``, at most the window; a window of 0, one impression per view,
turns the shoppers' copies off) and carries the impression already recorded.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, g, request, request_finished, session
from flask.globals import request_ctx
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import String, TextClause, cast, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from shop import kept_forms
from shop.extensions import db, local_pages, local_shopper_pages
from shop.http_cache import PUBLIC_PAGES
from shop.models import Category, CategoryBoost, CategoryPin, Experiment, ExperimentVariant
from shop.security import csrf_field
from shop.seo.sitemap import catalogue_fingerprint_columns
from shop.services import activity, visits
from shop.services.availability import per_request
from shop.services.model_store import current_engine, store

#: The response header that says whether the page came from this cache ("hit") or was built.
HEADER = "X-Page-Cache"
# Headers of a kept page that belong to one answer only.
_NOT_KEPT = frozenset({"set-cookie", HEADER.lower()})
# A shopper's page also gets its Cache-Control, Vary and length again with each answer (the
# token put back in may not have the length of the one taken out).
_NOT_KEPT_FOR_SHOPPERS = _NOT_KEPT | {"cache-control", "vary", "content-length", "x-page-frame"}
#: A signed-in shopper's pages that may be kept (search writes the shopper's search history).
SHOPPER_PAGES = frozenset(PUBLIC_PAGES - {"search.search"})
# What stands for the CSRF token in a kept shopper's page: unguessable, so no product name or
# review can contain it and have a token put into it.
_TOKEN_HOLE = secrets.token_urlsafe(24).encode()
VISITOR, SHOPPER = "visitor", "shopper"
_STORES = {VISITOR: local_pages, SHOPPER: local_shopper_pages}
_ON_HIT: dict[str, Callable[..., None]] = {}
_STATE_SQL: dict[str, TextClause] = {}


def on_hit(endpoint: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register what must still happen when ``endpoint``'s page is served from the cache.

    The function is called with the route's arguments (``request.view_args``), in the request.
    """

    def register(function: Callable[..., None]) -> Callable[..., None]:
        _ON_HIT[endpoint] = function
        return function

    return register


def _joined(*columns: Any) -> Any:
    """A small table's rows as one string: ``id:name:slug,...`` (its digest goes into the key)."""
    text: Any = cast(columns[0], String)
    for column in columns[1:]:
        text = text.concat(":").concat(cast(column, String))
    if db.engine.dialect.name == "postgresql":
        return func.string_agg(text, ",")
    return func.group_concat(text, ",")


def _state_query() -> Any:
    """The catalogue fingerprint of the sitemap, plus the few rows of the categories (a rename
    keeps the slug's length, so the fingerprint alone would miss it), the pins, the boosts and the
    experiments, read whole in the same query."""
    return select(
        *catalogue_fingerprint_columns(),
        select(_joined(Category.id, Category.name, Category.slug)).scalar_subquery(),
        select(
            _joined(
                CategoryPin.id,
                CategoryPin.category_id,
                CategoryPin.product_id,
                CategoryPin.position,
            )
        ).scalar_subquery(),
        select(
            _joined(
                CategoryBoost.id,
                CategoryBoost.category_id,
                CategoryBoost.weight,
                CategoryBoost.starts_on,
                CategoryBoost.ends_on,
            )
        ).scalar_subquery(),
        # A shopper's lists follow the running experiment's variants (visitors are in none).
        select(_joined(Experiment.id, Experiment.status)).scalar_subquery(),
        select(
            _joined(
                ExperimentVariant.id, ExperimentVariant.algorithm, ExperimentVariant.traffic_percent
            )
        ).scalar_subquery(),
    )


def _state_sql() -> TextClause:
    """:func:`_state_query` as this database's SQL, built once per process: building and
    compiling the expression took longer than running it, and a hit is little else."""
    dialect = db.engine.dialect
    found = _STATE_SQL.get(dialect.name)
    if found is None:
        compiled = _state_query().compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        found = _STATE_SQL[dialect.name] = text(str(compiled))
    return found


def page_state() -> str:
    """A digest of everything a visitor's page shows that must never be stale (module docstring):
    the state of the catalogue and its merchandising, the served model's version, the day (a boost
    starts and ends on a day) and the currency."""
    # Read once per request: the page's key and the kept parts of the page ask the same.
    return per_request("_shop_page_state", _read_page_state)


def _read_page_state() -> str:
    row = db.session.execute(_state_sql()).one()
    current_engine()  # follows a newly published model within the store's check interval
    parts = [
        *(str(value) for value in row),
        str(store().version),
        datetime.now(UTC).date().isoformat(),
        str(current_app.config.get("SHOP_CURRENCY", "GBP")),
    ]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def page_key(leave_out: frozenset[str] = frozenset()) -> str:
    """The request's full URL, query arguments sorted by name, with :func:`page_state`.

    Repeated arguments keep their order (a listing's filter links follow it). ``leave_out`` names
    arguments the page prints only in a hole of its frame (:mod:`shop.page_frames`).
    """
    query = sorted(
        ((k, v) for k, v in request.args.items(multi=True) if k not in leave_out),
        key=lambda pair: pair[0],
    )
    url = f"{request.scheme}://{request.host}{request.root_path}{request.path}?{query!r}"
    return "page:" + hashlib.sha256(f"{url}\x1f{page_state()}".encode()).hexdigest()


#: The one kept page that shows what a view changes ("Recently viewed", the picks); the others
#: are keyed by everything the shopper does but views (:func:`activity.version_without_views`).
SHOWS_VIEWS = frozenset({"catalog.index"})


def shopper_key() -> str:
    """:func:`page_key` for the signed-in shopper alone, moved by everything they do that the
    page shows."""
    user = current_user._get_current_object()
    if request.endpoint in SHOWS_VIEWS:
        version = f"all:{user.activity_version}"
    else:
        version = f"not-views:{activity.version_without_views(user)}"
    parts = (user.id, version, user.is_admin, user.display_name)
    return (
        "shopper:"
        + hashlib.sha256("\x1f".join([page_key(), *map(str, parts)]).encode("utf-8")).hexdigest()
    )


def shopper_seconds() -> int:
    """How long a shopper's page is kept: the setting, never longer than the impression window
    (within which the page's experiment list is the impression already recorded); 0 when every
    view records an impression of its own."""
    seconds = current_app.config["SHOP_SHOPPER_PAGE_CACHE_SECONDS"]
    window = current_app.config.get("SHOP_IMPRESSION_WINDOW_SECONDS", 1800)
    return min(seconds, window) if window > 0 else 0


def _shopper_request() -> bool:
    """A page a signed-in shopper may get from their own kept copies: nothing in the session that
    the page would show once (a flashed message, a form kept from an expired session)."""
    return (
        request.method in ("GET", "HEAD")
        and request.endpoint in SHOPPER_PAGES
        and shopper_seconds() > 0
        and "_flashes" not in session
        and kept_forms.SESSION_KEY not in session
        and current_user.is_authenticated
    )


def _anonymous_request() -> bool:
    """A request that may share pages: a public page asked by someone with no session at all."""
    cookies = request.cookies
    return (
        request.method in ("GET", "HEAD")
        and request.endpoint in PUBLIC_PAGES
        and current_app.config["SESSION_COOKIE_NAME"] not in cookies
        and current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") not in cookies
    )


def _keepable(response: Response) -> bool:
    return (
        response.status_code == 200
        and bool(response.cache_control.public)
        and "Set-Cookie" not in response.headers
        and "Cookie" not in response.vary
        and not response.direct_passthrough
        and not response.is_streamed
    )


def _kind() -> str | None:
    """Which kept pages this request may use: a visitor's, a signed-in shopper's, or none."""
    if current_app.config["SHOP_PAGE_CACHE_SECONDS"] > 0 and _anonymous_request():
        return VISITOR
    try:
        if _shopper_request():
            return SHOPPER
    except SQLAlchemyError:  # the user row cannot be read: the view shows what it can, uncached
        db.session.rollback()
    return None


def serve_kept_page() -> Response | None:
    """``before_request``: the kept copy of this page, or None to build it (and keep it after)."""
    g.pop("page_cache_key", None)
    kind = _kind()
    if kind is None:
        return None
    try:
        key = page_key() if kind == VISITOR else shopper_key()
    except SQLAlchemyError:  # the database is down: the view shows what it can, uncached
        db.session.rollback()
        return None
    kept = _STORES[kind].get(key)
    if kept is None:
        g.page_cache_key = (kind, key)
        return None
    status, headers, body = kept
    if kind == SHOPPER and _TOKEN_HOLE in body:
        body = body.replace(_TOKEN_HOLE, generate_csrf().encode("ascii"))
    response = Response(body, status=status, headers=headers)
    response.headers[HEADER] = "hit"
    also = _ON_HIT.get(request.endpoint or "")
    if also is not None:
        also(**(request.view_args or {}))
    return response


def _keepable_for_shopper(response: Response) -> bool:
    return (
        response.status_code == 200
        and response.mimetype == "text/html"
        and not response.direct_passthrough
        and not response.is_streamed
        and not request_ctx.flashes  # the page showed a message meant to be shown once
    )


def keep_page(sender: Flask, response: Response, **_: Any) -> None:
    """``request_finished``: keep a page built for a cookie-less visitor if it went out public,
    and a signed-in shopper's page with its CSRF token taken out.

    This runs after the session was saved, so a ``Set-Cookie`` it added is seen here.
    """
    kind, key = g.pop("page_cache_key", (None, None))
    if kind == VISITOR and _keepable(response):
        not_kept, seconds = _NOT_KEPT, current_app.config["SHOP_PAGE_CACHE_SECONDS"]
        body = response.get_data()
    elif kind == SHOPPER and _keepable_for_shopper(response):
        not_kept, seconds = _NOT_KEPT_FOR_SHOPPERS, shopper_seconds()
        body = response.get_data()
        token = g.get(csrf_field())
        if token:
            body = body.replace(token.encode("ascii"), _TOKEN_HOLE)
    else:
        return
    headers = [(k, v) for k, v in response.headers.items() if k.lower() not in not_kept]
    _STORES[kind].set(key, (response.status_code, headers, body), timeout=seconds)


def mark_miss(response: Response) -> Response:
    """``after_request``: say that a page that could have come from the cache was built."""
    if "page_cache_key" in g:
        response.headers[HEADER] = "miss"
    return response


def write_waiting_visits() -> None:
    """``before_request``, ahead of the kept pages: before a page that shows views is looked up
    (its key holds the shopper's activity version), write the views this process still holds."""
    if request.endpoint in SHOWS_VIEWS:
        queue = visits.buffer_for(current_app._get_current_object())
        if queue.waiting():
            queue.flush()


def register(app: Flask) -> None:
    app.before_request(write_waiting_visits)
    app.before_request(serve_kept_page)
    app.after_request(mark_miss)
    request_finished.connect(keep_page, app)
