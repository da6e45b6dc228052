"""Password hashing and checking, always outside a write transaction (see shop.database).

scrypt is slow on purpose (~100 ms). Both functions end the request's transaction first, so no
other request waits for SQLite's write lock while a password is hashed, and an unknown account
costs one hash too, so timing does not tell which accounts exist.
"""

from __future__ import annotations

import secrets
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

from shop.database import end_transaction
from shop.models import User

METHOD = "scrypt"  # memory-hard, Werkzeug's default since 3.0


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method=METHOD)


def matches(user: User | None, password: str) -> bool:
    """Whether ``password`` is the user's, in the same time whether or not the account exists."""
    stored = user.password_hash if user is not None else None
    end_transaction()
    if not stored:
        check_password_hash(_dummy_hash(), password)
        return False
    return check_password_hash(stored, password)


def new_hash(password: str) -> str:
    """The hash to store for a new password (assign it with User.set_password_hash)."""
    end_transaction()
    return generate_password_hash(password, method=METHOD)
