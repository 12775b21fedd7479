"""The console's ``flask`` sub-commands."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


@click.command("seed")
@click.option(
    "--force",
    is_flag=True,
    help="Load the demo data even under the production configuration.",
)
@with_appcontext
def seed_command(force: bool) -> None:
    """Load the demo data (idempotent: running it twice changes nothing)."""
    from seeds.demo import DEMO_ACCOUNTS, load_demo_data

    if current_app.config["ENV_NAME"] == "production" and not force:
        raise click.ClickException(
            "Refusing to load demo data (with well-known passwords) under the production "
            "configuration. Pass --force if you really mean it."
        )
    report = load_demo_data()
    if report.created_anything:
        click.echo(
            f"Created {report.roles} roles, {report.staff} staff accounts, "
            f"{report.customers} customers, {report.products} products, "
            f"{report.orders} orders."
        )
    else:
        click.echo("Demo data already present; nothing changed.")
    click.echo("Demo staff accounts (development only):")
    for role, (email, password) in DEMO_ACCOUNTS.items():
        click.echo(f"  {role:<8} {email:<24} {password}")


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
    from console.extensions import db
    from console.services.audit_retention import export_and_prune
    from console.services.errors import DomainError

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


def register(app: Flask) -> None:
    """Attach the console's commands to ``app``'s CLI."""
    app.cli.add_command(seed_command)
    app.cli.add_command(audit_group)
