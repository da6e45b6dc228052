"""Product pictures for the seeded shop: one small SVG file per product, drawn locally.

The seeder writes them under ``static/img/products/`` (ignored by git) so the demo looks like a shop
without any network access: the category's colour, a soft shape, the product's initials and name.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr


def _initials(name: str) -> str:
    words = [w for w in name.split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def product_svg(name: str, category: str, colour: str) -> str:
    """An SVG document (400x300) for one product; the text is escaped, names are data."""
    digest = hashlib.md5(name.encode("utf-8")).digest()
    cx, cy, r = 260 + digest[0] % 100, 40 + digest[1] % 80, 90 + digest[2] % 60
    lines = textwrap.wrap(name, width=24, max_lines=2, placeholder="…")
    label = "".join(
        f'<tspan x="200" dy="{0 if i == 0 else 24}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300" width="400" height="300" '
        f'role="img" aria-label={quoteattr(name)}>'
        f'<rect width="400" height="300" fill="{colour}"/>'
        f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="#ffffff" fill-opacity="0.16"/>'
        f'<circle cx="{400 - cx}" cy="{300 - cy // 2}" r="{r // 2}" fill="#000000" fill-opacity="0.08"/>'
        '<circle cx="200" cy="120" r="54" fill="#ffffff" fill-opacity="0.92"/>'
        f'<text x="200" y="138" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="46" font-weight="700" fill="{colour}">{escape(_initials(name))}</text>'
        '<text x="200" y="214" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="21" font-weight="600" fill="#ffffff">{label}</text>'
        '<text x="200" y="282" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="13" letter-spacing="2" fill="#ffffff" fill-opacity="0.8">{escape(category.upper())}</text>'
        "</svg>"
    )


def write_product_images(static_folder: str | Path, products: list[dict]) -> list[Path]:
    """Write ``static/<image_path>`` for each product row; return the files written."""
    written = []
    root = Path(static_folder)
    for row in products:
        path = root / row["image_path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(product_svg(row["name"], row["category_name"], row["colour"]), "utf-8")
        written.append(path)
    return written
