from flask import Blueprint

bp = Blueprint("search", __name__)

from shop.search import routes  # noqa: E402,F401
