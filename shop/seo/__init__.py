"""What search engines and link previews read: canonical links, robots rules, the sitemap and
schema.org JSON-LD.

The pages declare what they are (templates/base.html's ``description``, ``canonical`` and ``robots``
blocks); this blueprint serves ``/robots.txt`` and ``/sitemap.xml`` and gives the templates the
helpers that turn a page into absolute URLs and structured data. Every absolute URL starts from the
configured base URL (``SHOP_BASE_URL``, else ``SHOP_SERVER_NAME``), never from the Host header a
client sends.
"""

from flask import Blueprint

bp = Blueprint("seo", __name__)

from shop.seo import routes, tags  # noqa: E402,F401
