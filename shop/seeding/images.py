"""Product pictures for the seeded shop: one SVG file per product, drawn by :mod:`shop.images`.

The seeder writes them under ``static/img/products/`` (ignored by git) so the demo looks like a shop
without any network access; they are the same pictures the catalog draws for a product without one.
"""

from __future__ import annotations

from pathlib import Path

from shop.images import product_svg


def write_product_images(static_folder: str | Path, products: list[dict]) -> list[Path]:
    """Write ``static/<image_path>`` for each product row; return the files written."""
    written = []
    root = Path(static_folder)
    for row in products:
        path = root / row["image_path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(product_svg(row["name"], row["category_name"]), "utf-8")
        written.append(path)
    return written
