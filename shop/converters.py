"""URL converters: an id in a URL is checked before any view sees it."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, Map

from shop.database import MAX_ID


class IdConverter(IntegerConverter):
    """``<id:name>``: a row id from 1 to :data:`shop.database.MAX_ID`.

    ``<int:...>`` takes any number of digits, and a number no row can have would reach the
    database (an OverflowError on SQLite, a DataError on PostgreSQL: a 500). Such a URL simply
    does not match, so the shopper gets the ordinary 404.
    """

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=MAX_ID)
