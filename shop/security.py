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

from flask import Flask, current_app, g, request, session

from shop.extensions import csrf

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


#: Posts a visitor may send before the shop has given them a session (and so a CSRF token).
SESSIONLESS_POSTS = ("cart.add",)


def same_origin_post() -> bool:
    """The browser says the post came from one of the shop's own pages (OWASP's "verifying
    origin with standard headers"); a post that says neither is refused."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    return origin is not None and origin.rstrip("/") == request.host_url.rstrip("/")


def csrf_field() -> str:
    """The form field (and ``g`` and session key) Flask-WTF keeps the CSRF token under."""
    return current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")


def check_csrf() -> None:
    """Every state-changing request carries the session's CSRF token, as Flask-WTF checks it.

    The one exception keeps a visitor's page views cookie-free: pages render no token until the
    session has one, so a visitor's first "Add to cart" has none to send. When the session holds
    no token at all, such a post is accepted from the shop's own pages only (the Origin and
    Sec-Fetch-Site headers, which a page elsewhere cannot forge).
    """
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if request.method not in current_app.config.get("WTF_CSRF_METHODS", ("POST",)):
        return
    field = csrf_field()
    if request.endpoint in SESSIONLESS_POSTS and field not in session and same_origin_post():
        g.csrf_valid = True  # the form's own token check (FlaskForm) defers to this one
        return
    csrf.protect(apply_exemptions=True)


def register(app: Flask) -> None:
    app.before_request(check_csrf)
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
        return response
