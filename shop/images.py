"""The shop's one product-picture drawer: an SVG card from the product's name and category.

Most imported products come without a photo. A drawn card still tells shoppers apart at a glance:
the colour comes from the category (so a shelf of one category looks of a piece), the motif and the
initials from the name. The drawing is a pure function of those two strings (an MD5 digest, not
Python's per-process ``hash``), so every worker draws the same picture and browsers may cache it.
The catalog serves it for products without a picture, and the seeder writes it to files.
"""

from __future__ import annotations

import hashlib
import textwrap
from xml.sax.saxutils import escape

# (background, darker shade, light accent) per tone; shop.css has a matching .cat-tone-N class.
PALETTE = (
    ("#2d4b73", "#1f3654", "#9fc1ea"),
    ("#2f7d6d", "#1f5a4e", "#a6e3d4"),
    ("#b5543c", "#8a3c29", "#f6c6b6"),
    ("#6b4c9a", "#4d3572", "#d2c2ee"),
    ("#c28a12", "#94680b", "#f8e0a5"),
    ("#3b7fb6", "#2a5f89", "#bfdcf4"),
    ("#a23e69", "#7a2c4e", "#f1bfd5"),
    ("#4f6d2f", "#3a5222", "#cfe3b4"),
    ("#1f7a8c", "#155866", "#b3e3ec"),
    ("#8c5a2b", "#68421f", "#ecd2b6"),
    ("#5a5f73", "#3f4354", "#d3d6e2"),
    ("#c0392b", "#922b21", "#f5b7b1"),
)

WIDTH, HEIGHT = 400, 300


def _digest(value: str) -> int:
    return int.from_bytes(hashlib.md5(value.encode("utf-8")).digest()[:8], "big")


def tone_for(category_name: str | None) -> int:
    """The palette index of a category: the same category always gets the same colour."""
    return _digest((category_name or "").strip().lower()) % len(PALETTE)


def initials(name: str) -> str:
    words = [w for w in name.split() if any(ch.isalnum() for ch in w)]
    letters = [next(ch for ch in w if ch.isalnum()) for w in words[:2]]
    return "".join(letters).upper() or "?"


def _motif(kind: int, accent: str) -> str:
    if kind == 0:  # rings
        return (
            f'<circle cx="320" cy="60" r="90" fill="none" stroke="{accent}" stroke-width="18" '
            f'opacity=".35"/><circle cx="60" cy="250" r="60" fill="{accent}" opacity=".2"/>'
        )
    if kind == 1:  # diagonal bands
        return (
            f'<path d="M-20 220 L220 -20 L300 -20 L-20 300 Z" fill="{accent}" opacity=".18"/>'
            f'<path d="M140 320 L420 40 L420 120 L220 320 Z" fill="{accent}" opacity=".12"/>'
        )
    # dots along the bottom, a soft block in the top corner (clear of the category label)
    dots = "".join(
        f'<circle cx="{24 + 44 * col}" cy="{262 + 22 * row}" r="5" fill="{accent}" opacity=".3"/>'
        for row in range(2)
        for col in range(9)
    )
    return (
        dots
        + f'<rect x="290" y="-40" width="160" height="130" rx="40" fill="{accent}" opacity=".18"/>'
    )


def product_svg(name: str, category_name: str | None) -> str:
    """The SVG document for one product (text escaped: names are shop data, not markup)."""
    name = " ".join((name or "").split()) or "Product"
    background, shade, accent = PALETTE[tone_for(category_name)]
    motif = _motif(_digest(name) % 3, accent)
    lines = textwrap.wrap(name, width=26, max_lines=2, placeholder="…")
    label = "".join(
        f'<tspan x="200" dy="{0 if i == 0 else 22}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    category_label = escape((category_name or "").upper()[:30])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(name, {chr(34): "&quot;"})}">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="{background}"/><stop offset="1" stop-color="{shade}"/>'
        f"</linearGradient></defs>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="url(#g)"/>'
        f"{motif}"
        f'<circle cx="200" cy="120" r="62" fill="#ffffff" opacity=".14"/>'
        f'<text x="200" y="142" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="58" font-weight="700" fill="#ffffff">{escape(initials(name))}</text>'
        f'<text x="200" y="228" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="18" font-weight="600" fill="#ffffff">{label}</text>'
        f'<text x="200" y="34" text-anchor="middle" font-family="Helvetica, Arial, sans-serif" '
        f'font-size="12" letter-spacing="3" fill="{accent}">{category_label}</text>'
        f"</svg>"
    )
