"""Alembic owns the schema; these helpers run it for the app's configured database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    """Alembic's configuration from the repository's ``alembic.ini``."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    return cfg


def upgrade(app: Flask, revision: str = "head") -> None:
    """Create or upgrade the schema of ``app``'s database (``alembic upgrade``)."""
    with app.app_context():
        command.upgrade(alembic_config(), revision)


def downgrade(app: Flask, revision: str = "base") -> None:
    """Downgrade the schema of ``app``'s database (``alembic downgrade``)."""
    with app.app_context():
        command.downgrade(alembic_config(), revision)
