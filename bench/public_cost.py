"""What the expensive public pages cost the other visitors: the sitemap and a many-word search.

Seeds a shop with 20,000 products in a temporary SQLite file (or takes a prepared folder with
``--workdir``), serves it with gunicorn (4 workers) on 127.0.0.1, then measures:

* /sitemap.xml: the first request (it builds the sitemap) and the median of the later ones;
* one visitor's product pages, p50/p99, quiet;
* the same with four clients fetching /sitemap.xml in a loop, plain (2 MB a time: the worst case)
  and gzipped (as crawlers ask for it);
* the same with four clients sending searches of 12 one-letter words in a loop.

Prints a table, writes JSON with the machine it ran on, stops the server by its pid and exits.
Only loopback is ever targeted.

    .venv/bin/python bench/public_cost.py [--products 20000] [--seconds 20] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _retail import machine, write_json  # noqa: E402
from loadgen import ensure_loopback, percentile  # noqa: E402
from servers import ROOT, flask, gunicorn, shop_env  # noqa: E402

LOC_RE = re.compile(rb"<loc>[^<]*?(/products/\d+)</loc>")
CLIENTS = 4


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, float, int]:
    """(status, seconds, bytes) for one GET."""
    ensure_loopback(url)
    request = urllib.request.Request(url, headers=headers or {})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            size = len(response.read())
            status = response.status
    except urllib.error.HTTPError as exc:
        size = len(exc.read())
        status = exc.code
    return status, time.perf_counter() - started, size


def prepare(folder: Path, products: int) -> dict[str, str]:
    env = shop_env(folder, SHOP_BASE_URL="http://127.0.0.1")
    if not (folder / "shop.db").exists():
        flask(env, "db", "upgrade")
        flask(
            env,
            "seed",
            "--users",
            "500",
            "--products",
            str(products),
            "--events",
            str(products * 2),
            "--seed",
            "7",
            "--quiet",
        )
    else:
        flask(env, "db", "upgrade")
    return env


def visitor(base: str, paths: list[str], seconds: float, seed: int = 1) -> dict[str, float]:
    """One visitor opening product pages one after another for ``seconds``."""
    rng = random.Random(seed)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, took, _ = fetch(base + rng.choice(paths))
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append(took)
    return {
        "requests": len(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "non_200": sum(n for s, n in statuses.items() if s != 200),
    }


def with_load(
    base: str, paths: list[str], seconds: float, make_path, headers: dict[str, str] | None = None
) -> dict[str, float]:
    """The visitor's figures while ``CLIENTS`` threads fetch ``make_path()`` in a loop."""
    stop = threading.Event()
    done: list[tuple[int, float]] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        rng = random.Random(100 + number)
        while not stop.is_set():
            status, took, _ = fetch(base + make_path(rng), headers)
            with lock:
                done.append((status, took))

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # let the load settle before measuring
    started = time.monotonic()
    figures = visitor(base, paths, seconds, seed=2)
    elapsed = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    loads = [took for _, took in done]
    figures["load_requests_per_s"] = len(done) / elapsed if elapsed else 0.0
    figures["load_median_ms"] = 1000 * statistics.median(loads) if loads else 0.0
    statuses: dict[int, int] = {}
    for status, _ in done:
        statuses[status] = statuses.get(status, 0) + 1
    figures["load_statuses"] = {str(k): v for k, v in sorted(statuses.items())}
    return figures


def one_letter_search(rng: random.Random) -> str:
    words = " ".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12))
    return "/search?" + urllib.parse.urlencode({"q": words})


def run(env: dict[str, str], seconds: float, later: int) -> dict:
    with gunicorn(env, workers=4) as base:
        ensure_loopback(base)
        status, first, size = fetch(base + "/sitemap.xml")
        assert status == 200, status
        later_times = [fetch(base + "/sitemap.xml")[1] for _ in range(later)]
        with urllib.request.urlopen(base + "/sitemap.xml", timeout=60) as response:
            body = response.read()
        paths = sorted({m.decode() for m in LOC_RE.findall(body)})
        gz = fetch(base + "/sitemap.xml", {"Accept-Encoding": "gzip"})
        fetch(base + paths[0])  # warm
        quiet = visitor(base, paths, seconds)
        sitemap_load = with_load(base, paths, seconds, lambda rng: "/sitemap.xml")
        sitemap_gzip_load = with_load(
            base, paths, seconds, lambda rng: "/sitemap.xml", {"Accept-Encoding": "gzip"}
        )
        search_load = with_load(base, paths, seconds, one_letter_search)
    return {
        "products_in_sitemap": len(paths),
        "sitemap_bytes": size,
        "sitemap_gzip_bytes": gz[2],
        "sitemap_first_ms": 1000 * first,
        "sitemap_later_median_ms": 1000 * statistics.median(later_times),
        "sitemap_later_max_ms": 1000 * max(later_times),
        "quiet": quiet,
        "four_sitemap_clients": sitemap_load,
        "four_sitemap_gzip_clients": sitemap_gzip_load,
        "four_search_clients": search_load,
    }


def print_table(result: dict) -> None:
    print(
        f"sitemap: {result['products_in_sitemap']} products, {result['sitemap_bytes']:,} bytes "
        f"({result['sitemap_gzip_bytes']:,} gzipped)"
    )
    print(
        f"sitemap first request {result['sitemap_first_ms']:.0f} ms; later: median "
        f"{result['sitemap_later_median_ms']:.1f} ms, max {result['sitemap_later_max_ms']:.1f} ms"
    )
    print(f"{'product pages':<34}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'load req/s':>11}")
    for label, key in (
        ("quiet", "quiet"),
        ("4 clients on /sitemap.xml", "four_sitemap_clients"),
        ("4 clients on /sitemap.xml, gzip", "four_sitemap_gzip_clients"),
        ("4 clients, 12 one-letter words", "four_search_clients"),
    ):
        row = result[key]
        rate = f"{row['load_requests_per_s']:.1f}" if "load_requests_per_s" in row else "-"
        print(
            f"{label:<34}{row['requests']:>9}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{rate:>11}"
        )
    for key in ("four_sitemap_clients", "four_sitemap_gzip_clients", "four_search_clients"):
        print(f"{key}: load answers {result[key]['load_statuses']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="per measured phase")
    parser.add_argument("--later", type=int, default=20, help="later sitemap requests timed")
    parser.add_argument("--workdir", type=Path, help="reuse (or create) a shop folder")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "public_cost.json")
    args = parser.parse_args(argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = run(prepare(args.workdir, args.products), args.seconds, args.later)
    else:
        with tempfile.TemporaryDirectory(prefix="public-cost-") as folder:
            result = run(prepare(Path(folder), args.products), args.seconds, args.later)
    print_table(result)
    payload = {"machine": machine(), "products": args.products, "seconds": args.seconds, **result}
    write_json(args.out, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
