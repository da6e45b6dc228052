"""The page-speed table: each page's throughput against /healthz, served by gunicorn, in one run.

    .venv/bin/python bench/page_speed.py                    # 3,000 shoppers, 1,000 products, 150k events
    .venv/bin/python bench/page_speed.py --workdir DIR      # reuse a prepared shop folder
    .venv/bin/python bench/page_speed.py --quick            # 300 / 200 / 15,000, 3 s rounds

Seeds and trains a shop in a temporary folder (``bench/servers.py``), serves it with gunicorn
(4 sync workers) on 127.0.0.1 and drives /healthz, the signed-in home page, the signed-in product
page (random products) and a visitor's home page with wrk (8 connections) in interleaved rounds,
so every page is measured under the same machine noise as /healthz. The figure is each page's
median requests per second over the rounds divided by /healthz's, against the goals of the issue
that set them, with the signed-in home page's p99. Only loopback is targeted; the run stops by
itself. Results go to ``bench/results/page_speed.json``.

Before the rounds another signed-in shopper opens every product page once on each server, as in a
shop that has been open a while (the bench's shoppers rate products, which changes the shop's state
and so every kept page); the bench's shopper still sees each product for the first time.

The bench asks the same shopper's pages again and again, so most signed-in home pages come from
the shopper's kept copies (``shop.page_cache``; a product page's first view moves the shopper's
version and rebuilds them). A second gunicorn on the same shop, with those copies turned off
(``SHOP_SHOPPER_PAGE_CACHE_SECONDS=0``), serves the same signed-in pages in the same rounds: the
rows marked "built every time" are what a shopper's first sight of a page costs. That server does
not fill product pages into shared frames either (``SHOP_PAGE_FRAMES=false``, ``shop.page_frames``):
each of its product pages is rendered whole, as the first shopper's sight of a product after a
change to the shop is.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._retail import machine  # noqa: E402
from bench.load_bench import LUA_REPORT, signed_in_shopper, wrk  # noqa: E402
from bench.servers import (  # noqa: E402
    add_size_arguments,
    chosen_size,
    gunicorn,
    ready_shop,
)

FULL = {"users": 3_000, "products": 1_000, "events": 150_000, "seconds": 10}
QUICK = {"users": 300, "products": 200, "events": 15_000, "seconds": 3}
HOME_P99_GOAL_MS = 40.0
BUILT = "built every time"
# name -> (path, signed in, goal as a fraction of /healthz, served with the shoppers' page cache)
ROUTES = {
    "/healthz": ("/healthz", False, None, True),
    "home, signed in": ("/", True, 0.15, True),
    "product page, signed in": ("/products/", True, 0.20, True),
    "home for a visitor, through the app (no proxy)": ("/", False, 0.30, True),
    f"home, signed in, {BUILT}": ("/", True, None, False),
    f"product page, signed in, {BUILT}": ("/products/", True, None, False),
}


def visit_every_product(bases: list[str], cookie: str, product_ids: list[int]) -> None:
    """Ask each product page once on each server, four at a time."""

    def visit(url: str) -> None:
        request = urllib.request.Request(url, headers={"Cookie": cookie})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
        except urllib.error.HTTPError:  # a hidden product: 404
            pass

    urls = [f"{base}/products/{product_id}" for base in bases for product_id in product_ids]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(visit, urls))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_size_arguments(parser, "a small shop and 3 s rounds")
    parser.add_argument("--seconds", type=int, help="per route per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "results" / "page_speed.json"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    size = chosen_size(args, FULL, QUICK)
    workdir, env, product_ids, counts = ready_shop(
        args.workdir, size["users"], size["products"], size["events"], prefix="shop-pages-"
    )
    script = workdir / "report.lua"
    script.write_text(LUA_REPORT)
    ids = {"WRK_PATH_PREFIX": "/products/", "WRK_IDS": " ".join(map(str, product_ids))}

    runs: dict[str, list[dict]] = {name: [] for name in ROUTES}
    with ExitStack() as servers:
        kept = servers.enter_context(
            gunicorn(env, workers=args.workers, log=workdir / "gunicorn.log")
        )
        built = servers.enter_context(
            gunicorn(
                {**env, "SHOP_SHOPPER_PAGE_CACHE_SECONDS": "0", "SHOP_PAGE_FRAMES": "false"},
                workers=args.workers,
                log=workdir / "gunicorn-built.log",
            )
        )
        cookie = signed_in_shopper(kept, product_ids)  # one secret key: the cookie works on both
        # Another shopper has opened every product page once, as in a shop that has been open a
        # while (the bench's shopper rated products: that changed the shop's state and every
        # kept page); the bench's shopper still sees each product for the first time.
        visit_every_product([kept, built], signed_in_shopper(kept, product_ids), product_ids)
        for path, signed, _, cached in ROUTES.values():  # warm every worker
            extra = ids if path == "/products/" else {}
            base = kept if cached else built
            wrk(base + path, 2, args.connections, script, extra, cookie if signed else "")
        for round_no in range(args.rounds):
            for name, (path, signed, _, cached) in ROUTES.items():
                extra = ids if path == "/products/" else {}
                base = kept if cached else built
                result = wrk(
                    base + path,
                    size["seconds"],
                    args.connections,
                    script,
                    extra,
                    cookie if signed else "",
                )
                runs[name].append(result)
                print(
                    f"round {round_no + 1} {name:48s} {result['rps']:8.1f} req/s  "
                    f"p99 {result['p99_ms']:7.1f} ms  non-2xx {result['non2xx']}"
                )

    base_rps = statistics.median(r["rps"] for r in runs["/healthz"])
    summary = {}
    for name, results in runs.items():
        med = {k: statistics.median(r[k] for r in results) for k in ("rps", "p50_ms", "p99_ms")}
        med["ratio"] = med["rps"] / base_rps
        med["goal"] = ROUTES[name][2]
        med["non2xx"] = sum(r["non2xx"] for r in results)
        summary[name] = med
    info = machine()
    print()
    print(
        f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}; gunicorn "
        f"{args.workers} sync workers; wrk -c{args.connections}, {args.rounds} interleaved rounds "
        f"of {size['seconds']} s"
    )
    print(
        f"shop: {counts['users']:,} shoppers, {counts['products']:,} products, "
        f"{counts['events']:,} events; /healthz {base_rps:,.0f} req/s"
    )
    print()
    print("| route | × `/healthz` in the same run | p99 | goal |")
    print("| --- | --- | --- | --- |")
    for name, med in summary.items():
        if name == "/healthz":
            continue
        figure = (
            f"| {name} | {med['ratio']:.3f}x ({med['rps']:,.0f} req/s) | {med['p99_ms']:.1f} ms"
        )
        if med["goal"] is None:
            print(f"{figure} | (no goal: what a page costs to build) |")
            continue
        goal = f"≥ {med['goal']:.2f}x"
        met = med["ratio"] >= med["goal"]
        if name == "home, signed in":
            goal += f", p99 ≤ {HOME_P99_GOAL_MS:.0f} ms at {args.connections} connections"
            met = met and med["p99_ms"] <= HOME_P99_GOAL_MS
        met = "met" if met else "not met"
        print(f"{figure} | {goal}: {met} |")
    home = summary["home, signed in"]
    met = "met" if home["p99_ms"] <= HOME_P99_GOAL_MS else "not met"
    print(
        f"\np99 of the signed-in home page at {args.connections} connections: "
        f"{home['p99_ms']:.1f} ms (goal ≤ {HOME_P99_GOAL_MS:.0f} ms: {met})"
    )
    settings = {key: getattr(args, key) for key in ("workers", "connections", "rounds")}
    payload = {"machine": info, "shop": counts, **settings, "seconds": size["seconds"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**payload, "summary": summary, "runs": runs}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
