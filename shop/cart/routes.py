from flask import render_template

from shop.cart import bp


@bp.route("/cart")
def view_cart():
    return render_template("catalog/index.html")


@bp.route("/orders")
def orders():
    return render_template("catalog/index.html")
