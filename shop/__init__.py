"""The shop: a Flask application factory.

``create_app`` reads like a table of contents. It binds extensions, blueprints, error handlers and CLI
commands; it never queries the database, trains a model or touches the network.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from config import DEFAULT_SECRET_KEY, Config, get_config


def create_app(config: type[Config] | dict[str, Any] | str | None = None) -> Flask:
    """Build an application.

    ``config`` may be a config class, the name of one (``"testing"``), or a mapping of overrides
    applied on top of the class picked by ``SHOP_ENV``.
    """
    app = Flask(
        __name__,
        template_folder="../templates",
        static_folder="../static",
        instance_relative_config=True,
    )
    configure(app, config)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_security_headers(app)
    register_http_caching(app)
    register_page_cache(app)
    register_static_files(app)
    register_commands(app)
    return app


def configure(app: Flask, config: type[Config] | dict[str, Any] | str | None) -> None:
    if isinstance(config, str) or config is None:
        app.config.from_object(get_config(config))
    elif isinstance(config, dict):
        app.config.from_object(get_config(config.get("SHOP_ENV")))
        app.config.update(config)
    else:
        app.config.from_object(config)
    _ensure_sqlite_folder(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config["SHOP_ENV"] == "production":
        check_production_config(app.config)
    if app.config["SHOP_PROXY_COUNT"] > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["SHOP_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


MIN_SECRET_KEY_BYTES = 32


def check_production_config(config: dict[str, Any]) -> None:
    """Refuse settings that are fine on a laptop and unsafe on the internet."""
    key = config["SECRET_KEY"] or ""
    key_bytes = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if key == DEFAULT_SECRET_KEY or len(key_bytes) < MIN_SECRET_KEY_BYTES:
        raise RuntimeError(
            f"SECRET_KEY is unset, the development default or shorter than {MIN_SECRET_KEY_BYTES} "
            "bytes; set a long random SECRET_KEY (python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))') before starting the shop with SHOP_ENV=production."
        )
    if not config.get("SERVER_NAME") and not config.get("TRUSTED_HOSTS"):
        raise RuntimeError(
            "Set SHOP_SERVER_NAME (the shop's host name) or SHOP_TRUSTED_HOSTS (a comma-separated "
            "list of host names) with SHOP_ENV=production: absolute URLs must not come from "
            "whatever Host header a client sends."
        )


def _ensure_sqlite_folder(uri: str) -> None:
    """A fresh checkout has no instance/ folder yet; SQLite will not create it for us."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + ":memory:"):
        path = uri[len(prefix) :].split("?", 1)[0]
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


def register_extensions(app: Flask) -> None:
    from shop import database, limits_storage
    from shop.extensions import (
        cache,
        csrf,
        db,
        limiter,
        local_cache,
        local_pages,
        local_shopper_pages,
        login_manager,
        migrate,
    )
    from shop.services import activity

    db.init_app(app)
    database.configure_engine_events(app)
    activity.register()
    migrate.init_app(
        app, db, directory=os.path.normpath(os.path.join(app.root_path, "..", "migrations"))
    )
    csrf.init_app(app)
    cache.init_app(app)
    local_cache.init_app(
        app,
        config={
            "CACHE_TYPE": app.config["SHOP_LOCAL_CACHE_TYPE"],
            "CACHE_THRESHOLD": app.config["SHOP_LOCAL_CACHE_ENTRIES"],
            "CACHE_DEFAULT_TIMEOUT": app.config["SHOP_LOCAL_CACHE_SECONDS"],
            "CACHE_NO_NULL_WARNING": True,
        },
    )
    # Whole pages of visitors and of signed-in shoppers (shop.page_cache), each in its own store.
    for pages, setting in ((local_pages, "SHOP_PAGE"), (local_shopper_pages, "SHOP_SHOPPER_PAGE")):
        pages.init_app(
            app,
            config={
                "CACHE_TYPE": "SimpleCache",
                "CACHE_THRESHOLD": app.config[f"{setting}_CACHE_ENTRIES"],
                "CACHE_DEFAULT_TIMEOUT": max(app.config[f"{setting}_CACHE_SECONDS"], 1),
            },
        )
    # Redis URLs get the store that falls back to memory while Redis is down (shop.limits_storage).
    app.config["RATELIMIT_STORAGE_URI"] = limits_storage.storage_uri(
        app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    )
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"

    from shop import jobs
    from shop.training import tasks  # noqa: F401  registers the jobs, checks SHOP_RETRAIN_SCHEDULE

    jobs.init_app(app)

    from shop.services.model_blobs import open_blob_store
    from shop.services.model_store import RecommenderStore

    app.extensions["recommender_store"] = RecommenderStore(
        app.config["SHOP_MODEL_DIR"],
        check_interval=float(app.config.get("SHOP_MODEL_CHECK_SECONDS", 5)),
        shared=open_blob_store(
            app.config.get("SHOP_MODEL_STORE", "local"),
            app.config["SQLALCHEMY_DATABASE_URI"],
            int(app.config.get("SHOP_SQLITE_BUSY_TIMEOUT_MS", 15000)),
        ),
    )


def register_blueprints(app: Flask) -> None:
    from shop.admin import bp as admin_bp
    from shop.api import bp as api_bp
    from shop.auth import bp as auth_bp
    from shop.cart import bp as cart_bp
    from shop.catalog import bp as catalog_bp
    from shop.converters import IdConverter
    from shop.feedback import bp as feedback_bp
    from shop.search import bp as search_bp
    from shop.seo import bp as seo_bp

    app.url_map.converters["id"] = IdConverter  # before the routes that use <id:...> are added
    app.register_blueprint(catalog_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(search_bp)
    app.register_blueprint(feedback_bp, url_prefix="/feedback")
    app.register_blueprint(cart_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(api_bp)
    app.register_blueprint(seo_bp)


def register_errorhandlers(app: Flask) -> None:
    from shop import errors

    errors.register(app)


def register_template_helpers(app: Flask) -> None:
    from shop import templating

    templating.register(app)


def register_security_headers(app: Flask) -> None:
    from shop import security

    security.register(app)


def register_http_caching(app: Flask) -> None:
    from shop import http_cache

    http_cache.register(app)


def register_page_cache(app: Flask) -> None:
    from shop import page_cache

    page_cache.register(app)


def register_static_files(app: Flask) -> None:
    from shop import static_files

    static_files.register(app)


def register_commands(app: Flask) -> None:
    from shop.cli import register

    register(app)
