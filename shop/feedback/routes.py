from shop.feedback import bp  # noqa: F401
