"""The console's ``flask`` sub-commands."""

from __future__ import annotations

import datetime as dt
import math

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from console.database import db
from console.jobs.worker import run_worker as run_jobs_worker
from console.models.base import utcnow
from console.notify import webhooks
from console.notify.dispatcher import count_due, deliver_due, mail_configured, waiting_for_retry
from console.notify.worker import run_worker
from console.services import idempotency
from console.services import jobs as jobs_service
from console.services import stock as stock_service
from console.services.audit_retention import export_and_prune
from console.services.errors import DomainError
from seeds.bulk import generate_orders
from seeds.demo import DEMO_ACCOUNTS, load_demo_data


@click.command("seed")
@click.option(
    "--force",
    is_flag=True,
    help="Load the demo data even under the production configuration.",
)
@click.option(
    "--orders",
    "bulk_orders",
    type=click.IntRange(min=0),
    default=0,
    help="Also top the database up to this many generated orders (for benchmarks).",
)
@with_appcontext
def seed_command(force: bool, bulk_orders: int) -> None:
    """Load the demo data (idempotent: running it twice changes nothing)."""
    if current_app.config["ENV_NAME"] == "production" and not force:
        raise click.ClickException(
            "Refusing to load demo data (with well-known passwords) under the production "
            "configuration. Pass --force if you really mean it."
        )
    report = load_demo_data()
    if report.created_anything:
        click.echo(
            f"Created {report.roles} roles, {report.staff} staff accounts, "
            f"{report.customers} customers, {report.addresses} addresses, "
            f"{report.products} products, "
            f"{report.orders} orders, {report.pricing} tax rates, shipping methods and "
            f"promotion codes, {report.invoices} invoices, {report.returns} refunded returns."
        )
    else:
        click.echo("Demo data already present; nothing changed.")
    if bulk_orders:
        bulk = generate_orders(bulk_orders, progress=click.echo)
        click.echo(
            f"Generated {bulk.orders:,} orders with {bulk.lines:,} lines, "
            f"{bulk.customers:,} customers and {bulk.products:,} products "
            f"in {bulk.seconds:.1f} s."
        )
    click.echo("Demo staff accounts (development only):")
    for role, (email, password) in DEMO_ACCOUNTS.items():
        click.echo(f"  {role:<8} {email:<24} {password}")


@click.group("outbox")
def outbox_group() -> None:
    """Deliver the e-mails waiting in the outbox."""


def _echo_report(report) -> None:
    """One line: what this run did, then what is left waiting for a retry and when."""
    summary = (
        f"Sent {len(report.sent)}, to retry later {len(report.retried)}, "
        f"failed for good {len(report.failed)}."
    )
    backlog = waiting_for_retry()
    if backlog.count and backlog.next_due is not None:
        waits = "1 message waits" if backlog.count == 1 else f"{backlog.count} messages wait"
        summary += (
            f" {waits} for a retry; the next is due at {backlog.next_due:%Y-%m-%d %H:%M} UTC "
            f"({_in_how_long(backlog.next_due - utcnow())})."
        )
    click.echo(summary)


def _in_how_long(delta: dt.timedelta) -> str:
    """``in 40 s``, ``in 4 min``, ``in 3 h``: rounded up, so "now" never reads as past."""
    seconds = max(math.ceil(delta.total_seconds()), 0)
    if seconds < 60:
        return f"in {seconds} s"
    if seconds < 90 * 60:
        return f"in {math.ceil(seconds / 60)} min"
    return f"in {math.ceil(seconds / 3600)} h"


@outbox_group.command("send")
@with_appcontext
def outbox_send_command() -> None:
    """Deliver the messages and webhook deliveries due now, once, and exit."""
    batch = current_app.config["OUTBOX_BATCH_SIZE"]
    hooks = _drain(webhooks.deliver_due, batch)
    if hooks.attempted:
        click.echo(
            f"Webhooks: {len(hooks.sent)} delivered, {len(hooks.retried)} to retry, "
            f"{len(hooks.failed)} failed."
        )
    if not mail_configured():
        click.echo(
            f"No MAIL_SERVER configured: {count_due()} due message(s) stay in the outbox "
            "(readable in the console under Notifications)."
        )
        return
    _echo_report(_drain(deliver_due, batch))


