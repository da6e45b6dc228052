"""How long the Online Retail importer takes on the full public log (541,909 lines).

Each run builds a fresh temporary SQLite database with the migrations, then times
``shop.importers.retail.import_retail`` on the whole file (reading, cleaning, bulk inserts, product
counters). Prints each run and the median; writes JSON with the machine it ran on.

    .venv/bin/python bench/import_speed.py [--data PATH] [--repeat 3] [--limit-rows N] [--out FILE]

The data path defaults to ../shared/data/online_retail.csv.gz relative to the repository root, or
$SHOP_RETAIL_CSV.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _retail import machine, resolve_data, resolve_out, write_json


def one_run(data: Path, limit_rows: int | None) -> dict:
    from flask_migrate import upgrade

    from shop import create_app
    from shop.extensions import db
    from shop.importers.retail import import_retail

    with tempfile.TemporaryDirectory(prefix="import-speed-") as folder:
        app = create_app(
            {
                "SHOP_ENV": "development",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'shop.db'}",
                "SHOP_MODEL_DIR": str(Path(folder) / "models"),
            }
        )
        with app.app_context():
            upgrade()
            load = os.getloadavg()[0]
            started, cpu_started = time.perf_counter(), time.process_time()
            summary = import_retail(data, limit_rows=limit_rows)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
            db.session.remove()
            db.engine.dispose()
    return {
        "seconds": round(seconds, 3),
        # CPU time of this process: what the import costs when other work shares the cores.
        "cpu_seconds": round(cpu_seconds, 3),
        "load_average_at_start": round(load, 2),
        "rows_read": summary.rows_read,
        "rows_kept": summary.rows_kept,
        "rows_per_second": round(summary.rows_read / seconds),
        "orders": summary.orders_created,
        "order_lines": summary.order_lines_created,
        "events": summary.events_created,
        "products": summary.products_created,
        "customers": summary.customers_created,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="the Online Retail CSV (gzipped or plain)")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--limit-rows", type=int, default=None, help="import only the head")
    parser.add_argument("--out", help="JSON results (default bench/results/import_speed.json)")
    args = parser.parse_args(argv)
    data = resolve_data(args.data)
    if not data.is_file():
        print(f"no data file at {data}; pass --data or set SHOP_RETAIL_CSV", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    runs = []
    for i in range(max(1, args.repeat)):
        run = one_run(data, args.limit_rows)
        runs.append(run)
        print(
            f"run {i + 1}: {run['seconds']:.2f} s ({run['cpu_seconds']:.2f} s CPU, load "
            f"{run['load_average_at_start']:.1f}), {run['rows_per_second']:,} rows/s "
            f"({run['rows_read']:,} rows read, {run['order_lines']:,} order lines, "
            f"{run['orders']:,} orders)",
            flush=True,
        )
    median = statistics.median(r["seconds"] for r in runs)
    median_cpu = statistics.median(r["cpu_seconds"] for r in runs)
    rows = runs[0]["rows_read"]
    print(
        f"median: {median:.2f} s ({median_cpu:.2f} s CPU), {rows / median:,.0f} rows/s "
        f"over {len(runs)} runs"
    )
    out = resolve_out(args.out, "import_speed.json")
    write_json(
        out,
        {
            "benchmark": "import_speed",
            "data": data.name,
            "median_seconds": round(median, 3),
            "median_cpu_seconds": round(median_cpu, 3),
            "median_rows_per_second": round(rows / median),
            "runs": runs,
            "machine": machine(),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
