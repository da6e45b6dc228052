"""The worker's peak memory of ``flask train --backend spark`` with and without the training window.

Runs the real command (``flask --app shop train --backend spark --no-evaluate --window-events N``)
once per --windows value, each in a fresh process against the same database (DATABASE_URL: seed
a big shop first, e.g. ``flask --app shop seed --users 20000 --products 2000 --events 1000000``),
and polls every 0.2 s the peak resident set (VmHWM) of that process and of the Spark driver JVM it
starts. Window 0 is the whole log in the worker's memory, as before the window existed; on either
run the served ALS is fitted by Spark on the whole log, streamed from the database into Parquet.

    SHOP_INSTANCE_DIR=... DATABASE_URL=... python bench/train_window_memory.py \\
        [--windows 200000 0] [--master local[2]] [--driver-memory 2g] [--partitions 2]
        [--out FILE]

Each run gets its own model folder, so the shop's published model is not touched.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _retail import machine, resolve_out, write_json

REPO = Path(__file__).resolve().parent.parent


def _status(pid: int, field: str) -> float | None:
    """A /proc/<pid>/status size field (VmHWM, VmRSS) in MB, None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the JVM pyspark starts sits under a launcher script)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _is_java(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "java"
    except OSError:
        return False


def run_once(window: int, args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    model_dir = tempfile.mkdtemp(prefix="window-bench-models-")
    env.update(
        SHOP_MODEL_DIR=model_dir,
        SHOP_MODEL_STORE="local",
        SPARK_MASTER=args.master,
        SPARK_DRIVER_MEMORY=args.driver_memory,
        SPARK_SHUFFLE_PARTITIONS=str(args.partitions),
        PYTHONPATH=str(REPO),
    )
    command = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "shop",
        "train",
        "--backend",
        "spark",
        "--no-evaluate",
        "--window-events",
        str(window),
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[tuple[float, str]] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append((round(time.perf_counter() - started, 1), line.rstrip()))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    python_peak = 0.0
    jvm_peak = 0.0
    while proc.poll() is None:
        python_peak = max(python_peak, _status(proc.pid, "VmHWM") or 0.0)
        for pid in _descendants(proc.pid):
            if _is_java(pid):
                jvm_peak = max(jvm_peak, _status(pid, "VmHWM") or 0.0)
        time.sleep(0.2)
    reader.join(timeout=10)
    seconds = time.perf_counter() - started
    output = [text for _, text in lines]
    window_line = next((t for t in output if t.startswith("Window")), None)
    trained = next((t for t in output if t.startswith("Trained on")), None)
    return {
        "window_events_option": window,
        "exit_code": proc.returncode,
        "seconds": round(seconds, 1),
        "python_peak_mb": round(python_peak, 1),
        "jvm_peak_mb": round(jvm_peak, 1) if jvm_peak else None,
        "trained_on": trained,
        "window": window_line,
        "progress": [f"{at:>7.1f} s  {text}" for at, text in lines if text.startswith("[")],
        "tail": output[-5:] if proc.returncode else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, nargs="+", default=[200_000, 0])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="2g")
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = resolve_out(args.out, "train_window_memory.json")
    load_before = os.getloadavg()
    runs = []
    for window in args.windows:
        result = run_once(window, args)
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        runs.append(result)
        print(json.dumps(result, indent=2), flush=True)
        payload = {  # written after every run, so a long second run loses nothing
            "command": "flask --app shop train --backend spark --no-evaluate --window-events N",
            "master": args.master,
            "driver_memory": args.driver_memory,
            "database": os.environ.get("DATABASE_URL", "").split("://", 1)[0] or "default",
            "load_average_before": [round(x, 2) for x in load_before],
            "machine": machine(),
            "runs": runs,
        }
        write_json(out, payload)
        print(f"wrote {out}", flush=True)


if __name__ == "__main__":
    main()
