"""CPU time per page of the console, in one process, without the network.

Builds (or reuses) the SQLite database of ``bench/run.py`` (``bench/.data/``, migrations,
demo seed, N generated orders), builds the app in its production configuration, signs
in the demo manager through the login form with Flask's test client, then requests each
of the benchmark's pages (``bench/run.py``'s ``pages``: the orders list, a deep page,
status = pending, a search by e-mail, a pending order's edit page, the order's page,
the stock movements, the API's orders list) and prints the CPU time
(``time.process_time``) per request. Each answer must be a 200 with the page's content,
as in ``bench/run.py``.

The CPU time of one process is what the code costs, whatever else the machine runs;
the wall time of ``bench/run.py`` is not, on a shared machine.

Usage (from the repository root)::

    .venv/bin/python bench/profile_page.py                        # every page, 60 requests each
    .venv/bin/python bench/profile_page.py --requests 100 --rounds 3
    .venv/bin/python bench/profile_page.py --profile "orders, page 1"   # pyinstrument's tree
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import run  # noqa: E402  (bench/run.py: the pages, the database, the environment)

BASE = "https://console.bench.example"
"""The console's address in these requests (production cookies are HTTPS-only)."""


def make_app(url: str):
    """The console in its production configuration on ``url``, as ``bench/run.py``
    serves it (its environment), signed-in client included."""
    import os

    env = run.env_for(url, production=True)
    env["CONSOLE_BASE_URL"] = BASE
    os.environ.clear()
    os.environ.update(env)

    from console import create_app

    app = create_app()
    client = app.test_client()
    page = client.get("/login", base_url=BASE).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    email, password = run.MANAGER
    answer = client.post(
        "/login",
        base_url=BASE,
        headers={"Referer": f"{BASE}/login"},  # Flask-WTF checks it over HTTPS
        data={"email": email, "password": password, "csrf_token": token},
    )
    if answer.status_code != 302 or "/login" in answer.headers.get("Location", "/login"):
        raise RuntimeError(f"sign-in failed ({answer.status_code})")
    return app, client


def fetch(client, page: run.Page, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"} if page.api else {}
    answer = client.get(page.console, base_url=BASE, headers=headers)
    if answer.status_code != 200:
        raise run.PageError(f"{page.name}: answered {answer.status_code}")
    if not re.search(page.expect.encode(), answer.get_data()):
        raise run.PageError(f"{page.name}: {page.expect!r} is not in the answer")


def cpu_ms(client, page: run.Page, token: str, requests: int) -> float:
    """Median CPU milliseconds of one request to ``page`` over ``requests`` requests."""
    times = []
    for _ in range(requests):
        started = time.process_time()
        fetch(client, page, token)
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="orders (default 10000)")
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per page first")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over the pages; best kept")
    parser.add_argument("--profile", metavar="PAGE", help="run pyinstrument on this page instead")
    args = parser.parse_args()

    url, _ = run.database("sqlite", args.size, None)
    order_id = run.pending_order_id(url)
    token = run.make_token(url)
    app, client = make_app(url)
    pages = run.pages(args.size, order_id)

    if args.profile:
        try:
            from pyinstrument import Profiler
        except ImportError:
            parser.error("--profile needs pyinstrument: .venv/bin/pip install pyinstrument")

        page = next((p for p in pages if p.name == args.profile), None)
        if page is None:
            names = ", ".join(repr(p.name) for p in pages)
            parser.error(f"no page {args.profile!r}; pages: {names}")
        for _ in range(args.warmup):
            fetch(client, page, token)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(args.requests):
            fetch(client, page, token)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return 0

    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for page in pages:
            for _ in range(args.warmup):
                fetch(client, page, token)
            ms = cpu_ms(client, page, token, args.requests)
            best[page.name] = min(ms, best.get(page.name, ms))
    print(f"{args.size:,} orders, SQLite, production configuration, {run.PAGE_SIZE} rows a page")
    print(f"median CPU ms per request over {args.requests}, best of {args.rounds} rounds")
    for page in pages:
        print(f"  {page.name:<28} {best[page.name]:6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
