"""Template helpers for the head of every page: canonical and pagination links, robots, JSON-LD.

Templates call them with data they already hold (the product, the pager, the active filters); the
helpers only turn it into URLs and tags.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import request
from markupsafe import Markup

from shop.seo import bp
from shop.seo.structured import breadcrumb_data, json_ld, product_data
from shop.seo.urls import absolute, check_base_url, is_private_request
from shop.templating import this_page_url

DESCRIPTION_LENGTH = 155  # about what a results page shows before it cuts the text


@bp.record_once
def _check_config(state) -> None:
    check_base_url(state.app.config.get("SHOP_BASE_URL"))


@bp.app_template_global()
def canonical_url(**args) -> str:
    """This page's absolute URL with only ``args`` in its query ("" without a base URL).

    Empty values and ``page=1`` are dropped, so a page has one address whatever link led to it.
    """
    if request.endpoint is None:  # an error page for a URL that matched no route
        return ""
    kept = {key: value for key, value in args.items() if value not in (None, "", 1)}
    return absolute(this_page_url(kept)) or ""


@bp.app_template_global()
def page_link(page: int) -> str:
    """The current URL on another page of its list (``rel=prev/next``), absolute when it can be."""
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "page"]
    if page > 1:
        args.append(("page", str(page)))
    path = this_page_url(args)
    return absolute(path) or path


@bp.app_template_global()
def absolute_url(path: str) -> str:
    return absolute(path) or ""


@bp.app_template_global()
def default_robots() -> str:
    """``noindex`` for a shopper's or an admin's own pages; nothing (index, follow) elsewhere."""
    return "noindex" if is_private_request() else ""


@bp.app_template_global()
def product_json_ld(product) -> Markup:
    return json_ld(product_data(product))


@bp.app_template_global()
def breadcrumb_json_ld(trail: list[tuple[str, str]]) -> Markup:
    return json_ld(breadcrumb_data(trail))


@bp.app_template_filter()
def meta_text(text: str | None, length: int = DESCRIPTION_LENGTH) -> str:
    """One line of at most ``length`` characters, cut at a word with an ellipsis."""
    words = " ".join((text or "").split())
    if len(words) <= length:
        return words
    return words[: length - 1].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


@bp.app_template_filter()
def w3c_datetime(value: datetime) -> str:
    """``2025-06-01T09:30:00+00:00``, the form sitemaps take."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")
