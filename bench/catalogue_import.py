"""How long a catalogue CSV import of 10,000 products takes (target: under 10 s).

Generates a deterministic 10,000-product CSV (20 categories, about 9 in 10 products with a stock
count), then, per run, migrates a fresh temporary SQLite database and times the import exactly as
``flask import-catalogue`` runs it: read and check every line, plan, apply (bulk inserts, stock
movements, one audit entry), commit. A second timing imports the same file again with a tenth of
the prices and stocks changed (the update path). Prints each run and the medians; writes JSON with
the machine it ran on.

    .venv/bin/python bench/catalogue_import.py [--products 10000] [--repeat 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from _retail import machine, resolve_out, write_json

WORDS = [
    "blue",
    "red",
    "green",
    "oak",
    "steel",
    "copper",
    "linen",
    "wool",
    "glass",
    "stone",
    "travel",
    "garden",
    "kitchen",
    "desk",
    "smart",
    "classic",
    "compact",
    "deluxe",
    "soft",
    "bright",
]
NOUNS = [
    "kettle",
    "mug",
    "lamp",
    "chair",
    "rug",
    "hose",
    "trowel",
    "pan",
    "teapot",
    "vase",
    "clock",
    "shelf",
    "basket",
    "towel",
]


def make_csv(n: int, seed: int = 0, changed_every: int = 0) -> bytes:
    """``n`` products; with ``changed_every`` k, every k-th product's price and stock differ."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["sku", "name", "description", "category", "brand", "price", "stock"]
        + ["low_stock_threshold", "listed"]
    )
    for i in range(n):
        name = (
            f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} {rng.choice(NOUNS).title()}"
        )
        price = rng.randint(100, 20000) / 100
        stock = "" if rng.random() < 0.1 else rng.randint(0, 200)
        if changed_every and i % changed_every == 0:
            price += 1
            stock = 7 if stock == "" else stock + 1
        writer.writerow(
            [
                f"BENCH-{i:06d}",
                name,
                f"A {name.lower()} for the {rng.choice(WORDS)} home, made to last.",
                f"Category {i % 20:02d}",
                f"Brand {rng.randint(1, 150)}",
                f"{price:.2f}",
                stock,
                "" if rng.random() < 0.8 else rng.randint(1, 10),
                "no" if rng.random() < 0.02 else "yes",
            ]
        )
    return out.getvalue().encode("utf-8")


def timed_import(data: bytes) -> tuple[float, dict]:
    from shop.extensions import db
    from shop.services import catalogue_csv

    started = time.perf_counter()
    plan = catalogue_csv.plan(data)
    summary = catalogue_csv.apply(plan, source="bench.csv")
    db.session.commit()
    return time.perf_counter() - started, summary


def one_run(first: bytes, second: bytes) -> dict:
    from flask_migrate import upgrade

    from shop import create_app
    from shop.extensions import db

    with tempfile.TemporaryDirectory(prefix="catalogue-import-") as folder:
        app = create_app(
            {
                "SHOP_ENV": "development",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'shop.db'}",
                "SHOP_MODEL_DIR": str(Path(folder) / "models"),
                "CACHE_DIR": str(Path(folder) / "cache"),
            }
        )
        with app.app_context():
            upgrade()
            load = os.getloadavg()[0]
            cpu = time.process_time()
            create_seconds, created = timed_import(first)
            update_seconds, updated = timed_import(second)
            cpu_seconds = time.process_time() - cpu
            db.session.remove()
            db.engine.dispose()
    return {
        "create_seconds": round(create_seconds, 3),
        "update_seconds": round(update_seconds, 3),
        "cpu_seconds_both": round(cpu_seconds, 3),
        "load_average_at_start": round(load, 2),
        "created": created["created"],
        "updated": updated["updated"],
        "unchanged": updated["unchanged"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--out", help="JSON results (default bench/results/catalogue_import.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    first = make_csv(args.products)
    second = make_csv(args.products, changed_every=10)
    runs = []
    for i in range(max(1, args.repeat)):
        run = one_run(first, second)
        runs.append(run)
        print(
            f"run {i + 1}: {run['created']:,} created in {run['create_seconds']:.2f} s, "
            f"{run['updated']:,} updated in {run['update_seconds']:.2f} s (load "
            f"{run['load_average_at_start']:.1f})",
            flush=True,
        )
    create = statistics.median(r["create_seconds"] for r in runs)
    update = statistics.median(r["update_seconds"] for r in runs)
    print(f"median over {len(runs)} runs: create {create:.2f} s, update {update:.2f} s")
    out = resolve_out(args.out, "catalogue_import.json")
    write_json(
        out,
        {
            "benchmark": "catalogue_import",
            "products": args.products,
            "csv_bytes": len(first),
            "median_create_seconds": round(create, 3),
            "median_update_seconds": round(update, 3),
            "runs": runs,
            "machine": machine(),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
