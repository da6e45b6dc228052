"""Real servers for the tests that need one: a migrated, seeded shop served by gunicorn on loopback."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
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
            "PYTHONUNBUFFERED": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
    )
    env.update(extra)
    return env


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
def gunicorn(env: dict[str, str], workers: int = 4, log: Path | None = None):
    """Serve ``wsgi:app`` on a free loopback port; yield its base URL; stop it by its pid."""
    port = free_port()
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
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
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
