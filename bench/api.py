"""Benchmark of the JSON API: order intake and order pages at 10,000 and 1,000,000 orders.

Builds each database as ``bench/run.py`` does (migrations, demo seed, bulk generator),
serves the console under gunicorn with 2 workers, makes an API token for the demo
admin in the database, then measures

- order intake through ``POST /api/v1/orders`` (3 lines each, an ``Idempotency-Key``
  per order) at concurrency 4: orders per second;
- p50/p95 of ``GET /api/v1/orders`` pages (the first page, a page from the middle of
  the table by cursor, the status filter),

and checks "flat": each page's p50 at the largest size within 1.2x of the smallest.
It prints the figures and whether the budget holds; it writes nothing (figures of a
shared, busy machine are not results to keep).

Usage (from the repository root, after the README's set-up)::

    .venv/bin/python bench/api.py                                  # both sizes, both databases
    .venv/bin/python bench/api.py --sizes 10000 --backends sqlite --seconds 5
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import json
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _list_benchmark():
    """``bench/run.py`` (the list pages' benchmark), whose building and serving this
    reuses; loaded by path, since the repository's ``run.py`` has the same name."""
    spec = importlib.util.spec_from_file_location("list_benchmark", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_lists = _list_benchmark()
BUDGET_RATIO, database, env_for = _lists.BUDGET_RATIO, _lists.database, _lists.env_for
middle_order_id, percentile, serve = _lists.middle_order_id, _lists.percentile, _lists.serve

from console.api.pagination import encode  # noqa: E402
from tests.services import start_postgres  # noqa: E402

MAKE_TOKEN = """
from console import create_app
from console.database import db
from console.permissions import ALL_PERMISSIONS
from console.security import accounts
from console.services import api_tokens
app = create_app()
with app.app_context():
    admin = accounts().datastore.find_user(email="admin@example.com")
    _token, secret = api_tokens.create(db.session, admin, admin, "bench", ALL_PERMISSIONS)
    db.session.commit()
    print(secret)
"""


def make_token(url: str) -> str:
    """A token of the demo admin holding every permission, made in the database."""
    done = subprocess.run(
        [sys.executable, "-c", MAKE_TOKEN],
        cwd=ROOT, env=env_for(url), check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def call(base: str, secret: str, path: str, body: dict | None = None, key: str | None = None):
    headers = {"Authorization": f"Bearer {secret}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(base + path, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def intake(base: str, secret: str, seconds: float, concurrency: int) -> float:
    """Orders per second taken through the API (3 lines each)."""
    customer = call(base, secret, "/api/v1/customers?limit=1")["items"][0]["id"]
    products = [
        p["id"] for p in call(base, secret, "/api/v1/products?limit=3&active=true")["items"]
    ]
    body = {
        "customer_id": customer,
        "lines": [{"product_id": product, "quantity": 1} for product in products],
    }
    stop = time.monotonic() + seconds

    def worker() -> int:
        done = 0
        while time.monotonic() < stop:
            call(base, secret, "/api/v1/orders", body, key=uuid.uuid4().hex)
            done += 1
        return done

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        total = sum(pool.map(lambda _: worker(), range(concurrency)))
    return total / seconds


def pages(base: str, secret: str, middle: int, requests: int) -> dict[str, tuple[float, float]]:
    """p50 and p95 (ms) of each page."""
    paths = {
        "first page": "/api/v1/orders?limit=50",
        "middle page (cursor)": f"/api/v1/orders?limit=50&cursor={encode(middle)}",
        "status filter": "/api/v1/orders?limit=50&status=pending",
    }
    figures = {}
    for name, path in paths.items():
        for _ in range(3):
            call(base, secret, path)
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            call(base, secret, path)
            timings.append((time.perf_counter() - started) * 1000)
        figures[name] = (statistics.median(timings), percentile(timings, 0.95))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    postgres = start_postgres() if "postgresql" in backends else None
    ok = True
    try:
        for backend in backends:
            p50s: dict[int, dict[str, float]] = {}
            for size in sizes:
                url, _built = database(backend, size, postgres)
                secret = make_token(url)
                middle = middle_order_id(url)
                process, base = serve(url)
                try:
                    figures = pages(base, secret, middle, args.requests)
                    rate = intake(base, secret, args.seconds, concurrency=4)
                finally:
                    process.terminate()
                    process.wait(timeout=30)
                p50s[size] = {name: p50 for name, (p50, _p95) in figures.items()}
                print(f"{backend}, {size:,} orders: intake {rate:.1f} orders/s (3 lines)")
                for name, (p50, p95) in figures.items():
                    print(f"  GET {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
            if len(sizes) > 1:
                small, large = p50s[min(sizes)], p50s[max(sizes)]
                for name in small:
                    ratio = large[name] / small[name]
                    holds = ratio <= BUDGET_RATIO
                    ok = ok and holds
                    print(
                        f"{backend} {name}: {ratio:.2f}x from {min(sizes):,} to {max(sizes):,} "
                        f"orders, flat within {BUDGET_RATIO}x: {'holds' if holds else 'FAILS'}"
                    )
    except urllib.error.HTTPError as error:
        print(f"the API answered {error.code}: {error.read()[:300]!r}")
        return 1
    finally:
        if postgres is not None:
            postgres.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
