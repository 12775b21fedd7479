"""Benchmark: exporting 1,000,000 orders as a job, CSV and XLSX; rows/s and peak RSS.

Builds (or reuses, under ``bench/.data/``) a SQLite database with the demo data and N
bulk-inserted orders (one in a thousand with a formula-like coupon code), then, for
each format, starts a fresh
process that queues an orders export job for the demo admin and runs it with the
console's own runner (``console.jobs.runner.run_next``, as the in-process thread and
the RQ worker do), while a thread samples the process's resident memory (VmRSS) every
0.1 s. It prints rows per second and memory, writes them to the "Exports" section of
``bench/RESULTS.md``, and checks the budgets: CSV at least 50,000 order rows/s, peak RSS
under 200 MB, and flat (the peak of the second half of the run within 10% of the
first half's: memory does not grow with the rows written).

Usage (from the repository root, after the README's set-up)::

    .venv/bin/python bench/export.py                    # 1,000,000 orders, CSV and XLSX
    .venv/bin/python bench/export.py --orders 100000 --formats csv --no-write

This is a benchmark, not a test: the machine's load changes its figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "RESULTS.md"
SECTION = "\n## Exports\n"
"""Where this benchmark's figures start in RESULTS.md (``run.py`` keeps the section)."""

CSV_BUDGET_ROWS_PER_SECOND = 50_000
RSS_BUDGET_MB = 200
FLAT_TOLERANCE = 1.10


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux ``/proc``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def child(url: str, export_format: str, batch: int) -> None:
    """Run one export job in this process and print its figures as JSON."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import select

    from console import create_app
    from console.database import db
    from console.jobs.runner import run_next
    from console.models import Job, User
    from console.services import jobs as jobs_service

    with tempfile.TemporaryDirectory() as results:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "JOBS_RESULT_DIR": results,
                "EXPORT_BATCH_SIZE": batch,
                "JOBS_IN_PROCESS": False,
            }
        )
        with app.app_context():
            admin = db.session.scalar(select(User).filter_by(email="admin@example.com"))
            job = jobs_service.start(
                db.session,
                admin,
                "export",
                {"view": "order", "spec": "orders", "format": export_format, "arguments": []},
                title="Benchmark export",
            )
            samples: list[tuple[float, float]] = []
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    samples.append((time.perf_counter(), rss_mb()))
                    done.wait(0.1)

            baseline = rss_mb()
            sampler = threading.Thread(target=sample, daemon=True)
            started = time.perf_counter()
            cpu_started = time.process_time()
            sampler.start()
            run_next(app)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
            done.set()
            sampler.join()
            job = db.session.get(Job, job.id, populate_existing=True)
            size = (Path(results) / job.result_path).stat().st_size if job.result_path else 0
            middle = started + seconds / 2
            first = [rss for at, rss in samples if at <= middle] or [baseline]
            second = [rss for at, rss in samples if at > middle] or first
            print(
                json.dumps(
                    {
                        "format": export_format,
                        "state": job.state,
                        "error": job.error,
                        "rows": job.progress_done,
                        "seconds": seconds,
                        "rows_per_second": job.progress_done / seconds if seconds else 0,
                        "cpu_seconds": cpu_seconds,
                        "rows_per_cpu_second": (
                            job.progress_done / cpu_seconds if cpu_seconds else 0
                        ),
                        "baseline_mb": baseline,
                        "peak_mb": max(rss for _, rss in samples),
                        "first_half_peak_mb": max(first),
                        "second_half_peak_mb": max(second),
                        "file_mb": size / 1024 / 1024,
                    }
                )
            )


def build(url: str, orders: int) -> None:
    """Migrate, load the demo data and bulk-insert ``orders`` orders (child process).

    Multi-row INSERTs of orders and their tax per rate (two rates each: the orders export
    reads them for its "Tax by rate" column), no lines (it reads none): a million in a
    few minutes, where the full generator with 2.5 million lines takes far longer.
    """
    sys.path.insert(0, str(ROOT))
    from decimal import Decimal

    from sqlalchemy import insert

    from console import create_app
    from console.database import db
    from console.models import Customer, Order, OrderTaxLine
    from console.schema import upgrade
    from seeds.demo import load_demo_data

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "JOBS_IN_PROCESS": False})
    upgrade(app)
    customers = max(orders // 20, 1)
    start = dt.datetime(2024, 1, 1)
    statuses = ["pending", "approved", "shipped", "delivered", "rejected", "cancelled"]
    with app.app_context():
        load_demo_data()
        for first in range(0, customers, 20_000):
            db.session.execute(
                insert(Customer),
                [
                    {
                        "id": 1_000_000 + c,
                        "first_name": f"First{c}",
                        "last_name": f"Last{c % 5000:04d}",
                        "email": f"bench{c:07d}@example.com",
                        "search_text": "",
                        "created_at": start,
                        "updated_at": start,
                        "version": 1,
                    }
                    for c in range(first, min(first + 20_000, customers))
                ],
            )
        for first in range(0, orders, 20_000):
            db.session.execute(
                insert(Order),
                [
                    {
                        "id": 1_000_000 + i,
                        "number": f"BENCH-{i:07d}",
                        "customer_id": 1_000_000 + i % customers,
                        "status": statuses[i % len(statuses)],
                        "coupon_code": "=SUM(A1)" if i % 1000 == 0 else None,
                        "total": Decimal(i * 37 % 1_000_000) / 100,
                        "created_at": start + dt.timedelta(seconds=i * 30),
                        "updated_at": start + dt.timedelta(seconds=i * 30),
                        "version": 1,
                    }
                    for i in range(first, min(first + 20_000, orders))
                ],
            )
            db.session.execute(
                insert(OrderTaxLine),
                [
                    {
                        "order_id": 1_000_000 + i,
                        "rate": rate,
                        "name": name,
                        "base": Decimal(i * 13 % 100_000) / 100,
                        "tax": Decimal(i * 7 % 10_000) / 100,
                    }
                    for i in range(first, min(first + 20_000, orders))
                    for rate, name in ((Decimal("5.50"), "Reduced"), (Decimal("20.00"), "Standard"))
                ],
            )
            db.session.commit()
        db.engine.dispose()


def database(orders: int) -> tuple[str, float | None]:
    """The SQLite database of ``orders`` bench orders (built once, then reused)."""
    # "tax": databases built before the orders had tax lines are not reused.
    path = BENCH / ".data" / f"exports-tax-{orders}.sqlite3"
    url = f"sqlite:///{path}"
    if path.exists():
        return url, None
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, "--build", str(orders), "--url", url],
        cwd=ROOT, env=child_environment(), check=True,
    )  # fmt: skip
    return url, time.perf_counter() - started


def child_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "REDIS_"))}
    env.update({"CONSOLE_CONFIG": "development", "LOG_LEVEL": "WARNING"})
    return env


def measure(url: str, export_format: str, batch: int) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", export_format, "--url", url, "--batch", str(batch)],
        cwd=ROOT, env=child_environment(), check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


def report(orders: int, batch: int, runs: list[dict], build: float | None) -> tuple[str, bool]:
    ok = True
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("sqlalchemy", "xlsxwriter")
    )
    lines = [
        SECTION.strip(),
        "",
        f"Run on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `bench/export.py`: "
        f"{orders:,} orders in SQLite (bulk-inserted, "
        f"{'reused' if build is None else f'built in {build:.0f} s'}), one orders export "
        f"job per format run by `console.jobs.runner.run_next` in a fresh process, "
        f"`EXPORT_BATCH_SIZE={batch}`; RSS sampled from /proc every 0.1 s.",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end, Python {platform.python_version()}",
        f"- Versions: {versions}",
        "",
        "| format | rows | seconds | rows/s | CPU s | rows per CPU s | RSS before MB | "
        "peak RSS MB | peak 1st half MB | peak 2nd half MB | file MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    checks = []
    for run in runs:
        lines.append(
            f"| {run['format']} | {run['rows']:,} | {run['seconds']:.1f} | "
            f"{run['rows_per_second']:,.0f} | {run['cpu_seconds']:.1f} | "
            f"{run['rows_per_cpu_second']:,.0f} | {run['baseline_mb']:.0f} | "
            f"{run['peak_mb']:.0f} | "
            f"{run['first_half_peak_mb']:.0f} | {run['second_half_peak_mb']:.0f} | "
            f"{run['file_mb']:.0f} |"
        )
        if run["state"] != "done" or run["rows"] < orders:
            ok = False
            checks.append(f"- {run['format']}: FAILED ({run['state']}: {run['error']})")
            continue
        under = run["peak_mb"] < RSS_BUDGET_MB
        flat = run["second_half_peak_mb"] <= run["first_half_peak_mb"] * FLAT_TOLERANCE
        checks.append(
            f"- {run['format']}: peak RSS {run['peak_mb']:.0f} MB "
            f"({'under' if under else 'OVER'} {RSS_BUDGET_MB} MB), "
            f"{'flat' if flat else 'GROWING'} ({run['first_half_peak_mb']:.0f} MB in the first "
            f"half, {run['second_half_peak_mb']:.0f} MB in the second)"
        )
        ok = ok and under and flat
        if run["format"] == "csv":
            fast = run["rows_per_second"] >= CSV_BUDGET_ROWS_PER_SECOND
            checks.append(
                f"- csv: {run['rows_per_second']:,.0f} order rows/s of wall time "
                f"({'at least' if fast else 'BELOW'} {CSV_BUDGET_ROWS_PER_SECOND:,}); "
                f"{run['rows_per_cpu_second']:,.0f} per second of the process's own CPU time "
                "(what an unshared core would give)"
            )
            ok = ok and fast
    lines += ["", "### Budget", "", *checks, ""]
    return "\n".join(lines), ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build(args.url, args.build)
        return 0
    if args.child:
        child(args.url, args.child, args.batch)
        return 0
    print(f"SQLite database with {args.orders:,} orders ...", flush=True)
    url, built = database(args.orders)
    runs = []
    for export_format in args.formats.split(","):
        print(f"exporting as {export_format} ...", flush=True)
        runs.append(measure(url, export_format, args.batch))
    text, ok = report(args.orders, args.batch, runs, built)
    print(text)
    if not args.no_write:
        previous = RESULTS.read_text() if RESULTS.exists() else ""
        before, found, after = previous.partition(SECTION)
        # Sections after this one (the imports' figures) are kept as they are.
        rest = after[after.index("\n## ") :] if found and "\n## " in after else ""
        RESULTS.write_text(before.rstrip("\n") + "\n\n" + text + rest)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
