"""Security headers on every response.

The site serves every script and style from ``static/``, so the Content-Security-Policy can forbid
inline scripts and foreign origins outright.
"""

from __future__ import annotations

from flask import Flask

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
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


def register(app: Flask) -> None:
    hsts = None
    if app.config["SHOP_ENV"] == "production" and app.config["SHOP_HSTS_SECONDS"] > 0:
        # Production is served over HTTPS (its cookies are Secure): browsers should never try
        # plain HTTP again.
        hsts = f"max-age={app.config['SHOP_HSTS_SECONDS']}; includeSubDomains"

    @app.after_request
    def set_security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", hsts)
        return response
