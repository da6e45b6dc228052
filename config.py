"""Configuration classes for the shop.

Every setting comes from the environment so that the same code runs on a laptop, in CI and in
production. Booleans and numbers are parsed explicitly: ``SHOP_DEBUG=false`` must mean false.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("SHOP_INSTANCE_DIR", BASE_DIR / "instance"))

DEFAULT_SECRET_KEY = "dev-only-insecure-key-change-me"
# When the worker retrains on its own (SHOP_RETRAIN_SCHEDULE, read by shop.training.tasks).
DEFAULT_RETRAIN_SCHEDULE = "0 3 * * *"  # nightly at 03:00 local time

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool = False) -> bool:
    """Parse a boolean environment variable, refusing values that are neither true nor false."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name} must be one of {sorted(_TRUE | _FALSE - {''})}, got {raw!r}")


def _env_number(name: str, default: Any, parse: Callable[[str], Any], what: str) -> Any:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be {what}, got {raw!r}") from exc


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "an integer")


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def env_optional_int(name: str) -> int | None:
    """An integer, or None when the variable is unset or empty (the caller picks the default)."""
    return env_int(name, 0) if os.environ.get(name, "").strip() else None


def env_list(name: str) -> list[str] | None:
    """A comma-separated list (``a.example, b.example``), or None when unset or empty."""
    items = [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]
    return items or None


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'shop.db'}"


