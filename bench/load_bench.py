"""Throughput and latency of the shop's main pages against a trivial route, on one server.

The pages: the signed-in home page (personal lists), a visitor's home page, a category listing,
a search and product pages; docs/deploy.md turns them into cores per million page views a day.

    .venv/bin/python bench/load_bench.py                       # 10k users, 5k products, 1M events
    .venv/bin/python bench/load_bench.py --users 500 --products 300 --events 50000 --seconds 5

Seeds a shop into a temporary folder, trains the engine, serves it with gunicorn on loopback and
drives each route with wrk (Debian's `wrk` package) in interleaved rounds, so that the trivial
route's figure is measured under the same machine noise as the real pages. The figure that matters
is each page's throughput as a fraction of /healthz's (the medians over rounds), not the raw numbers.
Only 127.0.0.1 is ever targeted and every run stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._retail import machine  # noqa: E402
from bench.loadgen import Ledger, Shopper, Stats  # noqa: E402
from bench.servers import gunicorn, ready_shop  # noqa: E402

LUA_REPORT = r"""
local ids = {}
local path_prefix = os.getenv("WRK_PATH_PREFIX")
init = function(args)
  for id in string.gmatch(os.getenv("WRK_IDS") or "", "%d+") do table.insert(ids, id) end
  math.randomseed(os.time())
end
request = function()
  if path_prefix and #ids > 0 then
    return wrk.format("GET", path_prefix .. ids[math.random(#ids)] .. "?src=bench")
  end
  return wrk.format("GET")
end
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def wrk(url: str, seconds: int, connections: int, script: Path, env_extra: dict, cookie: str):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script)]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    cmd.append(url)
    out = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **env_extra}, check=True
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    data = json.loads(line[len("WRKJSON ") :])
    secs = data["duration_us"] / 1e6
    return {
        "rps": data["requests"] / secs,
        "p50_ms": data["p50_us"] / 1000,
        "p95_ms": data["p95_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "requests": data["requests"],
        "non2xx": data["non2xx"],
        "socket_errors": data["socket_errors"],
    }


def signed_in_shopper(base: str, product_ids: list[int]) -> str:
    """Register a shopper over HTTP, give them some history, return their session cookie."""
    stats, ledger = Stats(), Ledger()
    shopper = Shopper(
        base,
        f"bench-{int(time.time())}@example.com",
        "bench-password-1",
        stats,
        ledger,
        threading.Lock(),
        random.Random(0),
        product_ids,
    )
    if not shopper.register():
        raise RuntimeError("could not register the bench shopper")
    for _ in range(6):
        shopper.rate()
    for _ in range(3):
        shopper.like()
    for _ in range(5):
        shopper.product()
    return "; ".join(f"{c.name}={c.value}" for c in shopper.jar)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10, help="per route per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="reuse a prepared shop folder")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "load_bench.json",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2

    workdir, env, product_ids, counts = ready_shop(
        args.workdir, args.users, args.products, args.events, prefix="shop-load-"
    )
    script = workdir / "report.lua"
    script.write_text(LUA_REPORT)

    routes = {
        "trivial /healthz": ("/healthz", {}, False),
        "home, signed in (personalised)": ("/", {}, True),
        "home, visitor": ("/", {}, False),
        "category listing": ("/products", {}, False),
        "search": ("/search?q=set", {}, False),
        "product page": (
            "/products/",
            {"WRK_PATH_PREFIX": "/products/", "WRK_IDS": " ".join(map(str, product_ids[:2000]))},
            True,
        ),
    }
    results: dict[str, list[dict]] = {name: [] for name in routes}
    with gunicorn(env, workers=args.workers, log=workdir / "gunicorn.log") as base:
        cookie = signed_in_shopper(base, product_ids)
        for path, extra, _ in routes.values():  # warm every worker's caches
            wrk(base + path, 2, args.connections, script, extra, cookie)
        for round_no in range(args.rounds):
            for name, (path, extra, needs_cookie) in routes.items():
                result = wrk(
                    base + path,
                    args.seconds,
                    args.connections,
                    script,
                    extra,
                    cookie if needs_cookie else "",
                )
                results[name].append(result)
                print(
                    f"round {round_no + 1} {name:34s} {result['rps']:8.1f} req/s  "
                    f"p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:7.1f} ms  "
                    f"non-2xx {result['non2xx']}"
                )

    base_rps = statistics.median(r["rps"] for r in results["trivial /healthz"])
    summary = {}
    print()
    info = machine()
    print(
        f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}; "
        f"gunicorn {args.workers} sync workers; wrk -c{args.connections}"
    )
    print(
        f"shop: {counts['users']} users, {counts['products']} products, {counts['events']} events"
    )
    print(f"{'route':34s} {'req/s':>8s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'ratio':>6s}")
    for name, runs in results.items():
        med = {
            k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p95_ms", "p99_ms")
        }
        med["ratio_to_trivial"] = med["rps"] / base_rps
        med["non2xx"] = sum(r["non2xx"] for r in runs)
        summary[name] = med
        print(
            f"{name:34s} {med['rps']:8.1f} {med['p50_ms']:8.1f} {med['p95_ms']:8.1f} "
            f"{med['p99_ms']:8.1f} {med['ratio_to_trivial']:6.2f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": info,
                "shop": counts,
                "workers": args.workers,
                "connections": args.connections,
                "seconds_per_round": args.seconds,
                "rounds": args.rounds,
                "summary": summary,
                "runs": results,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
