"""Benchmark: order pages at 10,000 and 1,000,000 orders, on SQLite and PostgreSQL.

Builds each database with the project's migrations, demo seed and bulk generator
(``flask --app console seed --orders N``), serves the console under gunicorn with
``gunicorn.conf.py``, signs in as the demo manager through the real login form, and
measures p50/p95 latency of the orders list (page 1, a deep page, the status filter, a
search by customer e-mail) and of an order's edit page, then the list's throughput at
concurrency 4. It prints the figures, writes them to ``bench/RESULTS.md``, and checks the
budget: each page's p50 at 1M within 1.2x of the same page at 10k, and the e-mail search
answered from indexes (no full scan of the orders table).

Usage (from the repository root, after the README's set-up)::

    .venv/bin/python bench/run.py                      # everything (about 10 minutes)
    .venv/bin/python bench/run.py --sizes 10000 --backends sqlite --requests 20

Built SQLite databases are kept under ``bench/.data/`` and reused by later runs.
This is a benchmark, not a test: the machine's load changes its figures.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import http.cookiejar
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
RESULTS = ROOT / "bench" / "RESULTS.md"
EXPORTS_SECTION = "\n## Exports\n"
sys.path.insert(0, str(ROOT))

from tests.services import PostgresServer, free_port, start_postgres  # noqa: E402

MANAGER = ("manager@example.com", "manager-demo-password")
SEARCH_EMAIL = "bulk0000123@example.com"
PAGES = {
    "list page 1": "/admin/order/",
    "deep page (page 200)": "/admin/order/?page=200",
    "status filter": "/admin/order/?flt0_0=pending",
    "search by e-mail": f"/admin/order/?search={urllib.parse.quote(SEARCH_EMAIL)}",
    "order edit page": "/admin/order/edit/?id={order_id}",
}
BUDGET_RATIO = 1.2


@dataclass
class Run:
    backend: str
    size: int
    p50: dict[str, float] = field(default_factory=dict)
    p95: dict[str, float] = field(default_factory=dict)
    throughput: float = 0.0
    search_plan: str = ""
    search_uses_index: bool = False
    build_seconds: float | None = None


def env_for(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "REDIS_"))}
    env.update({"DATABASE_URL": url, "CONSOLE_CONFIG": "development", "LOG_LEVEL": "WARNING"})
    return env


def flask(url: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "console", *args],
        cwd=ROOT, env=env_for(url), check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def migrate(url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT, env=env_for(url), check=True, capture_output=True,
    )  # fmt: skip


def build(url: str, size: int) -> float:
    """Migrate, seed and generate ``size`` orders; seconds it took."""
    started = time.perf_counter()
    migrate(url)
    flask(url, "seed", "--orders", str(size))
    return time.perf_counter() - started


def database(backend: str, size: int, postgres: PostgresServer | None) -> tuple[str, float | None]:
    if backend == "sqlite":
        path = DATA / f"orders-{size}.sqlite3"
        url = f"sqlite:///{path}"
        if path.exists():
            migrate(url)  # a database kept from an earlier run may predate new migrations
            return url, None
        DATA.mkdir(parents=True, exist_ok=True)
        return url, build(url, size)
    assert postgres is not None
    name = f"bench_{size}"
    postgres.execute(f'DROP DATABASE IF EXISTS "{name}"')
    postgres.execute(f'CREATE DATABASE "{name}"')
    url = postgres.database_url(name)
    return url, build(url, size)


class Client:
    """A signed-in browser session: cookies and the login form's CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(self, path: str) -> bytes:
        with self.opener.open(self.base + path, timeout=60) as response:
            return response.read()

    def login(self, email: str, password: str) -> None:
        page = self.get("/login").decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token})
        with self.opener.open(self.base + "/login", data=data.encode(), timeout=60) as response:
            body = response.read().decode()
        if "/login" in response.geturl():
            raise RuntimeError("sign-in failed: " + body[:300])


def serve(url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = env_for(url)
    env.update(
        {"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2", "GUNICORN_THREADS": "4"}
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "console:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/status", timeout=2).read()
            return process, base
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def middle_order_id(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        low, high = conn.execute(text("SELECT min(id), max(id) FROM sales_order")).one()
    engine.dispose()
    return (low + high) // 2


def search_plan(url: str) -> tuple[str, bool]:
    """The database's plan for the e-mail search, and whether it avoids a full scan."""
    from sqlalchemy import create_engine, select, text

    from console.models import Order
    from console.services.orders import search_condition

    stmt = select(Order.id).where(search_condition(SEARCH_EMAIL)).order_by(Order.created_at.desc())
    engine = create_engine(url)
    compiled = str(stmt.limit(25).compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("EXPLAIN QUERY PLAN " + compiled)).all()
            plan = "\n".join(str(r[-1]) for r in rows)
            full_scan = re.search(r"\bSCAN sales_order\b(?! USING)", plan) is not None
        else:
            plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + compiled)))
            full_scan = "Seq Scan on sales_order" in plan
    engine.dispose()
    return plan, not full_scan


