"""How long a failed sign-in takes for a known and for an unknown email, over real HTTP.

Serves a migrated shop with one account under gunicorn on loopback (limits off, so every attempt
checks a password), then alternates wrong-password sign-ins for the known email and for unknown
ones and prints the medians. The shop hashes a dummy password for unknown emails, so the two
should be within a few per cent; before it did, they were ~133 ms and ~6 ms.

    python bench/signin_timing.py [--tries 30] [--out bench/results/signin_timing.json]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._retail import machine, resolve_out, write_json  # noqa: E402
from bench.servers import flask, gunicorn, shop_env  # noqa: E402

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def failed_sign_in(base: str, email: str) -> float:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(base + "/auth/login", timeout=30) as page:
        token = CSRF_RE.search(page.read().decode()).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": "wrong-pass"})
    started = time.perf_counter()
    try:
        opener.open(base + "/auth/login", data=body.encode(), timeout=30)
    except urllib.error.HTTPError as exc:
        assert exc.code == 401, exc.code
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=30)
    parser.add_argument("--out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = shop_env(Path(tmp), SHOP_RATELIMIT_ENABLED="false")
        flask(env, "db", "upgrade")
        flask(env, "create-admin", "known@example.com", "--password", "the-right-password")
        with gunicorn(env, workers=1) as base:
            failed_sign_in(base, "warm-up@example.com")  # the dummy hash is made once
            known, unknown = [], []
            for n in range(args.tries):
                known.append(failed_sign_in(base, "known@example.com"))
                unknown.append(failed_sign_in(base, f"nobody{n}@example.com"))
    result = {
        "tries": args.tries,
        "known_median_ms": round(statistics.median(known) * 1000, 1),
        "unknown_median_ms": round(statistics.median(unknown) * 1000, 1),
        "machine": machine(),
    }
    result["unknown_over_known"] = round(result["unknown_median_ms"] / result["known_median_ms"], 3)
    print(
        f"failed sign-in, median of {args.tries}: known email {result['known_median_ms']} ms, "
        f"unknown email {result['unknown_median_ms']} ms "
        f"(ratio {result['unknown_over_known']}; target 0.8-1.2)"
    )
    print(f"machine: {result['machine']['nproc']} cores, {result['machine']['cpu']}")
    write_json(resolve_out(args.out, "signin_timing.json"), result)


if __name__ == "__main__":
    main()
