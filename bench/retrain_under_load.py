"""Throughput of the signed-in home page with and without a retrain running, in the same run.

    .venv/bin/python bench/retrain_under_load.py                  # 3,000 users, 1,500 products, 300k events
    .venv/bin/python bench/retrain_under_load.py --users 500 --products 300 --events 40000 --seconds 5

Seeds a shop into a temporary folder, trains it, then serves it the way `make serve` does: gunicorn
with 4 workers plus one `flask worker` for the job queue. Each round drives the signed-in home page
with wrk (Debian's `wrk` package) for the same number of seconds twice: once with no run active,
then once while a retrain the admin queued over HTTP is being fitted by the worker (the round waits
until the run is fitting before it starts measuring, and records whether it was still fitting at the
end). After each retrain the web workers load the new model before the next round measures. The figure that matters is the median loss of throughput; the retrain's own time under load
and idle is printed too, since the worker's low CPU priority is what buys the throughput.
Only 127.0.0.1 is ever targeted and every run stops by itself.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._retail import machine, write_json  # noqa: E402
from bench.load_bench import LUA_REPORT, signed_in_shopper, wrk  # noqa: E402
from bench.loadgen import Ledger, Shopper, Stats  # noqa: E402
from bench.servers import (  # noqa: E402
    flask,
    gunicorn,
    prepare_shop,
    shop_arguments,
    shop_env,
    wait_for,
    worker,
)

ADMIN = ("bench-admin@example.com", "bench-admin-password")
FINISHED = ("succeeded", "failed")


def last_run(db: Path) -> tuple:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT id, status, progress, started_at, finished_at FROM training_runs "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()


def main(argv: list[str] | None = None) -> int:
    parser = shop_arguments(__doc__.split("\n\n")[0], "retrain_under_load")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="shop-retrain-"))
    env = shop_env(workdir, SHOP_RETRAIN_SCHEDULE="off")
    db = workdir / "shop.db"
    if not db.exists():
        started = time.perf_counter()
        prepare_shop(env, args.users, args.products, args.events)
        flask(env, "create-admin", ADMIN[0], "--password", ADMIN[1])
        print(f"prepared shop in {time.perf_counter() - started:.0f} s at {workdir}")
    with sqlite3.connect(db) as conn:
        product_ids = [r[0] for r in conn.execute("SELECT id FROM products ORDER BY id")]
    script = workdir / "report.lua"
    script.write_text(LUA_REPORT)

    rounds = []
    with (
        gunicorn(env, workers=args.workers, log=workdir / "gunicorn.log") as base,
        worker(env, workdir / "worker.log"),
    ):
        cookie = signed_in_shopper(base, product_ids)
        admin = Shopper(base, *ADMIN, Stats(), Ledger(), threading.Lock(), random.Random(0), [])
        if not admin.sign_in():
            raise RuntimeError("the bench admin could not sign in")

        def warm_up() -> None:  # every web worker loads the model on its first request
            wrk(base + "/", 8, args.connections, script, {}, cookie)

        warm_up()

        for round_no in range(1, args.rounds + 1):
            without = wrk(base + "/", args.seconds, args.connections, script, {}, cookie)
            status, _, _ = admin.request(
                "retrain", "/admin/model/retrain", {"csrf_token": admin.csrf}
            )
            if status != 302:
                raise RuntimeError(f"Retrain now answered {status}")
            clicked = time.monotonic()
            run = wait_for(
                lambda: (r := last_run(db))[1] == "running" and r[2] >= 15 and r,
                600,
                "the run to start fitting",
            )
            during = wrk(base + "/", args.seconds, args.connections, script, {}, cookie)
            at_end = last_run(db)
            still_fitting = at_end[0] == run[0] and at_end[1] == "running"
            done = wait_for(lambda: (r := last_run(db))[1] in FINISHED and r, 900, "the run to end")
            if done[1] != "succeeded":
                raise RuntimeError(f"training run {done[0]} failed")
            # Every web worker notices the new model within 5 s and loads it on a request: let
            # that happen before the next "without" measurement.
            time.sleep(6)
            warm_up()
            result = {
                "round": round_no,
                "without": without,
                "with_retrain": during,
                "run_id": run[0],
                "fitting_during_whole_window": still_fitting,
                "progress_at_window_end": at_end[2],
                "retrain_seconds_from_click": round(time.monotonic() - clicked, 1),
            }
            rounds.append(result)
            loss = 1 - during["rps"] / without["rps"]
            print(
                f"round {round_no}: without {without['rps']:6.1f} req/s (p50 "
                f"{without['p50_ms']:.0f} ms)  with retrain {during['rps']:6.1f} req/s (p50 "
                f"{during['p50_ms']:.0f} ms)  loss {100 * loss:5.1f}%  run #{run[0]} "
                f"{'fitting the whole window' if still_fitting else 'FINISHED inside the window'}, "
                f"done {result['retrain_seconds_from_click']} s after the click"
            )

        # The same retrain with no load, for its own time.
        idle_started = time.monotonic()
        admin.request("retrain", "/admin/model/retrain", {"csrf_token": admin.csrf})
        wait_for(lambda: last_run(db)[1] in FINISHED, 900, "the idle run")
        idle_seconds = round(time.monotonic() - idle_started, 1)

    without_rps = statistics.median(r["without"]["rps"] for r in rounds)
    with_rps = statistics.median(r["with_retrain"]["rps"] for r in rounds)
    losses = [1 - r["with_retrain"]["rps"] / r["without"]["rps"] for r in rounds]
    non2xx = sum(r[k]["non2xx"] for r in rounds for k in ("without", "with_retrain"))
    info = machine()
    print()
    print(
        f"machine: {info['nproc']} cores, {info['cpu']}, Python {info['python']}; gunicorn "
        f"{args.workers} sync workers + 1 job worker (nice 19); wrk -c{args.connections}, "
        f"{args.seconds} s per measurement, {args.rounds} rounds"
    )
    print(
        f"signed-in home page: {without_rps:.1f} req/s without a retrain, {with_rps:.1f} req/s "
        f"while one runs (medians); loss median {100 * statistics.median(losses):.1f}%, worst "
        f"{100 * max(losses):.1f}%; non-2xx responses: {non2xx}"
    )
    print(
        f"the retrain itself: {statistics.median(r['retrain_seconds_from_click'] for r in rounds):.1f} s "
        f"from click to published under load (median), {idle_seconds:.1f} s with no load"
    )
    write_json(
        args.out,
        {
            "machine": info,
            "shop": {"users": args.users, "products": args.products, "events": args.events},
            "workers": args.workers,
            "connections": args.connections,
            "seconds": args.seconds,
            "summary": {
                "without_rps": round(without_rps, 1),
                "with_retrain_rps": round(with_rps, 1),
                "loss_median": round(statistics.median(losses), 4),
                "loss_worst": round(max(losses), 4),
                "retrain_idle_seconds": idle_seconds,
                "non2xx": non2xx,
            },
            "rounds": rounds,
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
