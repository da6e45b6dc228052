"""Cart writes while strangers hammer the sign-in form and the mail relay hangs.

    .venv/bin/python bench/write_contention.py                 # 200 cart writes, 4 attackers
    .venv/bin/python bench/write_contention.py --writes 60 --attackers 2

The hostile review's first finding: a sign-in hashed its password, and a reset sent its mail, while
holding SQLite's one write lock, so failed sign-ins from rotating addresses and a relay that never
answers stalled every shopper's cart. This serves a small seeded shop with gunicorn (4 workers),
a private Redis for the limits, the job worker, and a mail relay on loopback that accepts
connections and never answers; then one signed-in shopper makes cart writes, first alone (the
baseline, same run) and then while ``--attackers`` clients send failed sign-ins and reset requests
from rotating loopback addresses (127.0.0.x). It prints the cart writes' p50, p99 and maximum in
both phases, the 5xx count, "database is locked" answers, and checks no accepted write was lost.
Only 127.0.0.1 is ever targeted and every run stops by itself.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._retail import machine  # noqa: E402
from bench.loadgen import LoopbackBrowser, percentile  # noqa: E402
from bench.servers import (  # noqa: E402
    SilentMailServer,
    flask,
    gunicorn,
    redis_server,
    shop_env,
    worker,
)

ROOT = Path(__file__).resolve().parents[1]
SHOPPER, PASSWORD = "writer@example.com", "writer-password-1"


def _attack(base: str, index: int, stop: threading.Event, counts: dict) -> None:
    """Failed sign-ins (and now and then a reset request) from a new loopback address each time."""
    n = 0
    while not stop.is_set():
        n += 1
        address = f"127.0.{10 + index}.{1 + n % 250}"
        browser = LoopbackBrowser(base, address)
        try:
            if n % 5 == 0:
                form = {"csrf_token": browser.csrf("/auth/reset"), "email": SHOPPER}
                status = browser.request("POST", "/auth/reset", form)[0]
            else:
                status = browser.login(SHOPPER, f"guess-{index}-{n}")[0]
        except (OSError, AssertionError):  # a timeout, or an error page where a form was due
            status = "failed"
        counts[status] = counts.get(status, 0) + 1


def _cart_writes(base: str, product_ids: list[int], writes: int) -> dict:
    """``writes`` alternating cart adds and quantity updates; latencies and what went wrong."""
    shopper = LoopbackBrowser(base, "127.0.0.2")
    status, _ = shopper.login(SHOPPER, PASSWORD)
    assert status == 302, f"the shopper could not sign in ({status})"
    token = shopper.csrf("/cart")
    latencies, statuses, locked, accepted_adds = [], {}, 0, 0
    for n in range(writes):
        product_id = product_ids[n % len(product_ids)]
        if n % 2 == 0:
            path, form = "/cart/add", {"product_id": product_id, "quantity": 1}
        else:
            path, form = f"/cart/update/{product_id}", {"quantity": 1 + n % 3}
        started = time.perf_counter()
        try:
            status, _, text = shopper.request("POST", path, {"csrf_token": token, **form})
        except OSError:  # no answer within the client's 30 s
            status, text = 599, ""
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        locked += "database is locked" in text
        accepted_adds += path == "/cart/add" and status < 400
    return {
        "writes": writes,
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors": sum(v for k, v in statuses.items() if k >= 500),
        "database_locked": locked,
        "accepted_adds": accepted_adds,
    }


def run(folder: Path, writes: int, attackers: int) -> dict:
    """Both phases against one server; returns the figures (the caller prints or asserts)."""
    relay = SilentMailServer()
    try:
        with redis_server(folder / "redis") as redis_url:
            env = shop_env(
                folder,
                RATELIMIT_STORAGE_URI=redis_url,
                SHOP_MAIL_URL=f"smtp://127.0.0.1:{relay.port}",
                SHOP_RETRAIN_SCHEDULE="off",
            )
            flask(env, "db", "upgrade")
            flask(env, "seed", "--users", "20", "--products", "30", "--events", "2000", "--quiet")
            flask(env, "create-admin", SHOPPER, "--password", PASSWORD)
            with closing(sqlite3.connect(folder / "shop.db")) as conn, conn:
                conn.execute("UPDATE users SET is_admin = 0 WHERE email = ?", (SHOPPER,))
                product_ids = [  # the best-stocked products on sale: no add is refused for stock
                    row[0]
                    for row in conn.execute(
                        "SELECT id FROM products WHERE listed "
                        "ORDER BY coalesce(stock, 1000000) DESC, id LIMIT 8"
                    )
                ]
            with (
                worker(env, folder / "worker.log"),
                gunicorn(env, workers=4, log=folder / "gunicorn.log") as base,
            ):
                quiet = _cart_writes(base, product_ids, writes)
                stop, counts = threading.Event(), {}
                threads = [
                    threading.Thread(target=_attack, args=(base, i, stop, counts), daemon=True)
                    for i in range(attackers)
                ]
                for thread in threads:
                    thread.start()
                time.sleep(1.0)  # the attack is under way before the first measured write
                try:
                    busy = _cart_writes(base, product_ids, writes)
                finally:
                    stop.set()
                    for thread in threads:
                        thread.join(timeout=60)
            with closing(sqlite3.connect(folder / "shop.db")) as conn:
                recorded = conn.execute(
                    "SELECT count(*) FROM events e JOIN users u ON u.id = e.user_id "
                    "WHERE u.email = ? AND e.kind = 'add_to_cart'",
                    (SHOPPER,),
                ).fetchone()[0]
    finally:
        relay.close()
    return {
        "quiet": quiet,
        "under_attack": busy,
        "attack_answers": {str(k): v for k, v in sorted(counts.items(), key=str)},
        "attackers": attackers,
        "adds_accepted": quiet["accepted_adds"] + busy["accepted_adds"],
        "adds_recorded": recorded,
        "p99_ratio": round(busy["p99_ms"] / max(quiet["p99_ms"], 0.1), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "write_contention.json"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shop-contention-") as tmp:
        result = run(Path(tmp), args.writes, args.attackers)
    result["machine"] = machine()
    for phase in ("quiet", "under_attack"):
        r = result[phase]
        print(
            f"{phase:>12}: {r['writes']} cart writes  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms"
            f"  max {r['max_ms']} ms  5xx {r['server_errors']}  locked {r['database_locked']}"
        )
    print(
        f"attack answers {result['attack_answers']}; p99 under attack / quiet "
        f"{result['p99_ratio']}x; adds accepted {result['adds_accepted']}, recorded "
        f"{result['adds_recorded']}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