class Config:
    """Defaults shared by every environment."""

    SHOP_ENV = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", default_database_url())
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SHOP_MODEL_DIR = os.environ.get("SHOP_MODEL_DIR", str(INSTANCE_DIR / "models"))
    # Where published models are shared between hosts (shop.services.model_blobs): "local" (this
    # host's SHOP_MODEL_DIR only), "database" (the shop's database), or a URL read through fsspec
    # (file:///srv/shop-models; s3://bucket/models with the s3 extra, gs://... with gcs). With a
    # shared store SHOP_MODEL_DIR holds this host's checked copy of the current version.
    SHOP_MODEL_STORE = os.environ.get("SHOP_MODEL_STORE", "local")
    # How often each process asks whether a newer model was published (seconds).
    SHOP_MODEL_CHECK_SECONDS = env_int("SHOP_MODEL_CHECK_SECONDS", 5)
    SHOP_CURRENCY = os.environ.get("SHOP_CURRENCY", "GBP")
    SHOP_PAGE_SIZE = env_int("SHOP_PAGE_SIZE", 24)
    # What one search may cost the database in all, in ms (shop.search.budget): past it the
    # search is stopped and the page says so.
    SHOP_SEARCH_TIMEOUT_MS = env_int("SHOP_SEARCH_TIMEOUT_MS", 1000)
    # Sitemap files one client address may fetch (all files together).
    SHOP_SITEMAP_LIMIT = os.environ.get("SHOP_SITEMAP_LIMIT", "30 per minute")
    # "Only N left" from this many units down, unless a product sets its own threshold.
    SHOP_LOW_STOCK_THRESHOLD = env_int("SHOP_LOW_STOCK_THRESHOLD", 5)
    # Flask-Caching holds the dashboard's figures and the popular lists for SHOP_CACHE_SECONDS, in
    # Redis when REDIS_URL is set, else in files every process of this host shares (a retrain or an
    # import runs in another process than the web workers, and must be able to clear them).
    # Redis through shop.cache_backend: while Redis does not answer, pages are computed uncached.
    CACHE_TYPE = (
        "shop.cache_backend.FallbackRedisCache"
        if os.environ.get("REDIS_URL")
        else "FileSystemCache"
    )
    CACHE_REDIS_URL = os.environ.get("REDIS_URL", "")
    CACHE_DIR = os.environ.get("SHOP_CACHE_DIR", str(INSTANCE_DIR / "cache"))
    CACHE_KEY_PREFIX = "shop-cache:"
    CACHE_DEFAULT_TIMEOUT = env_int("SHOP_CACHE_SECONDS", 60)
    # Entries the files hold before the oldest are dropped (not used by Redis): every product page's
    # shared half is one, so a catalogue's worth must fit or the halves push each other out.
    CACHE_THRESHOLD = env_int("SHOP_CACHE_ENTRIES", 5000)
    # Each process's own cache (shop.extensions.local_cache): rendered product cards, engine rows.
    # Their keys carry the product's state or the model version, so they are never stale; the
    # threshold bounds the memory (a card is about 1.5 kB), "NullCache" turns it off.
    SHOP_LOCAL_CACHE_TYPE = os.environ.get("SHOP_LOCAL_CACHE_TYPE", "SimpleCache")
    SHOP_LOCAL_CACHE_ENTRIES = env_int("SHOP_LOCAL_CACHE_ENTRIES", 20_000)
    SHOP_LOCAL_CACHE_SECONDS = env_int("SHOP_LOCAL_CACHE_SECONDS", 3600)
    # Failed sign-ins (shop.auth.throttle): per account from one address, per address, and per
    # account from every address (browsers the account signed in from before are exempt).
    SHOP_LOGIN_LIMIT = os.environ.get("SHOP_LOGIN_LIMIT", "5 per 15 minutes")
    SHOP_LOGIN_IP_LIMIT = os.environ.get("SHOP_LOGIN_IP_LIMIT", "20 per 15 minutes")
    SHOP_LOGIN_ACCOUNT_LIMIT = os.environ.get("SHOP_LOGIN_ACCOUNT_LIMIT", "100 per hour")
    # The wait after the third failure from one (account, address); it doubles with each one after.
    SHOP_LOGIN_DELAY_SECONDS = env_int("SHOP_LOGIN_DELAY_SECONDS", 1)
    SHOP_REGISTER_LIMIT = os.environ.get("SHOP_REGISTER_LIMIT", "10 per hour")
    # Password-reset mails asked for, per client address and per email address.
    SHOP_RESET_LIMIT = os.environ.get("SHOP_RESET_LIMIT", "5 per hour")
    SHOP_RESET_EMAIL_LIMIT = os.environ.get("SHOP_RESET_EMAIL_LIMIT", "3 per hour")
    SHOP_EMAIL_CHANGE_LIMIT = os.environ.get("SHOP_EMAIL_CHANGE_LIMIT", "5 per hour")
    RATELIMIT_ENABLED = env_bool("SHOP_RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # A visitor's views and clicks of one product count once within this window (0: every time).
    SHOP_EVENT_WINDOW_SECONDS = env_int("SHOP_EVENT_WINDOW_SECONDS", 30 * 60)
    # A signed-in shopper's product page filled into a frame shared by every shopper
    # (shop.page_frames); false builds each shopper's page whole.
    SHOP_PAGE_FRAMES = env_bool("SHOP_PAGE_FRAMES", True)
    # How long a product page's frame and shared half are kept. Their key holds everything they
    # show but the popular products a short row is topped up with, which may be this much older.
    SHOP_PAGE_FRAME_SECONDS = env_int("SHOP_PAGE_FRAME_SECONDS", 600)
    # Views and clicks wait in each process at most this long and are written in one transaction
    # (shop.services.visits); sooner when SHOP_VISIT_BATCH wait. 0: each inside its request.
    SHOP_VISIT_FLUSH_SECONDS = env_float("SHOP_VISIT_FLUSH_SECONDS", 1.0)
    SHOP_VISIT_BATCH = env_int("SHOP_VISIT_BATCH", 200)
    SHOP_VISIT_BUFFER_MAX = env_int("SHOP_VISIT_BUFFER_MAX", 20_000)
    # One experiment list shown to one shopper counts once in this window (0: every time).
    SHOP_IMPRESSION_WINDOW_SECONDS = env_int("SHOP_IMPRESSION_WINDOW_SECONDS", 1800)
    # The worker deletes an experiment's impressions this many days after it ends, keeping its
    # per-variant results on the experiment (shop.experiments.retention).
    SHOP_IMPRESSION_RETENTION_DAYS = env_int("SHOP_IMPRESSION_RETENTION_DAYS", 90)
    SHOP_SQLITE_BUSY_TIMEOUT_MS = env_int("SHOP_SQLITE_BUSY_TIMEOUT_MS", 15000)
    # A retrain still queued or running after this long counts as failed, so it no longer blocks
    # the next one. (A run whose worker died on this host is failed as soon as a worker starts.)
    SHOP_RETRAIN_STALE_MINUTES = env_int("SHOP_RETRAIN_STALE_MINUTES", 120)
    # Where the collaborative ALS is fitted: "local" (implicit, in the worker) or "spark" (MLlib on
    # SPARK_MASTER; needs the spark extra and Java). The worker's retrains use it; `flask train
    # --backend` overrides it. See shop.training.spark_als.
    SHOP_TRAIN_BACKEND = os.environ.get("SHOP_TRAIN_BACKEND", "local")
    # The most recent interactions a training run reads into the worker's memory, where it fits
    # content, EASE, item-kNN, co-purchase, SVD, popularity, the ranker's validation (their ALS
    # fits too) and the evaluation. 0 is the whole log. Unset: the whole log on the local backend
    # (as before), the latest 2,000,000 on spark, whose served ALS still reads the whole log,
    # streamed from the database into Parquet in chunks (shop.training.event_log).
    SHOP_TRAIN_WINDOW_EVENTS = env_optional_int("SHOP_TRAIN_WINDOW_EVENTS")
    SPARK_MASTER = os.environ.get("SPARK_MASTER", "local[*]")
    SPARK_DRIVER_MEMORY = os.environ.get("SPARK_DRIVER_MEMORY", "1g")
    SPARK_SHUFFLE_PARTITIONS = env_int("SPARK_SHUFFLE_PARTITIONS", 8)
    # The Parquet the worker stages for Spark (system temp by default); a path every executor reads.
    SPARK_STAGING_DIR = os.environ.get("SPARK_STAGING_DIR", "")
    # Absolute URLs (the API's product links) are built from SERVER_NAME when it is set; otherwise
    # from the request's Host, which TRUSTED_HOSTS restricts (any other Host gets 400).
    SERVER_NAME = os.environ.get("SHOP_SERVER_NAME") or None
    TRUSTED_HOSTS = env_list("SHOP_TRUSTED_HOSTS")
    # Where search engines and link previews are told the shop lives (canonical links, the
    # sitemap, Open Graph and JSON-LD URLs), e.g. https://shop.example. Unset: https:// (http://
    # outside production) and SERVER_NAME; with neither, those absolute URLs are left out.
    SHOP_BASE_URL = os.environ.get("SHOP_BASE_URL") or None
    # How many reverse proxies sit in front of the shop and set X-Forwarded-For/-Proto/-Host;
    # 0 trusts none of those headers (the client address is the socket's).
    SHOP_PROXY_COUNT = env_int("SHOP_PROXY_COUNT", 0)
    SHOP_HSTS_SECONDS = env_int("SHOP_HSTS_SECONDS", 365 * 24 * 3600)
    # Outgoing mail (shop.mail): SMTP when set, else the log and files in SHOP_MAIL_DIR.
    SHOP_MAIL_URL = os.environ.get("SHOP_MAIL_URL", "")
    SHOP_MAIL_FROM = os.environ.get("SHOP_MAIL_FROM", "The Shop <shop@localhost>")
    SHOP_MAIL_DIR = os.environ.get("SHOP_MAIL_DIR", str(INSTANCE_DIR / "mail"))
    # Uploaded product pictures (shop.services.pictures), named by the sha256 of their bytes.
    SHOP_PICTURE_DIR = os.environ.get("SHOP_PICTURE_DIR", str(INSTANCE_DIR / "pictures"))
    # The job queue: Redis when REDIS_URL is set, else a SQLite file beside the database.
    REDIS_URL = os.environ.get("REDIS_URL", "")
    SHOP_JOBS_DB = os.environ.get("SHOP_JOBS_DB", str(INSTANCE_DIR / "jobs.db"))
    # Run queued jobs at once in the calling process (tests) instead of in a worker.
    SHOP_JOBS_IMMEDIATE = env_bool("SHOP_JOBS_IMMEDIATE", False)
    # The worker's CPU priority (os.nice increment): a retrain must not slow the web workers down.
    SHOP_WORKER_NICE = env_int("SHOP_WORKER_NICE", 19)
    # Checkout (shop.services.checkout, shop.payments). Delivery options: a price and, optionally,
    # the order value (before delivery) from which the option is free. Prices are strings (Decimal).
    SHOP_DELIVERY_OPTIONS = {
        "standard": {
            "label": "Standard delivery (3-5 working days)",
            "price": "3.95",
            "free_over": "50.00",
        },
        "express": {
            "label": "Express delivery (next working day)",
            "price": "8.95",
            "free_over": None,
        },
        "collection": {"label": "Collect from the shop", "price": "0.00", "free_over": None},
    }
    # The countries the shop delivers to: ISO code -> name, in the order the form lists them.
    SHOP_COUNTRIES = {
        "GB": "United Kingdom",
        "IE": "Ireland",
        "FR": "France",
        "DE": "Germany",
        "NL": "Netherlands",
    }
    # The payment methods offered, in this order (see shop.payments): bank_transfer, invoice,
    # on_collection (only with the collection delivery option).
    SHOP_PAYMENT_METHODS = env_list("SHOP_PAYMENT_METHODS") or [
        "bank_transfer",
        "invoice",
        "on_collection",
    ]
    SHOP_BANK_DETAILS = os.environ.get(
        "SHOP_BANK_DETAILS", "The Shop Ltd · Sort code 00-00-00 · Account 00000000"
    )
    SHOP_INVOICE_DAYS = env_int("SHOP_INVOICE_DAYS", 14)
    # A visitor's home, listing, product and search pages (no session): how long a shared cache in
    # front may keep them (s-maxage; browsers keep no fresh copy), and how much longer it may answer
    # with the old copy while it refreshes (shop.http_cache).
    # Fingerprinted, compressed copies of static/ (shop.static_files; `flask --app shop assets`).
    SHOP_STATIC_BUILD_DIR = os.environ.get("SHOP_STATIC_BUILD_DIR", str(INSTANCE_DIR / "static"))
    SHOP_PAGE_MAX_AGE = env_int("SHOP_PAGE_MAX_AGE", 60)
    SHOP_PAGE_STALE_SECONDS = env_int("SHOP_PAGE_STALE_SECONDS", 300)
    # The same pages kept whole in each process (shop.page_cache), keyed by the catalogue's state,
    # so that an edit shows at once; only the popularity lists (clicks, likes, sales) may lag by
    # these seconds. 0 turns it off. At most SHOP_PAGE_CACHE_ENTRIES pages (50-100 kB each).
    SHOP_PAGE_CACHE_SECONDS = env_int("SHOP_PAGE_CACHE_SECONDS", 10)
    SHOP_PAGE_CACHE_ENTRIES = env_int("SHOP_PAGE_CACHE_ENTRIES", 500)
    # A signed-in shopper's own home, listing and product pages, kept per process for the shopper
    # alone and keyed by everything they do (shop.page_cache), so a reload or a way back costs no
    # engine call. At most the impression window; 0 turns it off.
    SHOP_SHOPPER_PAGE_CACHE_SECONDS = env_int("SHOP_SHOPPER_PAGE_CACHE_SECONDS", 120)
    SHOP_SHOPPER_PAGE_CACHE_ENTRIES = env_int("SHOP_SHOPPER_PAGE_CACHE_ENTRIES", 500)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SHOP_SECURE_COOKIES", False)
    REMEMBER_COOKIE_DURATION = timedelta(days=env_int("SHOP_REMEMBER_DAYS", 30))
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = env_bool("SHOP_SECURE_COOKIES", False)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    # shop.security.check_csrf checks every POST instead of Flask-WTF's own hook: the same token
    # check, except that a visitor's first "Add to cart" (no session, so no token to compare and
    # no cookie yet) is checked by the browser's Origin / Sec-Fetch-Site headers.
    WTF_CSRF_CHECK_DEFAULT = False
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    DEBUG = env_bool("SHOP_DEBUG", False)
    TESTING = False


class DevelopmentConfig(Config):
    SHOP_ENV = "development"


class TestingConfig(Config):
    SHOP_ENV = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    SHOP_LOGIN_DELAY_SECONDS = 0  # the tests that check the delay turn it on
    CACHE_TYPE = "NullCache"  # tests change counts and look again at once
    CACHE_NO_NULL_WARNING = True
    SHOP_JOBS_IMMEDIATE = True  # a queued retrain runs inside the request that queued it
    SHOP_VISIT_FLUSH_SECONDS = 0.0  # a view is in the database when its page has arrived


class ProductionConfig(Config):
    SHOP_ENV = "production"
    SESSION_COOKIE_SECURE = env_bool("SHOP_SECURE_COOKIES", True)
    REMEMBER_COOKIE_SECURE = env_bool("SHOP_SECURE_COOKIES", True)


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def get_config(name: str | None = None) -> type[Config]:
    """Pick the config class named by ``SHOP_ENV`` (development when unset)."""
    name = (name or os.environ.get("SHOP_ENV") or "development").strip().lower()
    try:
        return CONFIGS[name]
    except KeyError as exc:
        raise ValueError(f"SHOP_ENV must be one of {sorted(CONFIGS)}, got {name!r}") from exc
