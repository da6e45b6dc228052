"""A bounded load generator: simulated shoppers against a shop on loopback.

Each virtual shopper is a thread with its own cookie jar. It registers, then loops over a mix of
what shoppers do (home, browse, search, open a product, rate, like, add to cart, check out) until a
deadline or a request budget runs out. It keeps a ledger of every write the server accepted, so a
test can check afterwards that the database holds exactly those ratings, likes and orders.

Only loopback targets are accepted: this is for testing our own server, never anybody else's.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import ipaddress
import json
import random
import re
import statistics
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
PRODUCT_LINK_RE = re.compile(r'href="/products/(\d+)')
#: A checkout the form accepts (collected: no delivery cost, the total is the cart's).
CHECKOUT_FIELDS = {
    "name": "Load Shopper",
    "line1": "1 High Street",
    "city": "Bristol",
    "postcode": "BS1 4DJ",
    "country": "GB",
    "delivery": "collection",
    "payment": "bank_transfer",
}

DEFAULT_MIX = {
    "home": 14,
    "browse": 12,
    "search": 10,
    "product": 24,
    "rate": 10,
    "like": 10,
    "add_to_cart": 12,
    "checkout": 4,
}
SEARCH_WORDS = ["kettle", "garden", "book", "toy", "lamp", "mug", "blue", "set", "pro", "bag"]


def ensure_loopback(base_url: str) -> None:
    host = urllib.parse.urlsplit(base_url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"load tests only target loopback addresses, not {host!r}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401
        return None


@dataclass
class Ledger:
    """What the server accepted, per shopper email, to compare with the database afterwards."""

    ratings: dict[tuple[str, int], int] = field(default_factory=dict)
    likes: dict[tuple[str, int], bool] = field(default_factory=dict)
    orders: Counter = field(default_factory=Counter)
    ordered_units: Counter = field(default_factory=Counter)  # (email, product_id) -> units


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    client_errors: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)

    def record(self, action: str, status: int, seconds: float, url: str) -> None:
        self.latencies[action].append(seconds)
        self.statuses[status] += 1
        if status >= 500:
            self.server_errors.append(f"{status} {url}")


class Shopper:
    def __init__(
        self,
        base_url: str,
        email: str,
        password: str,
        stats: Stats,
        ledger: Ledger,
        lock: threading.Lock,
        rng: random.Random,
        product_ids: list[int],
    ):
        self.base = base_url.rstrip("/")
        self.email = email
        self.password = password
        self.stats = stats
        self.ledger = ledger
        self.lock = lock
        self.rng = rng
        self.product_ids = product_ids
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        self.csrf = ""
        self.cart: Counter = Counter()
        self.user_id: int | None = None

    # -- HTTP ------------------------------------------------------------------------------
    def request(self, action: str, path: str, data: dict | None = None, json_reply: bool = False):
        url = self.base + path
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        headers = {"Accept": "application/json" if json_reply else "text/html"}
        if data is not None:
            headers["X-CSRFToken"] = self.csrf
        req = urllib.request.Request(url, data=body, headers=headers)
        started = time.perf_counter()
        try:
            with self.opener.open(req, timeout=60) as resp:
                status, text = resp.status, resp.read().decode("utf-8", "replace")
                location = resp.headers.get("Location")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
            location = exc.headers.get("Location")
        except OSError as exc:
            with self.lock:
                self.stats.transport_errors.append(f"{action} {url}: {exc}")
            return None, "", None
        elapsed = time.perf_counter() - started
        with self.lock:
            self.stats.record(action, status, elapsed, url)
            if 400 <= status < 500 and status not in (401, 404):
                self.stats.client_errors.append(f"{status} {action} {url}")
        match = CSRF_RE.search(text)
        if match:
            self.csrf = match.group(1)
        return status, text, location

    # -- actions ---------------------------------------------------------------------------
    def register(self) -> bool:
        self.request("register_form", "/auth/register")
        status, _, _ = self.request(
            "register",
            "/auth/register",
            {
                "csrf_token": self.csrf,
                "email": self.email,
                "display_name": "Load Shopper",
                "password": self.password,
                "confirm": self.password,
            },
        )
        if status == 302:
            self.request("home", "/")
            return True
        return False

    def sign_in(self) -> bool:
        self.request("login_form", "/auth/login")
        status, _, _ = self.request(
            "login",
            "/auth/login",
            {"csrf_token": self.csrf, "email": self.email, "password": self.password},
        )
        if status == 302:
            self.request("home", "/")
            return True
        return False

    def pick_product(self) -> int:
        return self.rng.choice(self.product_ids)

    def home(self):
        self.request("home", "/")

    def browse(self):
        page = self.rng.randint(1, 4)
        sort = self.rng.choice(["popularity", "price_asc", "rating", "newest"])
        self.request("browse", f"/products?page={page}&sort={sort}")

    def search(self):
        q = self.rng.choice(SEARCH_WORDS)
        self.request("search", f"/search?q={urllib.parse.quote(q)}")

    def product(self):
        pid = self.pick_product()
        self.request("product", f"/products/{pid}?src=load:browse")

    def rate(self):
        pid = self.pick_product()
        stars = self.rng.randint(1, 5)
        status, text, _ = self.request(
            "rate", f"/feedback/rate/{pid}", {"csrf_token": self.csrf, "stars": stars}, True
        )
        if status == 200:
            with self.lock:
                self.ledger.ratings[(self.email, pid)] = stars

    def like(self):
        pid = self.pick_product()
        status, text, _ = self.request(
            "like", f"/feedback/like/{pid}", {"csrf_token": self.csrf}, True
        )
        if status == 200:
            liked = bool(json.loads(text).get("liked"))
            with self.lock:
                self.ledger.likes[(self.email, pid)] = liked

    def add_to_cart(self):
        pid = self.pick_product()
        qty = self.rng.randint(1, 3)
        if self.cart[pid] + qty > 99:
            return
        status, _, _ = self.request(
            "add_to_cart",
            "/cart/add",
            {"csrf_token": self.csrf, "product_id": pid, "quantity": qty},
            True,
        )
        if status == 200:
            self.cart[pid] += qty

    def checkout(self):
        if not self.cart:
            self.add_to_cart()
            if not self.cart:
                return
        status, _, location = self.request(
            "checkout", "/checkout", {"csrf_token": self.csrf, **CHECKOUT_FIELDS}
        )
        if status == 302 and location and "/checkout/confirmation/" in location:
            with self.lock:
                self.ledger.orders[self.email] += 1
                for pid, qty in self.cart.items():
                    self.ledger.ordered_units[(self.email, pid)] += qty
            self.cart.clear()

    def recommend_api(self):
        if self.user_id is None:
            return
        self.request("recommend_api", f"/recommend?user_id={self.user_id}&n=10", json_reply=True)


def run_load(
    base_url: str,
    product_ids: list[int],
    shoppers: int = 8,
    duration: float = 20.0,
    max_requests: int = 20_000,
    mix: dict[str, int] | None = None,
    seed: int = 0,
    run_id: str | None = None,
    user_ids: dict[str, int] | None = None,
) -> tuple[Stats, Ledger, list[str]]:
    """Drive the server until ``duration`` seconds pass or ``max_requests`` are sent."""
    ensure_loopback(base_url)
    mix = mix or DEFAULT_MIX
    actions, weights = zip(*mix.items(), strict=True)
    stats, ledger, lock = Stats(), Ledger(), threading.Lock()
    run_id = run_id or f"{int(time.time())}"
    deadline = time.monotonic() + duration
    sent = [0]
    emails: list[str] = []

    def worker(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        email = f"load-{run_id}-{i}@example.com"
        shopper = Shopper(base_url, email, "load-password-1", stats, ledger, lock, rng, product_ids)
        if not shopper.register():
            with lock:
                stats.client_errors.append(f"register failed for {email}")
            return
        with lock:
            emails.append(email)
        if user_ids and email in user_ids:
            shopper.user_id = user_ids[email]
        while time.monotonic() < deadline:
            with lock:
                if sent[0] >= max_requests:
                    return
                sent[0] += 1
            action = rng.choices(actions, weights)[0]
            getattr(shopper, action)()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(shoppers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + 120)
    return stats, ledger, emails


def percentile(values: list[float], q: float) -> float:
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarise(latencies: list[float], seconds: float) -> dict[str, float]:
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds if seconds else 0.0,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * percentile(latencies, 0.95),
        "p99_ms": 1000 * percentile(latencies, 0.99),
    }


class LoopbackBrowser:
    """A cookie-keeping HTTP client bound to one loopback source address."""

    def __init__(self, base: str, address: str = "127.0.0.1"):
        ensure_loopback(base)
        parts = urlsplit(base)
        self.host, self.port, self.address = parts.hostname, parts.port, address
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None):
        conn = http.client.HTTPConnection(
            self.host, self.port, timeout=30, source_address=(self.address, 0)
        )
        headers = {"Host": f"{self.host}:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value and "Max-Age=0" not in header and "Expires=Thu, 01 Jan 1970" not in header:
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return response.status, response.headers, text

    def csrf(self, path: str = "/auth/login") -> str:
        status, _, text = self.request("GET", path)
        assert status == 200, (path, status)
        return CSRF_RE.search(text).group(1)

    def login(self, email: str, password: str, remember: bool = False):
        form = {"csrf_token": self.csrf(), "email": email, "password": password}
        if remember:
            form["remember"] = "y"
        status, headers, _ = self.request("POST", "/auth/login", form)
        return status, headers

    def signed_in(self) -> bool:
        return "Sign out" in self.request("GET", "/")[2]
