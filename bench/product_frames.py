"""CPU per signed-in product page: filled into its shared frame against rendered whole.

    .venv/bin/python bench/product_frames.py                   # 3,000 shoppers, 1,000 products, 150k events
    .venv/bin/python bench/product_frames.py --quick           # 300 / 200 / 15,000
    .venv/bin/python bench/product_frames.py --workdir DIR     # reuse a prepared shop folder

In one process, through Flask's test client, one signed-in shopper opens every product page twice
(so each page's frame and shared half are kept, and no view is left to write), then asks random
product pages in alternating blocks with ``SHOP_PAGE_FRAMES`` on and off, the shoppers' kept whole
pages off. Each block's CPU time (``time.process_time``, which the machine's other work does not
inflate) per page; the medians over the blocks and their ratio. Results go to
``bench/results/product_frames.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._retail import machine, write_json  # noqa: E402
from bench.servers import add_size_arguments, chosen_size, ready_shop, shop_env  # noqa: E402

FULL = {"users": 3_000, "products": 1_000, "events": 150_000}
QUICK = {"users": 300, "products": 200, "events": 15_000}


def run(workdir: Path, blocks: int, per_block: int, seed: int) -> dict:
    os.environ.update(shop_env(workdir, SHOP_SHOPPER_PAGE_CACHE_SECONDS="0"))
    from bench.profile_pages import pick_shopper, signed_in
    from shop.extensions import db
    from shop.models import Product
    from wsgi import app

    with app.app_context():
        ids = list(db.session.scalars(db.select(Product.id).where(Product.listed)))
    _, session_id, _ = pick_shopper(app)
    client = app.test_client()
    with signed_in(client, session_id):
        pass
    for _ in range(2):
        for product_id in ids:
            assert client.get(f"/products/{product_id}").status_code == 200
    rng = random.Random(seed)
    cpu: dict[str, list[float]] = {"filled": [], "whole": []}
    for _ in range(blocks):
        for mode, frames in (("filled", True), ("whole", False)):
            app.config["SHOP_PAGE_FRAMES"] = frames
            started = time.process_time()
            for _ in range(per_block):
                client.get(f"/products/{rng.choice(ids)}")
            cpu[mode].append(1000 * (time.process_time() - started) / per_block)
    app.config["SHOP_PAGE_FRAMES"] = True
    medians = {mode: statistics.median(values) for mode, values in cpu.items()}
    return {
        "pages": len(ids),
        "blocks": blocks,
        "per_block": per_block,
        "cpu_ms_per_page_median": medians,
        "ratio_whole_over_filled": medians["whole"] / medians["filled"],
        "cpu_ms_per_page_blocks": cpu,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_size_arguments(parser, "a small shop")
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--per-block", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "product_frames.json",
    )
    args = parser.parse_args(argv)
    size = chosen_size(args, FULL, QUICK)
    workdir, _, _, counts = ready_shop(
        args.workdir, size["users"], size["products"], size["events"], prefix="shop-frames-"
    )
    measured = run(workdir, args.blocks, args.per_block, args.seed)  # sets the shop's environment
    result = {"machine": machine(), "shop": counts, **measured}
    info = result["machine"]
    print(f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}; in-process")
    print(
        f"shop: {counts['users']:,} shoppers, {counts['products']:,} products, {counts['events']:,} events"
    )
    for mode, value in result["cpu_ms_per_page_median"].items():
        print(f"product page, signed in, {mode:6s}: {value:.2f} ms CPU a page (median of blocks)")
    print(f"rendered whole / filled: {result['ratio_whole_over_filled']:.2f}x")
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
