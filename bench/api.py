"""Benchmark of the JSON API: order intake and order pages at 10,000 and 1,000,000 orders.

Builds each database as ``bench/run.py`` does (migrations, demo seed, bulk generator),
serves the console under gunicorn with 2 workers, makes an API token for the demo
admin in the database, then measures

- order intake through ``POST /api/v1/orders`` (3 lines each, an ``Idempotency-Key``
  per order) at concurrency 4: orders per second;
- p50/p95 of ``GET /api/v1/orders`` pages (the first page, a page from the middle of
  the table by cursor, the status filter), the sizes' servers side by side and their
  requests alternating, so that a shared machine's changing load weighs on each size
  alike,

and checks "flat": each page's p50 at the largest size within 1.2x of the smallest.
It prints the figures, the load average around the measurement and whether the budget
holds; it writes nothing (bench/RESULTS.md records runs with how loaded the machine was).

Usage (from the repository root, after the README's set-up)::

    .venv/bin/python bench/api.py                                  # both sizes, both databases
    .venv/bin/python bench/api.py --sizes 10000 --backends sqlite --seconds 5
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
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


def page_paths(middle: int) -> dict[str, str]:
    """The pages measured: the first, one from the middle of the table by cursor, a filter."""
    return {
        "first page": "/api/v1/orders?limit=50",
        "middle page (cursor)": f"/api/v1/orders?limit=50&cursor={encode(middle)}",
        "status filter": "/api/v1/orders?limit=50&status=pending",
    }


def pages(targets: dict[int, Target], requests: int) -> dict[int, dict[str, tuple[float, float]]]:
    """p50 and p95 (ms) of each page at each size.

    The sizes' servers run side by side and their requests alternate (one request at
    10k, one at 1M, ...), so that a shared machine's changing load falls on every size
    alike and the ratio between sizes stays meaningful.
    """
    figures: dict[int, dict[str, tuple[float, float]]] = {size: {} for size in targets}
    for name in page_paths(0):
        timings: dict[int, list[float]] = {size: [] for size in targets}
        for round_ in range(3 + requests):
            for size, target in targets.items():
                path = page_paths(target.middle)[name]
                started = time.perf_counter()
                call(target.base, target.secret, path)
                if round_ >= 3:  # the first rounds warm caches and connection pools
                    timings[size].append((time.perf_counter() - started) * 1000)
        for size, values in timings.items():
            figures[size][name] = (statistics.median(values), percentile(values, 0.95))
    return figures


@dataclass
class Target:
    """One size's database served by its own gunicorn."""

    base: str
    secret: str
    middle: int
    process: subprocess.Popen


def load() -> str:
    return "load average " + ", ".join(f"{value:.1f}" for value in os.getloadavg())


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
            targets: dict[int, Target] = {}
            try:
                for size in sizes:
                    url, built = database(backend, size, postgres)
                    if built is not None:
                        print(f"{backend}, {size:,} orders: built in {built:.0f} s")
                    process, base = serve(url)
                    targets[size] = Target(base, make_token(url), middle_order_id(url), process)
                print(f"{backend}: measuring ({load()})")
                figures = pages(targets, args.requests)
                rates = {
                    size: intake(target.base, target.secret, args.seconds, concurrency=4)
                    for size, target in targets.items()
                }
                print(f"{backend}: measured ({load()})")
            finally:
                for target in targets.values():
                    target.process.terminate()
                    target.process.wait(timeout=30)
            for size in sizes:
                print(f"{backend}, {size:,} orders: intake {rates[size]:.1f} orders/s (3 lines)")
                for name, (p50, p95) in figures[size].items():
                    print(f"  GET {name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
            if len(sizes) > 1:
                small, large = figures[min(sizes)], figures[max(sizes)]
                for name in small:
                    ratio = large[name][0] / small[name][0]
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
