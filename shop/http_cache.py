"""Cache-Control for pages: what a shared cache (nginx, Varnish, a CDN) in front may keep.

A visitor who has not signed in and has nothing in the session (no cart, no CSRF token, no
flashed message) sees the same home, listing, product and search pages as every other such
visitor, so those answers say ``public, max-age=0, s-maxage=60, stale-while-revalidate=300``: a
proxy in front serves them for a minute without asking the shop (and for five more while it
fetches a fresh copy in the background). The browser itself keeps no fresh copy (``max-age=0``):
a visitor who signs in or fills a cart and then follows a link home must see the page with their
name and cart, not the copy from before, and the browser cannot tell those apart (no ``Vary:
Cookie``, see below). Everything that depends on who asks says ``private``: a signed-in shopper's
pages also say ``no-store`` (their cart, orders and picks must not stay on a shared computer's
disk after sign-out), a visitor's pages once the session holds something say ``no-cache``.

Flask adds ``Vary: Cookie`` to every response that looked at the session, and every page does (the
header's cart count). On a public answer it is dropped: the answer was made for a request without
a session, and many caches refuse or fragment on ``Vary: Cookie``. The proxy's own rule (bypass
the cache when the request carries the session or remember cookie, README "Caching pages") keeps
shoppers away from the visitors' copies; a shopper's own pages are ``private, no-store`` and so
are never stored by a shared cache in the first place.
"""

from __future__ import annotations

from flask import Flask, Response, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

#: The pages a visitor without a session may get from a shared cache.
PUBLIC_PAGES = frozenset(
    {
        "catalog.index",
        "catalog.products",
        "catalog.product_detail",
        "catalog.product_reviews",
        "search.search",
    }
)
SIGNED_IN = "private, no-store"
VISITOR_WITH_SESSION = "private, no-cache"


def signed_in() -> bool:
    try:
        return bool(current_user and current_user.is_authenticated)
    except SQLAlchemyError:  # the error page of a broken database: nobody can be looked up
        return False


def public_page_policy(shared_max_age: int, stale: int) -> str:
    """``s-maxage`` is for shared caches only; ``stale-while-revalidate``: for ``stale`` seconds
    more a cache may answer at once with its old copy while it fetches a fresh one, so no visitor
    waits for the refresh."""
    return f"public, max-age=0, s-maxage={shared_max_age}, stale-while-revalidate={stale}"


def cache_control_for(response: Response, public_policy: str) -> str | None:
    """The Cache-Control a page's response gets, or ``None`` to leave it without one."""
    if signed_in():
        return SIGNED_IN
    if session or session.modified or response.headers.get("Set-Cookie"):
        return VISITOR_WITH_SESSION
    if (
        request.endpoint in PUBLIC_PAGES
        and request.method in ("GET", "HEAD")
        and response.status_code == 200
    ):
        return public_policy
    return None


class PageSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, except that a public answer does not say ``Vary: Cookie``
    (the session is saved after every ``after_request`` hook, so the hook cannot remove it)."""

    def save_session(self, app: Flask, session, response: Response) -> None:  # noqa: ANN001
        super().save_session(app, session, response)
        if response.cache_control.public and not response.headers.get("Set-Cookie"):
            response.vary.discard("Cookie")


def register(app: Flask) -> None:
    app.session_interface = PageSessionInterface()
    policy = public_page_policy(
        app.config["SHOP_PAGE_MAX_AGE"], app.config["SHOP_PAGE_STALE_SECONDS"]
    )

    @app.after_request
    def set_cache_control(response: Response) -> Response:
        if "Cache-Control" in response.headers:  # files and feeds set their own
            return response
        value = cache_control_for(response, policy)
        if value:
            response.headers["Cache-Control"] = value
        return response
