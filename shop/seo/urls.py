"""Absolute URLs from the configured base, and which paths crawlers are kept out of."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request

# Pages that are a shopper's own or an admin's (and the POST-only and JSON routes): robots.txt
# disallows these prefixes, and their pages say noindex as well.
PRIVATE_PATHS = (
    "/admin",
    "/auth",
    "/cart",
    "/checkout",
    "/orders",
    "/feedback",
    "/recommend",
    "/search/suggest",
    "/healthz",
)
PRIVATE_BLUEPRINTS = frozenset({"admin", "auth", "cart", "feedback", "api"})


def check_base_url(value: str | None) -> None:
    """Refuse a base URL that is not a bare ``http(s)://host[:port]`` origin."""
    if not value:
        return
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
        raise ValueError(
            f"SHOP_BASE_URL must be an origin such as https://shop.example (no path), got {value!r}"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"SHOP_BASE_URL must not have a query or fragment, got {value!r}")


def base_url() -> str | None:
    """``https://shop.example``: SHOP_BASE_URL, else SERVER_NAME (https in production), else None."""
    config = current_app.config
    if config.get("SHOP_BASE_URL"):
        return config["SHOP_BASE_URL"].rstrip("/")
    if config.get("SERVER_NAME"):
        scheme = "https" if config["SHOP_ENV"] == "production" else "http"
        return f"{scheme}://{config['SERVER_NAME']}"
    return None


def absolute(path: str) -> str | None:
    """``/products/3`` as an absolute URL on the configured base; None when there is no base."""
    base = base_url()
    return f"{base}{path}" if base else None


def is_private_request() -> bool:
    return request.blueprint in PRIVATE_BLUEPRINTS
