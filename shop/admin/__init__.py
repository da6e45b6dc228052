from flask import Blueprint

bp = Blueprint("admin", __name__)

from shop.admin import merchandising, orders, products, routes  # noqa: E402,F401
