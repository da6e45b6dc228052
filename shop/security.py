"""Security headers on every response.

The site serves every script and style from ``static/``, so the Content-Security-Policy can forbid
inline scripts and foreign origins outright. The one inline block a page may carry is data (the
product page's JSON-LD): :func:`allow_inline_script` admits exactly its bytes, by their SHA-256
hash, in the policy of the response that carries it and no other.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

from flask import Flask, g
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

SCRIPT_SRC = "script-src 'self'"
OTHER_DIRECTIVES = "; ".join(
    [
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
CSP = f"default-src 'self'; {SCRIPT_SRC}; {OTHER_DIRECTIVES}"


def script_hash(text: str) -> str:
    """The CSP source expression for an inline script whose text is exactly ``text``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    allowed = " ".join(dict.fromkeys(script_hashes))  # in order, each once
    if not allowed:
        return CSP
    return f"default-src 'self'; {SCRIPT_SRC} {allowed}; {OTHER_DIRECTIVES}"


def allow_inline_script(text: str) -> None:
    """Admit one inline ``<script>`` block, whose text is exactly ``text``, in this response."""
    g.setdefault("csp_script_hashes", []).append(script_hash(text))


def _signed_in() -> bool:
    try:
        return bool(current_user and current_user.is_authenticated)
    except SQLAlchemyError:  # the error page of a broken database: nobody can be looked up
        return False


def register(app: Flask) -> None:
    hsts = None
    if app.config["SHOP_ENV"] == "production" and app.config["SHOP_HSTS_SECONDS"] > 0:
        # Production is served over HTTPS (its cookies are Secure): browsers should never try
        # plain HTTP again.
        hsts = f"max-age={app.config['SHOP_HSTS_SECONDS']}; includeSubDomains"

    @app.after_request
    def set_security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy", content_security_policy(g.get("csp_script_hashes", ()))
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", hsts)
        if "Cache-Control" not in response.headers and _signed_in():
            # What a signed-in page shows depends on who asked (their cart, orders, account, picks,
            # the admin's figures and downloads): no shared cache may keep it, and the browser
            # should not keep it on disk after sign-out. Public files set their own Cache-Control.
            response.headers["Cache-Control"] = "private, no-store"
        return response
