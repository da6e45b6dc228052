"""Real servers for the tests that need one: a migrated, seeded shop served by gunicorn on loopback."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shop_env(folder: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TEST_DATABASE_URL", None)
    env.update(
        {
            "SHOP_ENV": "production",
            "SECRET_KEY": "load-test-secret-key-not-for-real-use",
            "DATABASE_URL": f"sqlite:///{folder / 'shop.db'}",
            "SHOP_MODEL_DIR": str(folder / "models"),
            "SHOP_INSTANCE_DIR": str(folder),
            "SHOP_SECURE_COOKIES": "false",
            "SHOP_TRUSTED_HOSTS": "127.0.0.1,localhost",
            # Simulated shoppers all sign up from 127.0.0.1; the attack tests set the real limit.
            "SHOP_REGISTER_LIMIT": "10000 per hour",
            "PYTHONUNBUFFERED": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
    )
    env.update(extra)
    return env


def redis_binary() -> str | None:
    """Debian's redis-server, when installed."""
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


@contextmanager
def redis_server(folder: Path, port: int | None = None):
    """A private Redis on loopback (no persistence); yield its URL; stop it by pid.

    The shop keeps its rate-limit counts there, so several gunicorn workers share them. ``port``
    starts it again where an earlier one was (a restart); by default any free port.
    """
    binary = redis_binary()
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            binary,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(folder),
            "--protected-mode", "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def answers_ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    try:
        _wait_until_ready(proc, "redis-server", answers_ping, seconds=20)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc, signal.SIGTERM, grace=10)


def _wait_until_ready(proc: subprocess.Popen, name: str, ready, seconds: float) -> None:
    """Poll ``ready()`` until it answers True; fail if the server exits or takes too long."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            if ready():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer within {seconds:.0f} s")
        time.sleep(0.2)


def _stop(proc: subprocess.Popen, sig: int, grace: float) -> None:
    """Ask a server we started to stop; kill it (by its pid) if it does not within ``grace``."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def flask(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "flask"), "--app", "shop", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def prepare_shop(env: dict[str, str], users: int, products: int, events: int, seed: int = 7):
    """Migrate, seed and train a shop in the folder named by ``env``."""
    flask(env, "db", "upgrade")
    flask(
        env,
        "seed",
        "--users",
        str(users),
        "--products",
        str(products),
        "--events",
        str(events),
        "--seed",
        str(seed),
        "--quiet",
    )
    flask(env, "train", "--no-evaluate")


@contextmanager
def gunicorn(
    env: dict[str, str], workers: int = 4, log: Path | None = None, port: int | None = None
):
    """Serve ``wsgi:app`` on a loopback port (a free one unless given); yield its base URL; stop
    it by its pid."""
    with gunicorn_process(env, workers, log, port) as (base, _):
        yield base


@contextmanager
def gunicorn_process(
    env: dict[str, str],
    workers: int = 4,
    log: Path | None = None,
    port: int | None = None,
    own_group: bool = False,
):
    """:func:`gunicorn`, yielding ``(base URL, master process)``. With ``own_group`` the server
    gets a process group of its own, so a test can kill the master and its workers at once (a
    host that dies) with ``os.killpg(proc.pid, signal.SIGKILL)``."""
    port = port or free_port()
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
            "--graceful-timeout",
            "10",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=own_group,
    )
    base = f"http://127.0.0.1:{port}"

    def answers_health() -> bool:
        with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
            return resp.status == 200

    try:
        _wait_until_ready(proc, "gunicorn", answers_health, seconds=120)
        yield base, proc
    finally:
        if proc.poll() is None:
            _stop(proc, signal.SIGTERM, grace=30)
        if log:
            out.close()


def start_worker(env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    """Start ``flask worker`` (the job queue's consumer) and wait until it says it is ready."""
    out = open(log, "a") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BIN / "flask"), "--app", "shop", "worker"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    if log:
        out.close()
        deadline = time.monotonic() + 60
        while "Huey consumer started" not in log.read_text():
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {proc.returncode}: {log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not start within 60 s")
            time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop a process this module started, by its pid."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def worker(env: dict[str, str], log: Path):
    """A running worker for the duration of the block."""
    proc = start_worker(env, log)
    try:
        yield proc
    finally:
        stop(proc)


def wait_for(check, timeout: float, what: str, every: float = 0.05):
    """Poll ``check()`` until it returns something truthy (returned), or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out waiting for {what}")


def shop_arguments(description: str, result_name: str) -> argparse.ArgumentParser:
    """The options every shop-serving bench shares: the shop's size, a folder to reuse, the output."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--users", type=int, default=3_000)
    parser.add_argument("--products", type=int, default=1_500)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--workdir", type=Path, help="reuse a prepared shop folder")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / f"{result_name}.json"
    )
    return parser


class SilentMailServer:
    """Accepts SMTP connections on loopback and never says a word (a relay that hangs)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def add_size_arguments(parser: argparse.ArgumentParser, quick_help: str) -> None:
    """--quick, --users, --products, --events and --workdir, as the page benches take them."""
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--users", type=int)
    parser.add_argument("--products", type=int)
    parser.add_argument("--events", type=int)
    parser.add_argument("--workdir", type=Path, help="reuse (or prepare) a shop folder")


def chosen_size(args: argparse.Namespace, full: dict, quick: dict) -> dict:
    """The full or quick sizes, each overridden by its flag when given."""
    size = dict(quick if args.quick else full)
    for key in size:
        if getattr(args, key, None) is not None:
            size[key] = getattr(args, key)
    return size


def ready_shop(
    workdir: Path | None, users: int, products: int, events: int, prefix: str = "shop-"
) -> tuple[Path, dict[str, str], list[int], dict[str, int]]:
    """A seeded, trained shop folder (prepared unless it holds one): folder, env, product ids and
    the users / products / events counts."""
    import sqlite3
    import tempfile

    workdir = workdir or Path(tempfile.mkdtemp(prefix=prefix))
    workdir.mkdir(parents=True, exist_ok=True)
    env = shop_env(workdir)
    if not (workdir / "shop.db").exists():
        started = time.perf_counter()
        prepare_shop(env, users, products, events)
        print(f"prepared shop in {time.perf_counter() - started:.0f} s at {workdir}")
    with sqlite3.connect(workdir / "shop.db") as conn:
        product_ids = [r[0] for r in conn.execute("SELECT id FROM products ORDER BY id")]
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("users", "products", "events")
        }
    return workdir, env, product_ids, counts
