from flask import render_template

from shop.search import bp


@bp.route("/search")
def search():
    return render_template("catalog/index.html")
