"""``/robots.txt``, ``/sitemap.xml`` and, past the protocol's limit, ``/sitemap-<n>.xml``."""

from __future__ import annotations

from flask import Response, abort, current_app, render_template, request

from shop.extensions import limiter
from shop.seo import bp
from shop.seo.sitemap import Sitemap, current_sitemap
from shop.seo.urls import PRIVATE_PATHS, absolute, base_url

TEXT_MAX_AGE = 3600


@bp.route("/robots.txt")
def robots_txt():
    body = render_template(
        "seo/robots.txt", disallowed=PRIVATE_PATHS, sitemap=absolute("/sitemap.xml")
    )
    response = Response(body, mimetype="text/plain")
    response.cache_control.public = True
    response.cache_control.max_age = TEXT_MAX_AGE
    return response


def _sitemap_limit() -> str:
    return current_app.config["SHOP_SITEMAP_LIMIT"]


# A crawler reads the sitemap a few times a day; a client asking for it in a loop would keep the
# workers busy sending megabytes, so past the limit it gets a cheap 429.
@bp.route("/sitemap.xml")
@limiter.limit(_sitemap_limit, scope="sitemap")
def sitemap_xml():
    return _sitemap_file(0)


@bp.route("/sitemap-<int:number>.xml")
@limiter.limit(_sitemap_limit, scope="sitemap")
def sitemap_page(number: int):
    if number < 1:
        abort(404)  # the index is /sitemap.xml, and only that
    return _sitemap_file(number)


def _sitemap_file(number: int) -> Response:
    """One file of the kept sitemap, gzipped for clients that take it, 304 when unchanged."""
    if base_url() is None:
        abort(404)  # a sitemap lists absolute URLs, and the shop has not been told its own
    sitemap: Sitemap = current_sitemap()
    if number and (not sitemap.is_index or number >= len(sitemap.files)):
        abort(404)
    file = sitemap.files[number]
    gzipped = "gzip" in request.accept_encodings
    response = Response(file.gzipped if gzipped else file.body, mimetype="application/xml")
    if gzipped:
        response.content_encoding = "gzip"
    response.vary.add("Accept-Encoding")
    # One ETag per file and encoding: the catalogue's fingerprint says when any of them changed.
    response.set_etag(f"{sitemap.key}-{number}{'-gz' if gzipped else ''}")
    if sitemap.last_modified is not None:
        response.last_modified = sitemap.last_modified
    response.cache_control.public = True
    response.cache_control.max_age = TEXT_MAX_AGE
    return response.make_conditional(request)
