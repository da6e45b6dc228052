"""The admin dashboard with and without its cache: first load, reloads, and the figures compared.

    .venv/bin/python bench/dashboard_cache.py                       # 3,000 users, 1,500 products, 300k events
    .venv/bin/python bench/dashboard_cache.py --users 500 --products 300 --events 40000

Seeds a shop into a temporary folder, then, in one process with the shop's default cache (files in
the folder), signs in as the admin and times GET /admin/: the load that computes the figures (the
cache just forgotten, as after a retrain or an import) and the reloads within the cache period. It
checks that the cached figures equal a fresh computation from SQL before printing the ratio.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._retail import machine, write_json  # noqa: E402
from bench.servers import flask, shop_arguments, shop_env  # noqa: E402

ADMIN = ("bench-admin@example.com", "bench-admin-password")
FIGURES = ("totals", "top20", "best_sellers", "most_liked", "highest_rated", "funnel", "charts")


def main(argv: list[str] | None = None) -> int:
    parser = shop_arguments(__doc__.split("\n\n")[0], "dashboard_cache")
    parser.add_argument("--rounds", type=int, default=3, help="forget + load + reloads, repeated")
    parser.add_argument("--reloads", type=int, default=10)
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="shop-dashboard-"))
    env = shop_env(workdir)
    if not (workdir / "shop.db").exists():
        flask(env, "db", "upgrade")
        flask(env, "seed", "--users", str(args.users), "--products", str(args.products),
              "--events", str(args.events), "--quiet",
              "--admin-email", ADMIN[0], "--admin-password", ADMIN[1])  # fmt: skip

    os.environ.update(env)  # the config classes read the environment when first imported
    from shop import create_app
    from shop.services import analytics
    from shop.services.caches import forget_shop_figures

    app = create_app(
        {
            "CACHE_TYPE": "FileSystemCache",
            "CACHE_DIR": str(workdir / "cache"),
            "WTF_CSRF_ENABLED": False,
        }
    )
    client = app.test_client()
    answer = client.post("/auth/login", data={"email": ADMIN[0], "password": ADMIN[1]})
    if answer.status_code != 302:
        raise RuntimeError(f"the admin could not sign in ({answer.status_code})")

    def load() -> float:
        started = time.perf_counter()
        response = client.get("/admin/")
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"/admin/ answered {response.status_code}")
        return elapsed

    with app.app_context():
        first_ever = load()  # a fresh process: imports, connections, k-means warm-up
        cold, warm = [], []
        for _ in range(args.rounds):
            forget_shop_figures()
            cold.append(load())
            warm.extend(load() for _ in range(args.reloads))
        kept = analytics.cached_dashboard()
        fresh = analytics.dashboard()
        same = all(kept[name] == fresh[name] for name in FIGURES)
        if not same:
            raise RuntimeError("the cached figures differ from a fresh computation")

    cold_ms, warm_ms = 1000 * statistics.median(cold), 1000 * statistics.median(warm)
    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}")
    print(f"shop: {args.users:,} users, {args.products:,} products, {args.events:,} events")
    print(f"first load in a fresh process: {1000 * first_ever:.0f} ms")
    print(
        f"load that computes the figures: median {cold_ms:.0f} ms over {args.rounds}; reload "
        f"within the cache period: median {warm_ms:.1f} ms over {len(warm)}: "
        f"{cold_ms / warm_ms:.0f}x faster; cached figures equal a fresh computation: {same}"
    )
    write_json(
        args.out,
        {
            "machine": info,
            "shop": {"users": args.users, "products": args.products, "events": args.events},
            "first_load_ms": round(1000 * first_ever, 1),
            "compute_ms": [round(1000 * x, 1) for x in cold],
            "reload_ms": [round(1000 * x, 2) for x in warm],
            "speedup_median": round(cold_ms / warm_ms, 1),
            "figures_match": same,
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
