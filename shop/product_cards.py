"""Product cards rendered once per product state, then reused by every page of the process.

A home page shows some 35 cards and a listing 24; rendering each through the macro (filters, two
``url_for``, the picture's URL) was most of those pages' template time. A card's HTML depends only
on the product, apart from its link's query (the list it came from, the signed impression) and the
reason line under it, so the card is rendered once with marks in those two places and kept in
:data:`shop.extensions.local_cache`; each use fills the marks in.

The key is the product's id and ``updated_at`` (which the product and stock services move on every
edit, price and stock included) with the values the card shows: the price and sold-out state, the
rating counters (a rating does not move ``updated_at``), the category's name (a renamed category
moves no product), name, brand, picture and the shop's currency. A change to any of them makes a
new key, so the next page shows it at once and no other process has to be told; old entries age
out of the cache.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app, url_for
from markupsafe import Markup, escape

from shop.extensions import local_cache

# Marks no product text can contain: random per process, replaced on every use.
_MARK = secrets.token_hex(8)
HREF_MARK = f"card-href-{_MARK}"
REASON_MARK = f"card-reason-{_MARK}"


def card_key(product: Any) -> str:
    """Everything the card shows, so that no edit (even one that forgot ``updated_at``) is missed."""
    category = product.category.name if product.category is not None else ""
    updated = product.updated_at.isoformat() if product.updated_at else ""
    return "card:" + "\x1f".join(
        map(
            str,
            (
                product.id,
                updated,
                product.price,
                int(product.sold_out),
                product.rating_count,
                product.rating_sum,
                category,
                product.name,
                product.brand,
                product.image_hash,
                product.image_path,
                current_app.config.get("SHOP_CURRENCY", "GBP"),  # the price's format
            ),
        )
    )


def _rendered(product: Any, with_reason: bool) -> str:
    """The card with a mark for its link (and one for its reason line, when it has one)."""
    key = card_key(product) + ("\x1freason" if with_reason else "")
    found = local_cache.get(key)
    if found is None:
        body = current_app.jinja_env.get_template("macros.html").module.card_body
        found = str(body(product, href=HREF_MARK, reason=REASON_MARK if with_reason else None))
        local_cache.set(key, found)
    return found


def product_card(
    product: Any, source: str | None = None, reason: str | None = None, imp: str | None = None
) -> Markup:
    """One product's card; its link carries ``src`` (the list) and ``imp`` (a signed impression)."""
    args: dict[str, Any] = {"product_id": product.id}
    if source:
        args["src"] = source
    if imp:
        args["imp"] = imp
    html = _rendered(product, bool(reason)).replace(
        HREF_MARK, str(escape(url_for("catalog.product_detail", **args)))
    )
    if reason:
        html = html.replace(REASON_MARK, str(escape(reason)))
    return Markup(html)  # noqa: S704  both parts escaped above, the rest rendered by Jinja
