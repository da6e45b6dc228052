from flask import render_template

from shop.catalog import bp


@bp.route("/")
def index():
    return render_template("catalog/index.html")


@bp.route("/products")
def products():
    return render_template("catalog/index.html")


@bp.route("/products/<int:product_id>")
def product_detail(product_id: int):
    return render_template("catalog/index.html")


@bp.route("/products/<int:product_id>/image.svg")
def product_image(product_id: int):
    return render_template("catalog/index.html")