def _drain(deliver, batch: int):
    """Run ``deliver`` until a round finds less than a full batch; the merged report."""
    total = None
    while True:
        report = deliver()
        total = report if total is None else _merge(total, report)
        if report.attempted < batch:
            return total


def _merge(a, b):
    a.sent += b.sent
    a.retried += b.retried
    a.failed += b.failed
    return a


@outbox_group.command("worker")
@click.option("--burst", is_flag=True, help="Stop once nothing is due (RQ: queue empty).")
@with_appcontext
def outbox_worker_command(burst: bool) -> None:
    """Deliver continuously: an RQ worker when REDIS_URL is set, else a polling loop.

    Without MAIL_SERVER it still posts webhooks; e-mail then waits in the outbox.
    """
    if not current_app.config.get("MAIL_SERVER"):
        click.echo(
            "No MAIL_SERVER configured: e-mail stays in the outbox; this worker delivers "
            "webhooks only."
        )
    run_worker(current_app._get_current_object(), burst=burst, echo=click.echo)


@click.group("audit")
def audit_group() -> None:
    """The audit trail: retention."""


@audit_group.command("export-prune")
@click.option(
    "--before",
    "before",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Move events recorded before this day (YYYY-MM-DD, UTC).",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="New JSON-lines file to write the events to (must not exist).",
)
@with_appcontext
def audit_export_prune_command(before, out: str) -> None:
    """Export events older than --before to --out (JSON lines), then delete exactly those."""
    try:
        report = export_and_prune(db.session, before.date(), out)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    if report.path is None:
        click.echo(f"No events before {before:%Y-%m-%d}; no file written, nothing deleted.")
        return
    click.echo(
        f"Exported {report.exported} events before {before:%Y-%m-%d} to {report.path} "
        f"and deleted those {report.deleted} from the database."
    )


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs (exports): the worker and the removal of old results."""


@jobs_group.command("worker")
@click.option("--burst", is_flag=True, help="Stop once no job is queued (RQ: queue empty).")
@with_appcontext
def jobs_worker_command(burst: bool) -> None:
    """Run queued jobs: an RQ worker when REDIS_URL is set, else a polling loop."""
    run_jobs_worker(current_app._get_current_object(), burst=burst, echo=click.echo)


@jobs_group.command("prune")
@with_appcontext
def jobs_prune_command() -> None:
    """Remove result files older than JOBS_KEEP_DAYS; give up jobs whose worker died."""
    report = jobs_service.prune(db.session)
    click.echo(
        f"Removed the result files of {len(report.removed)} job(s) finished more than "
        f"{current_app.config['JOBS_KEEP_DAYS']} days ago"
        + (f" and {report.orphans} leftover file(s)" if report.orphans else "")
        + "."
    )
    if report.stale:
        ids = ", ".join(str(job_id) for job_id in report.stale)
        click.echo(f"Marked failed: job(s) {ids}, whose worker stopped answering.")


@click.group("api")
def api_group() -> None:
    """The JSON API's housekeeping."""


@api_group.command("prune-keys")
@with_appcontext
def api_prune_keys_command() -> None:
    """Remove Idempotency-Keys older than 24 hours (a repeat after that is a new order)."""
    removed = idempotency.prune(db.session)
    click.echo(f"Removed {removed} idempotency key(s) older than 24 hours.")


@click.group("stock")
def stock_group() -> None:
    """The stock ledger."""


@stock_group.command("verify")
@with_appcontext
def stock_verify_command() -> None:
    """Check that every product's stock equals the sum of its movements.

    Exits 0 when every product agrees, 1 naming each product that does not.
    """
    result = stock_service.verify(db.session)
    if not result.mismatches:
        click.echo(
            f"Stock ledger verified: the stock of all {result.products} product(s) equals "
            "the sum of their movements."
        )
        return
    click.echo(
        f"Stock ledger broken for {len(result.mismatches)} of {result.products} product(s):",
        err=True,
    )
    for mismatch in result.mismatches:
        click.echo(
            f"  {mismatch.sku}: stock {mismatch.stock}, sum of movements {mismatch.moved} "
            f"(difference {mismatch.stock - mismatch.moved:+d})",
            err=True,
        )
    raise SystemExit(1)


def register(app: Flask) -> None:
    """Attach the console's commands to ``app``'s CLI."""
    app.cli.add_command(seed_command)
    app.cli.add_command(outbox_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(jobs_group)
    app.cli.add_command(api_group)
    app.cli.add_command(stock_group)
