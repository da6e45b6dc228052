"""Error pages: HTML for the site, JSON for the API and for fetch() calls."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, flash, jsonify, redirect, render_template, request, url_for
from flask.globals import _cv_request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf
from werkzeug.exceptions import HTTPException

from shop import kept_forms
from shop.extensions import db


def wants_json() -> bool:
    """JSON for the API and for fetch() calls that ask for it; HTML for everyone else."""
    if request.blueprint == "api" or request.path.startswith("/recommend"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(status: int, message: str, title: str | None = None):
    if wants_json():
        return jsonify(error={"status": status, "message": message}), status
    return (
        render_template("errors/error.html", status=status, title=title, message=message),
        status,
    )


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        if request.blueprint in ("admin", "api"):
            # The admin's forms keep the plain refusal (their pages are one click from a reload).
            return error_response(
                400,
                "Your form expired or was sent without its security token. "
                "Reload the page and try again.",
                "Form expired",
            )
        return session_expired()

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        if _cv_request.get().url_adapter is None:
            # The Host header is not one of TRUSTED_HOSTS: no URL can be built for this request,
            # so the page (whose links all come from url_for) is replaced by plain text.
            return "Unknown host.", status, {"Content-Type": "text/plain; charset=utf-8"}
        messages = {
            404: "We could not find that page. It may have moved or never existed.",
            403: "You do not have permission to see this page.",
            401: "Please sign in to continue.",
            405: "That action is not allowed here.",
            413: "That request is too large.",
            429: "Too many attempts. Please wait a little and try again.",
        }
        message = exc.description if status in (400, 409, 422) else messages.get(status)
        return error_response(status, message or exc.description or exc.name, exc.name)

    @app.errorhandler(500)
    def internal_error(exc):
        # A failed flush leaves the session unusable; roll back so the next request starts clean.
        db.session.rollback()
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(
            500, "Something went wrong on our side. We have been told about it.", "Server error"
        )


#: Posts that need an account: a shopper whose session ended is sent to sign in, then back.
ACCOUNT_ONLY = ("feedback.",)


def _page_of_form() -> str:
    """The page the expired form was on, where the shopper is sent back to."""
    endpoint = request.endpoint or ""
    product_id = kept_forms.product_id()
    if endpoint.startswith("feedback.") and product_id:
        anchor = "#rate" if endpoint == "feedback.rate" else "#like"
        return url_for("catalog.product_detail", product_id=product_id) + anchor
    if endpoint == "cart.add" and product_id:
        return url_for("catalog.product_detail", product_id=product_id)
    if endpoint in ("cart.update", "cart.remove"):
        return url_for("cart.view_cart")
    if endpoint in ("cart.checkout", "cart.checkout_review_post"):
        return url_for("cart.checkout_details")
    adapter = _cv_request.get().url_adapter
    if adapter is not None and "GET" in (adapter.allowed_methods(request.path) or ()):
        return request.full_path.rstrip("?")  # a page with its own form: show it again
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return url_for("catalog.index")


def session_expired():
    """A post whose CSRF token is missing or stale: nothing is done, and instead of an error page
    the shopper goes back to the form's page with what they typed (:mod:`shop.kept_forms`) and a
    message that says so; a shopper who is no longer signed in goes to sign in first, then back.
    fetch() calls get JSON: 401 to sign in, or 400 with a fresh token to send again with."""
    endpoint = request.endpoint or ""
    needs_account = endpoint.startswith(ACCOUNT_ONLY) and not current_user.is_authenticated
    if wants_json() and not needs_account:
        # fetch() keeps the form on the page itself: a fresh token, and pressing again works
        thing = kept_forms.what(endpoint) if kept_forms.same_origin() else None
    else:  # the page is left (to sign in, or reloaded): keep the fields for it
        thing = kept_forms.what(endpoint) if kept_forms.keep(endpoint) else None
    back = _page_of_form()
    if needs_account:
        message = "Your session expired, so you are signed out. Sign in and you are taken back"
        message += f"; we kept your {thing}." if thing else "."
        flash(message, "warning")
        login = url_for("auth.login", next=back.split("#")[0])
        if wants_json():
            return jsonify(error={"status": 401, "message": message}, login_url=login), 401
        return redirect(login, 303)
    message = "Your session expired, so nothing was changed"
    message += (
        f"; we kept your {thing}: check it and send it again." if thing else ": please try again."
    )
    if wants_json():
        return jsonify(error={"status": 400, "message": message}, csrf_token=generate_csrf()), 400
    flash(message, "warning")
    return redirect(back, 303)
