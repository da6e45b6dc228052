"""``/robots.txt`` and ``/sitemap.xml``."""

from __future__ import annotations

from flask import Response, abort, render_template

from shop.seo import bp
from shop.seo.sitemap import sitemap_entries
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


@bp.route("/sitemap.xml")
def sitemap_xml():
    if base_url() is None:
        abort(404)  # a sitemap lists absolute URLs, and the shop has not been told its own
    body = render_template("seo/sitemap.xml", base=base_url(), entries=sitemap_entries())
    response = Response(body, mimetype="application/xml")
    response.cache_control.public = True
    response.cache_control.max_age = TEXT_MAX_AGE
    return response
