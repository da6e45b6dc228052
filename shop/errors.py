"""Error pages: HTML for the site, JSON for the API and for fetch() calls."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask.globals import _cv_request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

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
        return error_response(
            400,
            "Your form expired or was sent without its security token. "
            "Reload the page and try again.",
            "Form expired",
        )

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
