"""Lighthouse's accessibility, SEO, best-practices and performance scores on the shop's pages.

    scripts/install-lighthouse.sh                  # once: the npm package into .cache/lighthouse
    .venv/bin/python bench/lighthouse_bench.py     # the `make run` demo's size, 3 runs per page

Seeds and trains a demo shop (300 shoppers, 150 products, 30,000 events, seed 42, as `make run`)
in a temporary folder, serves it with gunicorn on 127.0.0.1 with SHOP_BASE_URL set to that address,
and runs Lighthouse (Debian's chromium through CHROME_PATH, headless, default mobile settings with
simulated throttling) on the home, listing, product and search pages as a visitor. Each page is
first fetched ``--warm-up`` times (6, so that both gunicorn workers have served it) unmeasured:
a worker's first request (templates compiled, the model file loaded) took up to 6 s on a busy
machine, and Lighthouse counts that real time into the speed index. Prints each category's median
over the runs and, for any category under 100, the audits that cost it points.
Only 127.0.0.1 is ever fetched. Not part of `make test`: it needs Node.js and takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._retail import machine, resolve_out, write_json  # noqa: E402
from bench.servers import ROOT, free_port, gunicorn, prepare_shop, shop_env  # noqa: E402

LIGHTHOUSE = ROOT / ".cache" / "lighthouse" / "node_modules" / "lighthouse" / "cli" / "index.js"
CATEGORIES = ("accessibility", "seo", "best-practices", "performance")
CHROME_FLAGS = " ".join(
    [
        "--no-sandbox",
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        # This machine's network is closed: no calls home for updates, sync or components.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
)


def chromium() -> str:
    path = os.environ.get("CHROME_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        sys.exit("chromium not found: apt-get install chromium (or set CHROME_PATH)")
    return path


def pages(folder: Path) -> dict[str, str]:
    """The four pages of the issue's target, picked from the seeded database."""
    with sqlite3.connect(folder / "shop.db") as con:
        product_id, name = con.execute(
            "SELECT id, name FROM products ORDER BY click_count DESC, id LIMIT 1"
        ).fetchone()
    word = max(name.split(), key=len).lower()
    return {
        "home": "/",
        "listing": "/products",
        "product": f"/products/{product_id}",
        "search": f"/search?q={word}",
    }


def lighthouse(url: str, chrome: str, form_factor: str) -> dict:
    command = [
        "node",
        str(LIGHTHOUSE),
        url,
        "--output=json",
        "--output-path=stdout",
        "--quiet",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={CHROME_FLAGS}",
    ]
    if form_factor == "desktop":
        command.append("--preset=desktop")
    done = subprocess.run(
        command,
        env={**os.environ, "CHROME_PATH": chrome},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)


def warm_up(url: str, times: int) -> None:
    """Fetch ``url`` ``times`` times, unmeasured, as a visitor (no cookies)."""
    for _ in range(times):
        with urllib.request.urlopen(url, timeout=120) as response:
            response.read()


def lost_points(report: dict, category: str) -> list[str]:
    """The scored audits of a category that did not pass, with what Lighthouse says of them."""
    audits = report["audits"]
    lost = []
    for ref in report["categories"][category]["auditRefs"]:
        audit = audits[ref["id"]]
        if ref["weight"] > 0 and audit["score"] is not None and audit["score"] < 1:
            lost.append(f"{ref['id']} ({audit['score']:.2f}): {audit.get('displayValue') or ''}")
    return lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--products", type=int, default=150)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page (median)")
    parser.add_argument("--form-factor", choices=("mobile", "desktop"), default="mobile")
    parser.add_argument(
        "--warm-up", type=int, default=6, help="unmeasured fetches of each page first (0: none)"
    )
    parser.add_argument("--out")
    args = parser.parse_args()
    if not LIGHTHOUSE.is_file():
        sys.exit("Lighthouse is not installed: run scripts/install-lighthouse.sh")
    chrome = chromium()
    version = subprocess.run([chrome, "--version"], capture_output=True, text=True).stdout.strip()

    scores: dict[str, dict[str, list[int]]] = {}
    lost: dict[str, dict[str, list[str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = shop_env(folder, SHOP_BASE_URL=base, SHOP_RETRAIN_SCHEDULE="off")
        prepare_shop(env, args.users, args.products, args.events, seed=args.seed)
        targets = pages(folder)
        with gunicorn(env, workers=2, log=folder / "gunicorn.log", port=port):
            for path in targets.values():
                warm_up(base + path, args.warm_up)
            for name, path in targets.items():
                for _ in range(args.runs):
                    report = lighthouse(base + path, chrome, args.form_factor)
                    for category in CATEGORIES:
                        score = round(100 * report["categories"][category]["score"])
                        scores.setdefault(name, {}).setdefault(category, []).append(score)
                        if score < 100:
                            lost.setdefault(name, {})[category] = lost_points(report, category)
                lighthouse_version = report["lighthouseVersion"]

    medians = {
        name: {category: statistics.median(runs) for category, runs in by_category.items()}
        for name, by_category in scores.items()
    }
    print(
        f"Lighthouse {lighthouse_version}, {version}, {args.form_factor}, "
        f"median of {args.runs} runs per page after {args.warm_up} unmeasured fetches of each"
    )
    print(f"{'page':<10}" + "".join(f"{c:>16}" for c in CATEGORIES) + "   path")
    for name, path in targets.items():
        row = "".join(f"{medians[name][c]:>16g}" for c in CATEGORIES)
        print(f"{name:<10}{row}   {path}")
    for name, by_category in lost.items():
        for category, audits in by_category.items():
            print(f"  {name} {category}: " + "; ".join(audits))
    info = machine()
    print(f"machine: {info['nproc']} cores, {info['cpu']}")
    write_json(
        resolve_out(args.out, "lighthouse.json"),
        {
            "lighthouse": lighthouse_version,
            "browser": version,
            "form_factor": args.form_factor,
            "runs": args.runs,
            "warm_up": args.warm_up,
            "shop": {k: getattr(args, k) for k in ("users", "products", "events", "seed")},
            "pages": targets,
            "scores": scores,
            "medians": medians,
            "lost_points": lost,
            "machine": info,
        },
    )


if __name__ == "__main__":
    main()
