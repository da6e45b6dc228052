"""Flask extensions, created once and bound to an app in :func:`shop.create_app`."""

from __future__ import annotations

from flask_caching import Cache
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations reproducible and let batch mode alter SQLite tables.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
cache = Cache()
# This process's own cache (Flask-Caching's SimpleCache) for what is keyed by its version: product
# cards by the product's state, engine rows by the model version. Such a key changes with the data,
# so nothing has to clear it from another process, and a read costs no network hop.
local_cache = Cache()
# This process's whole pages for visitors without a session (shop.page_cache): apart from the
# cards' cache so that a few hundred pages of 50-100 kB never push thousands of cards out.
local_pages = Cache()
# Signed-in shoppers' own pages, apart again: many shoppers' pages never push visitors' ones out.
local_shopper_pages = Cache()
# No default limits: only the routes that need a limit (sign-in) declare one.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
