"""Benchmark: importing 100,000 products on SQLite, created and then updated; rows/s.

Builds a fresh SQLite database (migrated, with the demo data) in a temporary folder,
writes a CSV file of N new products, and imports it as the demo admin through the
console's own steps: the upload is read and stored (``console.jobs.import_files``,
``console.services.imports.store``), previewed (every row checked by the product
form, each valid row kept as checked), confirmed and applied (each row's record looked
up again and the rows written as checked, in one transaction, each change audited).
Then a second file changes the price and stock of every one of those products, and
goes through the same steps as updates.

It prints, for each import, the seconds and rows per second of each step, checks the
budget (at least 5,000 product rows/s for the import: preview and apply together), and
writes the figures to the "Imports" section of ``bench/RESULTS.md``.

Usage (from the repository root, after the README's set-up)::

    .venv/bin/python bench/import.py                  # 100,000 products
    .venv/bin/python bench/import.py --products 10000 --no-write
    .venv/bin/python bench/import.py --memory 20000,100000  # peak RSS as the file grows

This is a benchmark, not a test: the machine's load changes its figures.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "\n## Imports\n"
"""Where this benchmark's figures start in RESULTS.md."""

BUDGET_ROWS_PER_SECOND = 5_000


def product_file(products: int, *, updated: bool) -> bytes:
    """A CSV file of ``products`` products (prices and stock changed when ``updated``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["SKU", "Name", "Description", "Unit price", "Stock on hand", "Active"])
    for n in range(products):
        price = f"{(n % 10_000) / 100 + (1 if updated else 0):.2f}"
        writer.writerow(
            [f"BENCH-{n:06d}", f"Bench product {n}", "Imported by the benchmark", price,
             n % 50 + (5 if updated else 0), "yes"]
        )  # fmt: skip
    return buffer.getvalue().encode("utf-8")


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def current_rss_mb() -> float:
    """The process's resident memory now (Linux ``VmRSS``), in MB."""
    return _status_mb("VmRSS")


def reset_peak_rss() -> None:
    """Start the peak resident memory (``VmHWM``) again from now (Linux 4.0+)."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    """The process's peak resident memory since ``reset_peak_rss`` (``VmHWM``), in MB."""
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


MEMORY_GROWTH_SLACK_MB = 10
"""How much more a file N times larger may make the import's memory grow, beyond 10%."""


def memory(sizes: list[int]) -> tuple[str, bool]:
    """Peak RSS of imports of each size, each in a fresh process; flat or not.

    Each child builds its database, then imports (create, then update) a file of that
    many products; the growth is its peak resident set minus its resident set just
    before the first import. Memory is flat when the largest file's growth is within
    10% (plus ``MEMORY_GROWTH_SLACK_MB``) of the smallest's.
    """
    growth: dict[int, tuple[float, float, float]] = {}
    for size in sizes:
        child = subprocess.run(
            [sys.executable, __file__, "--products", str(size), "--child-json"],
            capture_output=True,
            text=True,
            check=True,
        )
        runs = json.loads(child.stdout.strip().splitlines()[-1])
        # The import that grew the process most (create or update), from the RSS
        # just before it (both files already made) to its peak.
        worst = max(runs, key=lambda r: r["peak_rss_mb"] - r["rss_before_mb"])
        before, peak = worst["rss_before_mb"], worst["peak_rss_mb"]
        growth[size] = (before, peak, peak - before)
        print(f"{size:,} products: RSS before {before:.0f} MB, peak {peak:.0f} MB", flush=True)
    lines = [
        "| products | RSS before the import MB | peak RSS MB | growth MB |",
        "| ---: | ---: | ---: | ---: |",
        *(
            f"| {size:,} | {before:.0f} | {peak:.0f} | {grown:.0f} |"
            for size, (before, peak, grown) in growth.items()
        ),
    ]
    smallest, largest = growth[min(sizes)][2], growth[max(sizes)][2]
    flat = largest <= smallest * 1.1 + MEMORY_GROWTH_SLACK_MB
    lines += [
        "",
        f"- memory {'flat' if flat else 'NOT flat'}: the import of {max(sizes):,} products "
        f"grew the process by {largest:.0f} MB, that of {min(sizes):,} by {smallest:.0f} MB "
        f"(budget: within 10% + {MEMORY_GROWTH_SLACK_MB} MB)",
    ]
    return "\n".join(lines), flat


