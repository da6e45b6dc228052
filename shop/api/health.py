"""``GET /healthz``: the trivial route load tests compare the real pages against.

It touches neither the database nor the engine, so its throughput is the ceiling of the server itself.
"""

from __future__ import annotations

from flask import jsonify

from shop.api import bp


@bp.route("/healthz")
def healthz():
    return jsonify(status="ok")
