"""Benchmark: the console's pages at 10,000 and 1,000,000 orders, against a floor.

Builds each database with the project's migrations, demo seed and bulk generator
(``flask --app console seed --orders N``), then serves it twice, side by side, each
under gunicorn with 2 sync workers:

- the console in its production configuration (``CONSOLE_CONFIG=production``, secrets
  and ``CONSOLE_BASE_URL`` set here, rate-limit counters in a real redis-server), signed
  in as the demo manager through the real login form;
- the floor, ``bench/floor.py``: a bare WSGI app with no framework and no sign-in that
  answers the same pages from the same database with one indexed query each.

Every page shows 50 rows. Requests are interleaved (console, floor, console, ...); each
answer must be a 200, no redirect is followed, and each page's expected content must be
there, else the run stops naming the page. Pages: the orders list (page 1, the page at
offset 49,950 (page 1000; at 10,000 orders, the last page), status = pending, a search
by customer e-mail), the edit page of a pending order with several lines, an order's
page with its timeline, the stock movements list and ``GET /api/v1/orders`` (Bearer
token). Then the throughput of the orders list with 4 concurrent clients, for each app.

It prints p50/p95 per page, console / floor, the 1M/10k growth, requests per second and
the workers' resident memory, and whether each budget holds:

- each page's p50 at most 4x the floor's p50 for the same page in the same run;
- each page's p50 grows at most 1.2x from the smallest size to the largest;
- list throughput at least a quarter of the floor's;
- every worker's RSS under 100 MB;
- the e-mail search answered from indexes.

Usage (from the repository root, after the README's set-up)::

    .venv/bin/python bench/run.py                      # everything (15 minutes)
    .venv/bin/python bench/run.py --sizes 10000 --backends sqlite --requests 20 --no-write

Built SQLite databases are kept under ``bench/.data/`` and reused by later runs.
This is a benchmark, not a test: the machine's load changes its figures, which is
why the budgets are ratios to the floor timed in the same run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import http.client
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
RESULTS = ROOT / "bench" / "RESULTS.md"
KEPT_SECTIONS = ("\n## Profile\n", "\n## Exports\n")
"""Sections of ``RESULTS.md`` written by hand or by the other benchmarks: kept as they are."""
sys.path.insert(0, str(ROOT))

from tests.services import (  # noqa: E402
    PostgresServer,
    RedisServer,
    free_port,
    start_postgres,
    start_redis,
)

MANAGER = ("manager@example.com", "manager-demo-password")
SEARCH_EMAIL = "bulk0000123@example.com"
PAGE_SIZE = 50
DEEP_OFFSET = 49_950
BUDGET_RATIO = 1.2
"""Largest growth of a page's p50 from the smallest size to the largest."""
FLOOR_RATIO = 4.0
"""Largest console p50 / floor p50 of a page."""
THROUGHPUT_SHARE = 0.25
"""Smallest console / floor throughput of the orders list."""
RSS_LIMIT_MB = 100.0
BENCH_PASSWORD_SALT = "benchmark-password-salt-of-the-demo-accounts-only"
WORKERS = 2
CLIENTS = 4


@dataclass(frozen=True)
class Page:
    """A page timed on both apps, and what each answer must contain."""

    name: str
    console: str
    floor: str
    expect: str
    """A regular expression the console's answer must match."""
    floor_expect: str
    api: bool = False


