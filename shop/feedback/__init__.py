from flask import Blueprint

bp = Blueprint("feedback", __name__)

from shop.feedback import routes  # noqa: E402,F401
