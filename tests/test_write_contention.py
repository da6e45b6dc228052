"""Cart writes stay fast and whole while strangers hammer the sign-in form and the relay hangs.

Real processes: gunicorn with 4 workers on one SQLite file, a private Redis, the job worker and a
mail relay on loopback that never answers (bench/write_contention.py, smaller). Before the rule in
shop/database.py, failed sign-ins hashed passwords and resets waited on the relay inside the write
lock, and cart writes answered 500 "database is locked".
"""

from __future__ import annotations

import pytest

from bench.write_contention import run

pytestmark = [pytest.mark.load, pytest.mark.slow]


def test_cart_writes_under_sign_in_attack_and_a_hanging_relay_never_fail(tmp_path, redis_url):
    # redis_url: skips without redis-server (fails in CI); run() starts a Redis of its own.
    result = run(tmp_path, writes=60, attackers=2)
    busy = result["under_attack"]
    assert busy["server_errors"] == 0, busy
    assert busy["database_locked"] == 0, busy
    assert result["quiet"]["server_errors"] == 0
    assert result["adds_recorded"] == result["adds_accepted"] == 60
    assert sum(v for k, v in result["attack_answers"].items() if k.startswith("5")) == 0
