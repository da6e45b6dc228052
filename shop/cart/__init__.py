from flask import Blueprint

bp = Blueprint("cart", __name__)

from shop.cart import routes  # noqa: E402,F401
