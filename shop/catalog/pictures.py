"""Uploaded product pictures, served by their content hash with a year-long cache lifetime."""

from __future__ import annotations

from flask import abort, send_file

from shop.catalog import bp
from shop.services import pictures

YEAR = 365 * 24 * 3600


@bp.route("/pictures/<name>")
def picture(name: str):
    """``/pictures/<sha256>-<width>.webp``; any other name (a path, another width) is a 404."""
    path = pictures.file_for(name)
    if path is None:
        abort(404)
    response = send_file(path, mimetype="image/webp", conditional=True, etag=False, max_age=YEAR)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response
