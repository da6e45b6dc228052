"""What the shop's rules cost the signed-in home page: the same page with and without them.

    .venv/bin/python bench/rules_cost.py                          # 3,000 users, 1,500 products
    .venv/bin/python bench/rules_cost.py --users 300 --products 200 --events 20000 --rounds 5

Every recommendation list leaves out hidden, sold-out and in-cart products and applies the running
boosts (``shop.services.availability``, ``shop.services.merchandising``): a few reads per request
and longer exclusion lists for the engine. This seeds a shop (the demo seed: some products hidden,
some sold out), trains it, signs one shopper in, puts three products in their cart, and times
``GET /`` in one process through Flask's test client, in interleaved pairs of requests: *with*
the rules as they are, and *without* them (the rule reads patched to say "nothing is hidden, sold out, carted
or boosted"). Both sides serve the same database, model and shopper, so the median of the paired
ratios is the rules' cost; noise on a shared machine lands on both sides of a pair alike. The target is at most +10%.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._retail import machine  # noqa: E402
from bench.servers import prepare_shop, shop_arguments, shop_env  # noqa: E402

PASSWORD = "rules-bench-password"


@contextmanager
def rules_off():
    """The rule reads answer "nothing to leave out" for the duration of the block."""
    from shop.services import availability, history_lists, merchandising, recommendations

    empty = availability.Unsellable(hidden=frozenset(), sold_out=frozenset())
    patched = [
        (recommendations, "unsellable", lambda: empty),
        (recommendations, "cart_product_ids", lambda user_id: frozenset()),
        (history_lists, "unsellable", lambda: empty),
        (history_lists, "cart_product_ids", lambda user_id: frozenset()),
        (merchandising, "active_boosts", lambda on=None: {}),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patched]
    for module, name, value in patched:
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def sign_in(app, client) -> int:
    """The shopper with the longest history, signed in, with three products in their cart."""
    import re

    from sqlalchemy import func, select

    from shop.extensions import db
    from shop.models import CartItem, Event, Product, User

    with app.app_context():
        user_id = db.session.scalar(
            select(Event.user_id)
            .where(Event.user_id.is_not(None))
            .group_by(Event.user_id)
            .order_by(func.count(Event.id).desc())
            .limit(1)
        )
        user = db.session.get(User, user_id)
        user.set_password(PASSWORD)
        popular = db.session.scalars(
            select(Product.id).where(Product.listed.is_(True)).order_by(Product.click_count.desc())
        ).all()[:3]
        db.session.query(CartItem).filter_by(user_id=user_id).delete()
        db.session.add_all(CartItem(user_id=user_id, product_id=p, quantity=1) for p in popular)
        db.session.commit()
        email = user.email
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = client.post(
        "/auth/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )
    if answer.status_code != 302:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")
    return user_id


def time_home(client, requests: int) -> list[float]:
    took = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get("/")
        took.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET / answered {response.status_code}")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = shop_arguments(__doc__.split("\n\n")[0], "rules_cost")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=40, help="pairs per round")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="shop-rules-"))
    env = shop_env(workdir)
    if not (workdir / "shop.db").exists():
        started = time.perf_counter()
        prepare_shop(env, args.users, args.products, args.events)
        print(f"prepared shop in {time.perf_counter() - started:.0f} s at {workdir}")

    import os

    os.environ.update(env)
    from shop import create_app

    app = create_app()
    client = app.test_client()
    sign_in(app, client)
    time_home(client, 10)  # warm: model loaded, caches filled
    with rules_off():
        time_home(client, 10)

    # Request by request, the two sides alternate (in a shuffled order), so that a burst of noise
    # on the shared machine lands on both; the cost is the median of the per-pair ratios.
    rng = random.Random(0)
    took: dict[str, list[float]] = {"with": [], "without": []}
    ratios = []
    for _ in range(args.rounds * args.requests):
        pair = {}
        for side in rng.sample(["with", "without"], 2):
            if side == "with":
                pair[side] = time_home(client, 1)[0]
            else:
                with rules_off():
                    pair[side] = time_home(client, 1)[0]
            took[side].append(pair[side])
        ratios.append(pair["with"] / pair["without"])
    with_ms = statistics.median(took["with"])
    without_ms = statistics.median(took["without"])
    cost = statistics.median(ratios) - 1
    result = {
        "shop": {"users": args.users, "products": args.products, "events": args.events},
        "rounds": args.rounds,
        "requests_per_side_per_round": args.requests,
        "home_signed_in_median_ms": {"with_rules": with_ms, "without_rules": without_ms},
        "cost_median_of_paired_ratios": cost,
        "cost_ratio_of_medians": with_ms / without_ms - 1,
        "machine": machine(),
    }
    pairs = args.rounds * args.requests
    print(f"signed-in home page, {pairs} interleaved pairs of requests, medians:")
    print(f"  without the rules  {without_ms:7.2f} ms")
    print(f"  with the rules     {with_ms:7.2f} ms")
    print(f"  cost (median of the paired ratios) {cost:+.1%}; target at most +10%")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
