from flask import Blueprint

bp = Blueprint("admin", __name__)

from shop.admin import orders, products, routes  # noqa: E402,F401