def measure(backend: str, size: int, requests: int, postgres: PostgresServer | None) -> Run:
    url, built = database(backend, size, postgres)
    run = Run(backend, size, build_seconds=built)
    run.search_plan, run.search_uses_index = search_plan(url)
    process, base = serve(url)
    try:
        client = Client(base)
        client.login(*MANAGER)
        order_id = middle_order_id(url)
        for name, path in PAGES.items():
            path = path.format(order_id=order_id)
            for _ in range(3):
                client.get(path)  # warm the caches and the connection pools
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                client.get(path)
                timings.append((time.perf_counter() - started) * 1000)
            run.p50[name] = statistics.median(timings)
            run.p95[name] = percentile(timings, 0.95)
        run.throughput = throughput(client, PAGES["list page 1"], seconds=10, concurrency=4)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return run


def throughput(client: Client, path: str, seconds: float, concurrency: int) -> float:
    stop = time.monotonic() + seconds

    def worker() -> int:
        done = 0
        while time.monotonic() < stop:
            client.get(path)
            done += 1
        return done

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        total = sum(pool.map(lambda _: worker(), range(concurrency)))
    return total / seconds


def report(runs: list[Run], requests: int) -> tuple[str, bool]:
    lines = [
        "# Benchmark results",
        "",
        f"Run on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `bench/run.py` "
        f"({requests} sequential requests per page after 3 warm-up requests; throughput: "
        "list page 1, 4 concurrent clients for 10 s). gunicorn: 2 workers × 4 threads.",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}",
        "- Versions: "
        + ", ".join(
            f"{name} {metadata.version(name)}"
            for name in ("flask", "flask-admin", "sqlalchemy", "gunicorn", "psycopg")
        )
        + f", SQLite {__import__('sqlite3').sqlite_version}",
        "",
        "| backend | orders | page | p50 ms | p95 ms |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for run in runs:
        for page in PAGES:
            p50, p95 = run.p50[page], run.p95[page]
            lines.append(f"| {run.backend} | {run.size:,} | {page} | {p50:.1f} | {p95:.1f} |")
    lines += ["", "| backend | orders | list page 1 throughput (req/s, concurrency 4) | build s |"]
    lines += ["| --- | ---: | ---: | ---: |"]
    for run in runs:
        built = f"{run.build_seconds:.0f}" if run.build_seconds is not None else "reused"
        lines.append(f"| {run.backend} | {run.size:,} | {run.throughput:.1f} | {built} |")
    ok = True
    lines += ["", "## Budget", ""]
    by_key = {(r.backend, r.size): r for r in runs}
    sizes = sorted({r.size for r in runs})
    for backend in sorted({r.backend for r in runs}):
        if len(sizes) >= 2 and (backend, sizes[0]) in by_key and (backend, sizes[-1]) in by_key:
            small, large = by_key[(backend, sizes[0])], by_key[(backend, sizes[-1])]
            for page in PAGES:
                ratio = large.p50[page] / small.p50[page]
                # Below a few milliseconds the ratio measures noise, not the table size.
                within = ratio <= BUDGET_RATIO or large.p50[page] - small.p50[page] < 2.0
                ok &= within
                lines.append(
                    f"- {backend}, {page}: p50 {large.p50[page]:.1f} ms at {sizes[-1]:,} vs "
                    f"{small.p50[page]:.1f} ms at {sizes[0]:,} = {ratio:.2f}x "
                    f"({'within' if within else 'OVER'} {BUDGET_RATIO}x)"
                )
        for run in runs:
            if run.backend == backend:
                ok &= run.search_uses_index
                verdict = "answers from indexes" if run.search_uses_index else "SCANS the table"
                lines.append(f"- {backend}, {run.size:,} orders: e-mail search {verdict}")
    lines += ["", "## E-mail search plans", ""]
    for run in runs:
        lines += [f"{run.backend}, {run.size:,} orders:", "", "```", run.search_plan, "```", ""]
    lines.append(f"Budget: {'met' if ok else 'NOT met'}.")
    return "\n".join(lines) + "\n", ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    postgres = start_postgres() if "postgresql" in backends else None
    runs = []
    try:
        for backend in backends:
            for size in sizes:
                print(f"{backend}, {size:,} orders ...", flush=True)
                runs.append(measure(backend, size, args.requests, postgres))
    finally:
        if postgres is not None:
            postgres.close()
    text, ok = report(runs, args.requests)
    print(text)
    if not args.no_write:
        # The exports benchmark (bench/export.py) keeps its figures in a section of its own.
        previous = RESULTS.read_text() if RESULTS.exists() else ""
        exports = previous[previous.index(EXPORTS_SECTION) :] if EXPORTS_SECTION in previous else ""
        RESULTS.write_text(text + exports)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
