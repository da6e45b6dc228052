from flask import Blueprint

bp = Blueprint("auth", __name__)

from shop.auth import account, routes  # noqa: E402,F401  (register the views on bp)
