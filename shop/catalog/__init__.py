from flask import Blueprint

bp = Blueprint("catalog", __name__)

from shop.catalog import pictures, routes  # noqa: E402,F401
