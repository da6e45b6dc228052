"""The job queue over real processes: gunicorn web workers, `flask worker`, one SQLite file.

A worker killed with SIGKILL half-way through a fit: the site keeps serving the previous model, the
run is marked failed with the reason as soon as a worker starts again, and the next retrain
succeeds. Two "Retrain now" clicks in two web processes start one run. The schedule queues runs of
its own, shown as "scheduled" in the model page's history.
"""

from __future__ import annotations

import random
import re
import shutil
import signal
import sqlite3
import threading
from pathlib import Path

import pytest

from bench.loadgen import Ledger, Shopper, Stats
from bench.servers import flask, gunicorn, shop_env, start_worker, stop, wait_for, worker

pytestmark = [pytest.mark.slow, pytest.mark.load]

ADMIN = ("admin@example.com", "admin-password-for-tests")
SERVING_RE = re.compile(r"Serving model <strong>([^<]+)</strong>")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A migrated, seeded and trained shop, copied afresh for each test."""
    folder = tmp_path_factory.mktemp("prepared")
    env = shop_env(folder)
    flask(env, "db", "upgrade")
    flask(env, "seed", "--users", "80", "--products", "60", "--events", "8000", "--quiet",
          "--admin-email", ADMIN[0], "--admin-password", ADMIN[1])  # fmt: skip
    flask(env, "train", "--no-evaluate")
    return folder


@pytest.fixture
def shop(prepared, tmp_path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "shop"
    shutil.copytree(prepared, folder)
    pointer = folder / "models" / "current.json"
    assert pointer.exists()
    return folder, shop_env(folder, SHOP_RETRAIN_SCHEDULE="off")


def admin(base: str) -> Shopper:
    session = Shopper(base, *ADMIN, Stats(), Ledger(), threading.Lock(), random.Random(0), [])
    assert session.sign_in(), "the admin could not sign in"
    return session


def runs(folder: Path) -> list[tuple]:
    with sqlite3.connect(folder / "shop.db") as conn:
        return conn.execute(
            "SELECT id, status, progress, trigger, error FROM training_runs ORDER BY id"
        ).fetchall()


def serving(session: Shopper) -> str:
    status, html, _ = session.request("model", "/admin/model")
    assert status == 200
    match = SERVING_RE.search(html)
    return match.group(1) if match else ""


def test_a_worker_killed_mid_fit_fails_its_run_on_restart_and_the_site_keeps_serving(shop):
    folder, env = shop
    with gunicorn(env, workers=2, log=folder / "web.log") as base:
        session = admin(base)
        before = serving(session)
        assert before

        proc = start_worker(env, folder / "worker-killed.log")
        status, _, _ = session.request(
            "retrain", "/admin/model/retrain", {"csrf_token": session.csrf}
        )
        assert status == 302
        # Kill the worker without warning once it is fitting (the row says so).
        wait_for(lambda: (r := runs(folder)) and r[-1][1] == "running" and r[-1][2] >= 15,
                 120, "the run to reach the fit")  # fmt: skip
        assert proc.poll() is None
        stop(proc, signal.SIGKILL)

        run_id, status_now, progress, trigger, _ = runs(folder)[-1]
        assert (status_now, trigger) == ("running", "manual")  # nobody has noticed yet
        assert serving(session) == before  # the site keeps serving the previous model
        status, _, _ = session.request("home", "/")
        assert status == 200

        with worker(env, folder / "worker-restarted.log"):
            # Marked failed as the worker starts, with the reason, not 120 minutes later.
            run = runs(folder)[-1]
            assert run[0] == run_id and run[1] == "failed"
            assert "killed or restarted" in run[4] and f"{progress}%" in run[4]

            status, _, _ = session.request(
                "retrain", "/admin/model/retrain", {"csrf_token": session.csrf}
            )
            assert status == 302
            wait_for(lambda: runs(folder)[-1][1] in ("succeeded", "failed"), 300, "the retrain")
            assert runs(folder)[-1][1] == "succeeded", runs(folder)[-1]
        after = wait_for(lambda: (v := serving(session)) != before and v, 30, "the new model")
        assert after != before
        _, html, _ = session.request("model", "/admin/model")
        assert "killed or restarted" in html


def test_two_clicks_in_two_web_processes_start_one_run(shop):
    folder, env = shop
    with (
        gunicorn(env, workers=1, log=folder / "web1.log") as one,
        gunicorn(env, workers=1, log=folder / "web2.log") as two,
    ):
        sessions = [admin(one), admin(two)]
        existing = len(runs(folder))  # the prepared shop's first training
        barrier = threading.Barrier(2)
        answers = []

        def click(session: Shopper) -> None:
            barrier.wait()
            answers.append(
                session.request("retrain", "/admin/model/retrain", {"csrf_token": session.csrf})
            )

        threads = [threading.Thread(target=click, args=(s,)) for s in sessions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert [a[0] for a in answers] == [302, 302]
        assert len(runs(folder)) == existing + 1
        flashes = [s.request("model", "/admin/model")[1] for s in sessions]
        assert sum("Retraining started" in html for html in flashes) == 1
        assert sum("Wait for it to finish" in html for html in flashes) == 1


def test_the_schedule_retrains_on_its_own_and_the_history_says_so(shop):
    folder, env = shop
    # Every minute; the worker looks at the schedule as it starts, then once a minute.
    env = {**env, "SHOP_RETRAIN_SCHEDULE": "* * * * *"}

    def finished_scheduled_run():
        run = runs(folder)[-1]
        return run if run[3] == "scheduled" and run[1] in ("succeeded", "failed") else None

    with worker(env, folder / "worker.log"):
        # The run seen finishing, not the latest at exit: on a slow machine the next minute's
        # run may have started meanwhile, and stopping the worker fails it.
        run = wait_for(finished_scheduled_run, 300, "the scheduled run")
    assert run[1:4:2] == ("succeeded", "scheduled"), run
    with gunicorn(env, workers=1, log=folder / "web.log") as base:
        _, html, _ = admin(base).request("model", "/admin/model")
    history = html[html.index('id="run-history"') :]
    assert f"#{run[0]}" in history and 'data-trigger="scheduled">scheduled' in history
