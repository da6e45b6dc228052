from flask import render_template

from shop.admin import bp


@bp.route("/")
def dashboard():
    return render_template("catalog/index.html")
