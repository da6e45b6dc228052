"""Web helpers every blueprint may use: the ``next`` check, page numbers, the sign-in guard.

Blueprints import each other's modules never; what two of them need lives here (request handling),
in ``shop.forms`` (form pieces) or in ``shop.services`` (database reads and writes).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import flash, redirect, url_for
from flask_login import current_user

from shop.errors import error_response, wants_json

#: Larger page numbers are capped before they reach SQL (SQLite cannot bind integers past 2**63).
MAX_PAGE = 100_000


def safe_next(target: str | None) -> str | None:
    """Only local paths are followed after sign-in: ``//evil.example`` and ``https://...`` are not."""
    if not target:
        return None
    target = target.strip()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target


def parse_page(raw: str | None) -> int:
    """A page number from the query string; anything that is not a positive integer means page 1."""
    try:
        page = int(str(raw).strip())
    except (TypeError, ValueError):
        return 1
    if page < 1:
        return 1
    return min(page, MAX_PAGE)


def signin_required(message: str, back: Callable[..., str]):
    """flask_login's ``login_required`` for POST-only URLs that fetch() calls too.

    A fetch() call gets 401 JSON instead of a redirect. A form post flashes ``message`` and sends the
    shopper to sign in with ``next`` set to ``back(**view_args)``, a page to return to, never this
    POST-only URL, which a browser would then GET.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if current_user.is_authenticated:
                return view(*args, **kwargs)
            if wants_json():
                return error_response(401, message, "Sign in required")
            flash(message, "info")
            return redirect(url_for("auth.login", next=back(**kwargs)))

        return wrapped

    return decorator
