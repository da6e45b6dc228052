"""How long /search/suggest and /search take over HTTP on the imported Online Retail catalogue.

Builds a temporary shop (migrations, then ``flask import-retail`` on the whole log: 3,659
products), serves it with gunicorn on 127.0.0.1, and sends one request at a time, as one shopper
would: for suggestions, every prefix of a few hundred of the catalogue's words as they are typed
(two letters and up) and some of those words with a typo; for the results page, single words,
plurals, typos, two-word queries and a query with a facet ticked. Prints the median, p90 and p99
of each and how many answers were not 200. Targets: suggest median <= 15 ms, search <= 30 ms.

    .venv/bin/python bench/search_latency.py [--data PATH] [--workers 2] [--words 120] [--seed 0]

Only loopback is ever targeted, and the server is stopped by its pid when the run ends.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from _retail import machine, resolve_data, resolve_out, write_json
from search_quality import one_typo, other_number
from servers import flask, gunicorn, shop_env

TARGET_MS = {"suggest": 15.0, "search": 30.0}
WORD_RE = re.compile(r"[^\W\d_]{4,}")


def catalogue_words(db_path: Path) -> tuple[list[str], list[str]]:
    """The distinct name words (4+ letters) and the category slugs of the imported shop."""
    with sqlite3.connect(db_path) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM products")]
        slugs = [row[0] for row in conn.execute("SELECT slug FROM categories ORDER BY id")]
    words = sorted({w.lower() for name in names for w in WORD_RE.findall(name)})
    return words, slugs


def plan(words: list[str], slugs: list[str], n_words: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    chosen = rng.sample(words, min(n_words, len(words)))
    suggest = []
    for word in chosen:
        suggest += [word[:i] for i in range(2, len(word) + 1)]  # typed letter by letter
        if len(word) >= 5:
            suggest.append(one_typo(word, rng))
    search = []
    for i, word in enumerate(chosen):
        search += [word, other_number(word)]
        if len(word) >= 5:
            search.append(one_typo(word, rng))
        search.append(f"{word} {chosen[(i + 1) % len(chosen)]}")
    suggest_urls = ["/search/suggest?" + urllib.parse.urlencode({"q": q}) for q in suggest]
    search_urls = ["/search?" + urllib.parse.urlencode({"q": q}) for q in search]
    if slugs:
        search_urls += [
            "/search?" + urllib.parse.urlencode({"q": w, "category": rng.choice(slugs)})
            for w in chosen[:40]
        ]
    return {"suggest": suggest_urls, "search": search_urls}


def timed_get(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return (time.perf_counter() - started) * 1000, status


def summary(times: list[float], statuses: list[int]) -> dict:
    ordered = sorted(times)
    return {
        "requests": len(times),
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[int(0.90 * (len(ordered) - 1))], 2),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
        "not_200": sum(1 for s in statuses if s != 200),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="Online Retail CSV (default: the shared copy)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--words", type=int, default=120, help="catalogue words to type")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="JSON file (default bench/results/search_latency.json)")
    args = parser.parse_args(argv)
    data = resolve_data(args.data)
    if not data.exists():
        print(f"Online Retail data not found at {data} (use --data)", file=sys.stderr)
        return 2

    report = {"machine": machine(), "workers": args.workers, "seed": args.seed}
    with tempfile.TemporaryDirectory(prefix="search-latency-") as raw_folder:
        folder = Path(raw_folder)
        env = shop_env(folder)
        print("importing the Online Retail log into a temporary shop...", flush=True)
        flask(env, "db", "upgrade")
        flask(env, "import-retail", str(data), timeout=1200)
        words, slugs = catalogue_words(folder / "shop.db")
        urls = plan(words, slugs, args.words, args.seed)
        with gunicorn(env, workers=args.workers, log=folder / "gunicorn.log") as base:
            for path in urls["suggest"][:20] + urls["search"][:20]:  # warm both workers up
                timed_get(base + path)
            load = os.getloadavg()[0]
            for kind in ("suggest", "search"):
                times, statuses = [], []
                for path in urls[kind]:
                    elapsed, status = timed_get(base + path)
                    times.append(elapsed)
                    statuses.append(status)
                report[kind] = summary(times, statuses) | {"target_median_ms": TARGET_MS[kind]}
            report["load_average_at_start"] = round(load, 2)

    ok = True
    print(
        f"\nOnline Retail catalogue, gunicorn with {args.workers} workers on 127.0.0.1, one request at a time"
    )
    print(
        f"{'route':<16} {'requests':>8} {'median':>9} {'p90':>9} {'p99':>9} {'target':>9} {'not 200':>8}"
    )
    for kind, route in (("suggest", "/search/suggest"), ("search", "/search")):
        row = report[kind]
        met = row["median_ms"] <= row["target_median_ms"] and row["not_200"] == 0
        ok &= met
        print(
            f"{route:<16} {row['requests']:>8} {row['median_ms']:>7.1f}ms {row['p90_ms']:>7.1f}ms "
            f"{row['p99_ms']:>7.1f}ms {row['target_median_ms']:>7.0f}ms {row['not_200']:>8} "
            f"{'met' if met else 'MISSED'}"
        )
    print(
        f"load average at the start: {report['load_average_at_start']} on {machine()['nproc']} cores"
    )
    out = resolve_out(args.out, "search_latency.json")
    write_json(out, report)
    print(f"written to {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