def pages(size: int, order_id: int) -> list[Page]:
    """The timed pages; the deep page is at offset 49,950, or the last page when the
    table is smaller (at 10,000 orders: offset 9,950)."""
    deep = min(DEEP_OFFSET, (size // PAGE_SIZE - 1) * PAGE_SIZE) // PAGE_SIZE
    rows = r'<td class="col-number">'
    email = urllib.parse.quote(SEARCH_EMAIL)
    return [
        Page("orders, page 1", f"/admin/order/?page_size={PAGE_SIZE}", "/orders", rows, "<td>"),
        Page(
            f"orders, page {deep + 1}",
            f"/admin/order/?page_size={PAGE_SIZE}&page={deep}",
            f"/orders?page={deep}",
            rows,
            "<td>",
        ),
        Page(
            "status = pending",
            f"/admin/order/?page_size={PAGE_SIZE}&flt0_0=pending",
            "/orders?status=pending",
            rows,
            "<td>",
        ),
        Page(
            "search by customer e-mail",
            f"/admin/order/?page_size={PAGE_SIZE}&search={email}",
            f"/orders?search={email}",
            re.escape(SEARCH_EMAIL),
            re.escape(SEARCH_EMAIL),
        ),
        Page(
            "pending order's edit page",
            f"/admin/order/edit/?id={order_id}",
            f"/orders/{order_id}/edit",
            r'name="lines-2-quantity"',
            r'name="lines-2-quantity"',
        ),
        Page(
            "order page with timeline",
            f"/admin/order/details/?id={order_id}",
            f"/orders/{order_id}",
            r'id="order-timeline-title"',
            "Timeline",
        ),
        Page(
            "stock movements",
            f"/admin/stock/movements/?page_size={PAGE_SIZE}",
            "/stock/movements",
            r'<td class="col-product">',
            "<td>",
        ),
        Page(
            "API orders list",
            f"/api/v1/orders?limit={PAGE_SIZE}",
            "/api/orders",
            r'"number":',
            r'"number":',
            api=True,
        ),
    ]


@dataclass
class Run:
    backend: str
    size: int
    pages: list[str] = field(default_factory=list)
    p50: dict[tuple[str, str], float] = field(default_factory=dict)
    p95: dict[tuple[str, str], float] = field(default_factory=dict)
    throughput: dict[str, float] = field(default_factory=dict)
    rss_mb: dict[str, list[float]] = field(default_factory=dict)
    search_plan: str = ""
    search_uses_index: bool = False
    build_seconds: float | None = None


def env_for(url: str, production: bool = False) -> dict[str, str]:
    """The environment of the console's commands (development: building the data) or
    of its server (production, with its secrets and external address)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "REDIS_"))}
    env.update(
        {
            "DATABASE_URL": url,
            "CONSOLE_CONFIG": "development",
            "LOG_LEVEL": "WARNING",
            # Passwords are hashed with the salt: the demo accounts are made and signed
            # in with the same one.
            "SECURITY_PASSWORD_SALT": BENCH_PASSWORD_SALT,
        }
    )
    if production:
        env.update(
            {
                "CONSOLE_CONFIG": "production",
                "SECRET_KEY": secrets.token_urlsafe(48),
                "SECURITY_TOTP_SECRET": secrets.token_urlsafe(48),
                # The API's per-token limit (600 a minute) would refuse a benchmark.
                "API_RATE_LIMIT": "1000000 per minute",
            }
        )
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


class PageError(RuntimeError):
    """A page answered something other than a 200 with its expected content."""


class Client:
    """One person's requests: a plain HTTP client keeping the cookies it is given.

    No redirect is followed. Cookies are kept by hand because the production
    configuration marks them ``Secure``, which a cookie jar would not send over the
    benchmark's plain HTTP on loopback (both apps are timed without TLS).
    """

    def __init__(self, base: str, token: str | None = None) -> None:
        self.host, port = base.removeprefix("http://").split(":")
        self.port = int(port)
        self.cookies: dict[str, str] = {}
        self.token = token

    def request(
        self, method: str, path: str, body: bytes | None = None, api: bool = False
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {
            "Host": f"{self.host}:{self.port}",
            "Referer": f"http://{self.host}:{self.port}/",
        }
        if api and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        if not api:
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, dict(response.headers), data

    def get(self, path: str, expect: str | None = None, api: bool = False, name: str = "") -> bytes:
        """The page at ``path``; raises ``PageError`` unless it is a 200 holding ``expect``."""
        status, headers, data = self.request("GET", path, api=api)
        if status != 200:
            where = headers.get("Location", "")
            raise PageError(f"{name or path}: answered {status} {where}".rstrip())
        if expect is not None and not re.search(expect.encode(), data):
            raise PageError(f"{name or path}: {expect!r} is not in the answer")
        return data

    def login(self, email: str, password: str) -> None:
        page = self.get("/login").decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        form = {"email": email, "password": password, "csrf_token": token}
        status, headers, body = self.request(
            "POST", "/login", body=urllib.parse.urlencode(form).encode()
        )
        if status != 302 or "/login" in headers.get("Location", "/login"):
            errors = re.findall(r'class="fs-error-msg">([^<]+)<', body.decode(errors="replace"))
            raise RuntimeError(
                f"sign-in failed ({status}): {errors or body[:300]!r}; a database kept in "
                "bench/.data from before the benchmark's own password salt must be rebuilt "
                "(delete it)"
            )


def _wait(process: subprocess.Popen, base: str, path: str) -> None:
    client = Client(base)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            client.request("GET", path)
            return
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"gunicorn did not start ({base}{path})")


def serve(
    url: str, production: bool = False, redis: RedisServer | None = None
) -> tuple[subprocess.Popen, str]:
    """The console under gunicorn with ``gunicorn.conf.py``: 2 workers; in production,
    sync workers (one request at a time each) and the production configuration."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = env_for(url, production=production)
    env.update(
        {
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": str(WORKERS),
            "GUNICORN_THREADS": "4",
        }
    )
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
    if production:
        env.update({"CONSOLE_BASE_URL": base, "GUNICORN_THREADS": "1"})
        if redis is not None:
            env["REDIS_URL"] = redis.url
        command += ["--worker-class", "sync"]
    process = subprocess.Popen(
        [*command, "console:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait(process, base, "/status")
    return process, base


def serve_floor(url: str) -> tuple[subprocess.Popen, str]:
    """``bench/floor.py`` under gunicorn, 2 sync workers, on the same database."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--worker-class", "sync",
            "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}", "floor:app",
        ],
        cwd=ROOT / "bench", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    _wait(process, base, "/api/orders")
    return process, base


def workers_rss_mb(master: int) -> list[float]:
    """The resident memory of each worker process of the gunicorn ``master``, in MB."""
    sizes = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != master:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
        sizes.append(kb / 1024)
    return sorted(sizes)


def make_token(url: str) -> str:
    """An API token of the demo admin (``bench/api.py``'s)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("api_benchmark", ROOT / "bench" / "api.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.make_token(url)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def pending_order_id(url: str) -> int:
    """A pending order with several lines, from the middle of the table (its edit page
    shows the form; another order's would show the "pending only" notice)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        low, high = conn.execute(text("SELECT min(id), max(id) FROM sales_order")).one()
        found = conn.execute(
            text(
                "SELECT o.id FROM sales_order o WHERE o.id >= :middle AND o.status = 'pending'"
                " AND (SELECT count(*) FROM order_line l WHERE l.order_id = o.id) >= 3"
                " ORDER BY o.id LIMIT 1"
            ),
            {"middle": (low + high) // 2},
        ).scalar()
    engine.dispose()
    if found is None:
        raise RuntimeError("no pending order with 3 lines or more past the middle of the table")
    return found


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


def measure(
    backend: str,
    size: int,
    requests: int,
    seconds: float,
    postgres: PostgresServer | None,
    redis: RedisServer,
) -> Run:
    url, built = database(backend, size, postgres)
    run = Run(backend, size, build_seconds=built)
    run.search_plan, run.search_uses_index = search_plan(url)
    order_id = pending_order_id(url)
    token = make_token(url)
    timed = pages(size, order_id)
    run.pages = [page.name for page in timed]
    console, console_base = serve(url, production=True, redis=redis)
    floor, floor_base = serve_floor(url)
    try:
        person = Client(console_base, token=token)
        person.login(*MANAGER)
        bare = Client(floor_base)
        apps = {
            "console": lambda p: person.get(p.console, p.expect, api=p.api, name=p.name),
            "floor": lambda p: bare.get(p.floor, p.floor_expect, name=f"floor, {p.name}"),
        }
        for page in timed:
            timings: dict[str, list[float]] = {"console": [], "floor": []}
            for _ in range(3):  # warm the caches and the connection pools
                for get in apps.values():
                    get(page)
            for i in range(requests):
                # Interleaved, each app first every other time.
                for app in ("console", "floor") if i % 2 == 0 else ("floor", "console"):
                    started = time.perf_counter()
                    apps[app](page)
                    timings[app].append((time.perf_counter() - started) * 1000)
            for app, values in timings.items():
                run.p50[(page.name, app)] = statistics.median(values)
                run.p95[(page.name, app)] = percentile(values, 0.95)
        first = timed[0]
        run.throughput["console"] = throughput(
            lambda: person.get(first.console, first.expect, name=first.name), seconds
        )
        run.throughput["floor"] = throughput(
            lambda: bare.get(first.floor, first.floor_expect, name=first.name), seconds
        )
        run.rss_mb = {"console": workers_rss_mb(console.pid), "floor": workers_rss_mb(floor.pid)}
    finally:
        for process in (console, floor):
            process.terminate()
            process.wait(timeout=30)
    return run


def throughput(get, seconds: float) -> float:
    """Requests per second that ``CLIENTS`` concurrent clients get answered."""
    stop = time.monotonic() + seconds

    def client() -> int:
        done = 0
        while time.monotonic() < stop:
            get()
            done += 1
        return done

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        total = sum(pool.map(lambda _: client(), range(CLIENTS)))
    return total / seconds


def _held(ok: bool) -> str:
    return "held" if ok else "NOT held"


def report(runs: list[Run], requests: int, seconds: float, load: str) -> tuple[str, bool]:
    lines = [
        "# Benchmark results",
        "",
        f"Run on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `bench/run.py`: the console "
        f"in its production configuration and the floor (`bench/floor.py`), each under "
        f"gunicorn with {WORKERS} sync workers, {PAGE_SIZE} rows a page, {requests} "
        "interleaved requests per page and app after 3 warm-up requests, each answer "
        f"checked (200, no redirect, expected content); throughput: orders page 1, "
        f"{CLIENTS} concurrent clients for {seconds:g} s per app.",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load average {load}",
        "- Versions: "
        + ", ".join(
            f"{name} {metadata.version(name)}"
            for name in ("flask", "flask-admin", "sqlalchemy", "gunicorn", "psycopg")
        )
        + f", SQLite {__import__('sqlite3').sqlite_version}",
        "",
        "| backend | orders | page | console p50 ms | console p95 ms | floor p50 ms "
        "| floor p95 ms | console / floor |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        for page in run.pages:
            c50, c95 = run.p50[(page, "console")], run.p95[(page, "console")]
            f50, f95 = run.p50[(page, "floor")], run.p95[(page, "floor")]
            lines.append(
                f"| {run.backend} | {run.size:,} | {page} | {c50:.1f} | {c95:.1f} | {f50:.1f} "
                f"| {f95:.1f} | {c50 / f50:.1f} |"
            )
    lines += [
        "",
        "| backend | orders | console req/s | floor req/s | console / floor "
        "| console workers' RSS MB | floor workers' RSS MB | build s |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for run in runs:
        built = f"{run.build_seconds:.0f}" if run.build_seconds is not None else "reused"
        c, f = run.throughput["console"], run.throughput["floor"]
        rss = {app: ", ".join(f"{mb:.0f}" for mb in sizes) for app, sizes in run.rss_mb.items()}
        lines.append(
            f"| {run.backend} | {run.size:,} | {c:.1f} | {f:.1f} | {c / f:.2f} "
            f"| {rss['console']} | {rss['floor']} | {built} |"
        )
    ok = True
    lines += ["", "## Budgets", ""]
    for run in runs:
        where = f"{run.backend}, {run.size:,} orders"
        for page in run.pages:
            ratio = run.p50[(page, "console")] / run.p50[(page, "floor")]
            ok &= ratio <= FLOOR_RATIO
            lines.append(
                f"- {where}, {page}: p50 {ratio:.1f}x the floor's "
                f"(at most {FLOOR_RATIO:g}x): {_held(ratio <= FLOOR_RATIO)}"
            )
        share = run.throughput["console"] / run.throughput["floor"]
        ok &= share >= THROUGHPUT_SHARE
        lines.append(
            f"- {where}: list throughput {share:.2f} of the floor's "
            f"(at least {THROUGHPUT_SHARE:g}): {_held(share >= THROUGHPUT_SHARE)}"
        )
        largest = max(run.rss_mb["console"], default=0.0)
        ok &= largest < RSS_LIMIT_MB
        lines.append(
            f"- {where}: largest console worker RSS {largest:.0f} MB "
            f"(under {RSS_LIMIT_MB:g} MB): {_held(largest < RSS_LIMIT_MB)}"
        )
        ok &= run.search_uses_index
        verdict = "answers from indexes" if run.search_uses_index else "SCANS the table"
        lines.append(f"- {where}: e-mail search {verdict}: {_held(run.search_uses_index)}")
    by_key = {(r.backend, r.size): r for r in runs}
    sizes = sorted({r.size for r in runs})
    for backend in sorted({r.backend for r in runs}):
        if (
            len(sizes) < 2
            or (backend, sizes[0]) not in by_key
            or (backend, sizes[-1]) not in by_key
        ):
            continue
        small, large = by_key[(backend, sizes[0])], by_key[(backend, sizes[-1])]
        for index, page in enumerate(large.pages):
            before, after = small.p50[(small.pages[index], "console")], large.p50[(page, "console")]
            growth = after / before
            ok &= growth <= BUDGET_RATIO
            lines.append(
                f"- {backend}, {page}: p50 {after:.1f} ms at {sizes[-1]:,} vs {before:.1f} ms "
                f"at {sizes[0]:,} ({small.pages[index]}) = {growth:.2f}x (at most "
                f"{BUDGET_RATIO}x): {_held(growth <= BUDGET_RATIO)}"
            )
    lines += ["", "## E-mail search plans", ""]
    for run in runs:
        lines += [f"{run.backend}, {run.size:,} orders:", "", "```", run.search_plan, "```", ""]
    lines.append(f"Budgets: {'all held' if ok else 'NOT all held'}.")
    return "\n".join(lines) + "\n", ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=10.0, help="throughput time per app")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    postgres = start_postgres() if "postgresql" in backends else None
    redis = start_redis()
    runs = []
    try:
        for backend in backends:
            for size in sizes:
                print(f"{backend}, {size:,} orders ...", flush=True)
                runs.append(measure(backend, size, args.requests, args.seconds, postgres, redis))
    except PageError as error:
        print(f"Stopped: {error}", file=sys.stderr)
        return 2
    finally:
        redis.close()
        if postgres is not None:
            postgres.close()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    text, ok = report(runs, args.requests, args.seconds, load)
    print(text)
    if not args.no_write:
        # The profile and the other benchmarks (bench/export.py, bench/import.py) keep
        # their sections.
        previous = RESULTS.read_text() if RESULTS.exists() else ""
        starts = [previous.index(s) for s in KEPT_SECTIONS if s in previous]
        RESULTS.write_text(text + (previous[min(starts) :] if starts else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
