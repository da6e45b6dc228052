"""JSON endpoints (the prototype's ``GET /recommend``); errors answer JSON too."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from shop.api import health, routes  # noqa: E402,F401
