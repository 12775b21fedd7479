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
    from seeds.bulk import generate_orders
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


def register(app: Flask) -> None:
    """Attach the console's commands to ``app``'s CLI."""
    app.cli.add_command(seed_command)
