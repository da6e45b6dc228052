from shop.api import bp  # noqa: F401
