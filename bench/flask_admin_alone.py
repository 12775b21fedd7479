"""What Flask-Admin's own list page costs, beside the console and the floor.

The console's pages are Flask-Admin's. This benchmark serves, from the same database,
a bare Flask-Admin app: Flask, Flask-SQLAlchemy, Flask-Babel and one
``flask_admin.contrib.sqla.ModelView`` of the orders with the console's list columns
(number, customer, status, total, created, taken by), its search and status filter, 50
rows a page and previous/next paging; no sign-in, no session, no permission, none of
the console's code. The console, this app and the floor (``bench/floor.py``) each run
under gunicorn with 2 sync workers and answer the orders list pages in one interleaved
run (every answer a 200 with its rows); it prints each one's p50 and p95, the ratios
to the floor, and the workers' resident memory.

It tells how much of issue 18's budget (a page's p50 at most 4x the floor's, workers
under 100 MB) Flask-Admin's list page uses before the console adds anything.

Usage (from the repository root, after the README's set-up)::

    .venv/bin/python bench/flask_admin_alone.py                  # 10,000 orders, SQLite
    .venv/bin/python bench/flask_admin_alone.py --size 1000000 --requests 60

The databases are ``bench/run.py``'s (built there, or here, the same way).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from flask import Flask
from flask_admin import Admin
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_babel import Babel
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, ForeignKey, Numeric, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

BENCH = Path(__file__).resolve().parent


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Customer(db.Model):  # type: ignore[name-defined]
    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(254))

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} <{self.email}>"


class Staff(db.Model):  # type: ignore[name-defined]
    __tablename__ = "staff_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))

    def __str__(self) -> str:
        return self.email


class Order(db.Model):  # type: ignore[name-defined]
    __tablename__ = "sales_order"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    status: Mapped[str] = mapped_column(String(16))
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    customer = relationship(Customer)
    created_by = relationship(Staff)


STATUSES = ["pending", "approved", "rejected", "shipped", "delivered", "cancelled"]


class OrderView(ModelView):
    """The orders list as the console declares it, in Flask-Admin's own terms."""

    column_list = ["number", "customer", "status", "total", "created_at", "created_by"]
    column_searchable_list = ["number", "customer.email", "customer.last_name"]
    column_filters = [FilterEqual(Order.status, "Status", options=[(s, s) for s in STATUSES])]
    column_default_sort = [("created_at", True), ("id", True)]
    column_select_related_list = [Order.customer, Order.created_by]
    simple_list_pager = True
    can_set_page_size = True
    page_size = 50
    page_size_options = (25, 50, 100)


def create_app(url: str) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SECRET_KEY"] = os.urandom(16).hex()
    db.init_app(app)
    Babel(app)
    admin = Admin(app, name="Flask-Admin alone")
    admin.add_view(OrderView(Order, db.session, endpoint="order"))
    return app


app = create_app(os.environ["DATABASE_URL"]) if "DATABASE_URL" in os.environ else None
"""The WSGI app gunicorn serves (``flask_admin_alone:app``, ``DATABASE_URL`` set)."""


def serve_alone(url: str) -> tuple[subprocess.Popen, str]:
    """This module's app under gunicorn, 2 sync workers, on the same database."""
    import run

    port = run.free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--worker-class", "sync",
            "--workers", str(run.WORKERS), "--bind", f"127.0.0.1:{port}", "flask_admin_alone:app",
        ],
        cwd=BENCH, env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    run._wait(process, base, "/admin/order/")
    return process, base


def main() -> int:
    sys.path.insert(0, str(BENCH))
    import run

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="orders (default 10000)")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    args = parser.parse_args()

    url, _ = run.database("sqlite", args.size, None)
    lists = [
        p for p in run.pages(args.size, run.pending_order_id(url)) if "/admin/order/?" in p.console
    ]
    redis = run.start_redis()
    servers = []
    try:
        console, console_base = run.serve(url, production=True, redis=redis)
        servers.append(console)
        alone, alone_base = serve_alone(url)
        servers.append(alone)
        floor, floor_base = run.serve_floor(url)
        servers.append(floor)
        person = run.Client(console_base)
        person.login(*run.MANAGER)
        plain, bare = run.Client(alone_base), run.Client(floor_base)
        apps = {
            "console": lambda p: person.get(p.console, p.expect, name=p.name),
            "Flask-Admin alone": lambda p: plain.get(p.console, p.expect, name=f"alone, {p.name}"),
            "floor": lambda p: bare.get(p.floor, p.floor_expect, name=f"floor, {p.name}"),
        }
        print(
            f"{args.size:,} orders, SQLite, gunicorn with {run.WORKERS} sync workers each, "
            f"{run.PAGE_SIZE} rows a page, {args.requests} interleaved requests per page and app"
        )
        print(f"{'page':<28} {'app':<18} {'p50 ms':>7} {'p95 ms':>7} {'/ floor':>8}")
        for page in lists:
            timings: dict[str, list[float]] = {name: [] for name in apps}
            for _ in range(3):
                for get in apps.values():
                    get(page)
            order = list(apps)
            for i in range(args.requests):
                for name in order[i % 3 :] + order[: i % 3]:
                    started = time.perf_counter()
                    apps[name](page)
                    timings[name].append((time.perf_counter() - started) * 1000)
            floor_p50 = statistics.median(timings["floor"])
            for name, values in timings.items():
                p50 = statistics.median(values)
                print(
                    f"{page.name:<28} {name:<18} {p50:7.1f} "
                    f"{run.percentile(values, 0.95):7.1f} {p50 / floor_p50:7.1f}x"
                )
        for name, process in (("console", console), ("Flask-Admin alone", alone), ("floor", floor)):
            rss = ", ".join(f"{mb:.0f}" for mb in run.workers_rss_mb(process.pid))
            print(f"workers' RSS, {name}: {rss} MB")
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=30)
        redis.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
