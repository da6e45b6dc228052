"""schema.org JSON-LD for the pages: a product with its offer and rating, and breadcrumb trails.

The JSON is written into a ``<script type="application/ld+json">`` block, which browsers never run;
the block is still inline script text under the shop's strict CSP, so :func:`json_ld` admits its
exact bytes by their SHA-256 hash in the policy of the response that carries it
(:func:`shop.security.allow_inline_script`).
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, url_for
from markupsafe import Markup

from shop.models import Product
from shop.security import allow_inline_script
from shop.seo.urls import absolute
from shop.services.stock import level as stock_level
from shop.templating import product_image_url

SCHEMA = "https://schema.org"
# Characters that could end the script element or open a comment inside it, written as JSON escapes.
_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def product_data(product: Product) -> dict[str, Any]:
    """A ``Product`` with its ``Offer`` and, once it has ratings, its ``AggregateRating``.

    The Offer's ``availability`` follows the stock: OutOfStock at 0, LimitedAvailability at or
    under the low-stock threshold, InStock above it; a product whose stock the shop does not count
    states none, since claiming InStock would be a guess.
    """
    url = absolute(url_for("catalog.product_detail", product_id=product.id))
    data: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "Product",
        "name": product.name,
        "sku": product.sku,
    }
    if product.description:
        data["description"] = product.description
    if product.brand:
        data["brand"] = {"@type": "Brand", "name": product.brand}
    if product.category:
        data["category"] = product.category.name
    image = absolute(product_image_url(product))
    if image:
        data["image"] = [image]
    if url:
        data["url"] = url
    offer: dict[str, Any] = {
        "@type": "Offer",
        "price": f"{product.price:.2f}",
        "priceCurrency": current_app.config["SHOP_CURRENCY"],
    }
    if url:
        offer["url"] = url
    level = stock_level(product)
    if level.counted:
        state = (
            "OutOfStock" if level.sold_out else "LimitedAvailability" if level.low else "InStock"
        )
        offer["availability"] = f"{SCHEMA}/{state}"
    data["offers"] = offer
    if product.rating_count:
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": round(product.rating_sum / product.rating_count, 2),
            "ratingCount": product.rating_count,
            "bestRating": 5,
            "worstRating": 1,
        }
    return data


def breadcrumb_data(trail: list[tuple[str, str]]) -> dict[str, Any] | None:
    """A ``BreadcrumbList`` of (name, path) pairs; None without a base URL (items must be absolute)."""
    items = []
    for position, (name, path) in enumerate(trail, start=1):
        url = absolute(path)
        if url is None:
            return None
        items.append({"@type": "ListItem", "position": position, "name": name, "item": url})
    return {"@context": SCHEMA, "@type": "BreadcrumbList", "itemListElement": items}


def json_text(data: dict[str, Any]) -> str:
    """Compact JSON that cannot break out of a script element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in _UNSAFE.items():
        text = text.replace(char, escaped)
    return text


def json_ld(data: dict[str, Any] | None) -> Markup:
    """The ``<script type="application/ld+json">`` block, admitted by this response's CSP."""
    if not data:
        return Markup("")
    text = json_text(data)
    allow_inline_script(text)
    return Markup(f'<script type="application/ld+json">{text}</script>')