def run(products: int) -> list[dict]:
    """Create, then update, ``products`` products through the import steps."""
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import func, select

    from console import create_app
    from console.database import db
    from console.jobs import imports as engine
    from console.jobs.import_files import read_table
    from console.models import AuditEvent, ImportBatch, Product, User
    from console.schema import upgrade
    from console.services import imports as import_service
    from seeds.demo import load_demo_data

    runs = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/import-bench.sqlite3"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "JOBS_IN_PROCESS": False,
                "JOBS_RESULT_DIR": folder,
                "IMPORT_MAX_BYTES": 200 * 1024 * 1024,
            }
        )
        upgrade(app)
        with app.app_context():
            load_demo_data()
            admin = db.session.scalar(select(User).filter_by(email="admin@example.com"))
            # Both files are made first: making one (a StringIO of the whole text)
            # takes more memory than importing it, and would hide the import's peak.
            files = {
                step: product_file(products, updated=updated)
                for step, updated in (("create", False), ("update", True))
            }
            for step, data in files.items():
                reset_peak_rss()
                rss_before = current_rss_mb()
                started = time.perf_counter()
                cpu_started = time.process_time()
                table = read_table(data, engine.limits(app))
                spec = engine.SPECS["products"]
                batch = import_service.store(
                    db.session, admin, "products", file_name=f"{step}.csv",
                    file_format=table.file_format, data=data, headers=table.headers,
                    rows=len(table.rows), mapping=engine.auto_mapping(spec, table.headers),
                )  # fmt: skip
                uploaded = time.perf_counter()
                outcome = engine.preview(app, db.session, batch)
                previewed = time.perf_counter()
                batch = db.session.get(ImportBatch, batch.id)
                import_service.confirm(db.session, batch, valid_only=False)
                applied_outcome = engine.confirm_and_apply(app, db.session, batch, admin)
                applied = time.perf_counter()
                cpu_seconds = time.process_time() - cpu_started
                events = db.session.scalar(
                    select(func.count())
                    .select_from(AuditEvent)
                    .where(AuditEvent.note == f"Import #{batch.id} ({step}.csv)")
                )
                in_table = db.session.scalar(
                    select(func.count()).select_from(Product).where(Product.sku.like("BENCH-%"))
                )
                runs.append(
                    {
                        "step": step,
                        "rows": len(table.rows),
                        "file_mb": len(data) / 1024 / 1024,
                        "counts": applied_outcome["counts"],
                        "preview_counts": outcome["counts"],
                        "upload_s": uploaded - started,
                        "preview_s": previewed - uploaded,
                        "apply_s": applied - previewed,
                        "total_s": applied - started,
                        "cpu_s": cpu_seconds,
                        "audit_events": events,
                        # The process's peak resident memory so far (Linux: kB).
                        "peak_rss_mb": peak_rss_mb(),
                        "rss_before_mb": rss_before,
                        "products": in_table,
                    }
                )
                print(f"{step}: {runs[-1]}", flush=True)
    return runs


def report(products: int, runs: list[dict]) -> tuple[str, bool]:
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("sqlalchemy", "wtforms", "flask-admin")
    )
    lines = [
        SECTION.strip(),
        "",
        f"Run on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `bench/import.py`: a CSV file "
        f"of {products:,} new products imported into a fresh SQLite database (migrated, demo "
        "data) through the console's steps in one process: read and store the upload, "
        "preview (every row checked by the product form and kept as checked), confirm and "
        "apply (each row's record looked up again, the rows written as checked 500 at a "
        "time in one transaction, each change audited as an import's). Then "
        "a second file changing every product's price and stock, the same way.",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end, Python {platform.python_version()}",
        f"- Versions: {versions}",
        "",
        "| import | rows | file MB | upload s | preview s | apply s | total s | rows/s "
        "(preview + apply) | rows/s (total) | rows per CPU s | audit events | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    ok = True
    checks = []
    for run in runs:
        work = run["preview_s"] + run["apply_s"]
        rate = run["rows"] / work if work else 0
        lines.append(
            f"| {run['step']} | {run['rows']:,} | {run['file_mb']:.1f} | {run['upload_s']:.1f} | "
            f"{run['preview_s']:.1f} | {run['apply_s']:.1f} | {run['total_s']:.1f} | "
            f"{rate:,.0f} | {run['rows'] / run['total_s']:,.0f} | "
            f"{run['rows'] / run['cpu_s']:,.0f} | {run['audit_events']:,} | "
            f"{run['peak_rss_mb']:.0f} |"
        )
        expected = {"create": run["rows"], "update": 0, "unchanged": 0, "error": 0}
        if run["step"] == "update":
            expected = {"create": 0, "update": run["rows"], "unchanged": 0, "error": 0}
        right = run["counts"] == expected and run["audit_events"] == run["rows"]
        fast = rate >= BUDGET_ROWS_PER_SECOND
        checks.append(
            f"- {run['step']}: {rate:,.0f} product rows/s for preview and apply "
            f"({'at least' if fast else 'BELOW'} {BUDGET_ROWS_PER_SECOND:,}); counts "
            f"{'as expected' if right else 'WRONG: ' + str(run['counts'])}, "
            f"{run['audit_events']:,} audit events"
        )
        ok = ok and fast and right
    lines += ["", "### Budget", "", *checks, ""]
    return "\n".join(lines), ok


def write(text: str) -> None:
    """Put ``text`` in RESULTS.md as its Imports section, keeping every other section."""
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    before, found, after = previous.partition(SECTION)
    rest = after[after.index("\n## ") :] if found and "\n## " in after else ""
    RESULTS.write_text(before.rstrip("\n") + "\n\n" + text + rest)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    parser.add_argument(
        "--memory",
        help="comma-separated file sizes: compare the import's peak RSS across them "
        "(each in a fresh process) instead of measuring speed; prints, writes nothing",
    )
    parser.add_argument("--child-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if args.memory:
        text, flat = memory(sorted(int(n) for n in args.memory.split(",")))
        print(text)
        return 0 if flat else 1
    runs = run(args.products)
    if args.child_json:
        print(json.dumps(runs))
        return 0
    text, ok = report(args.products, runs)
    print(text)
    if not args.no_write:
        write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
