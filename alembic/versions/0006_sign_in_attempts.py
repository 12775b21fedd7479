"""Sign-in attempts in the database, so the per-account lockout holds across workers and hosts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempt")),
    )
    op.create_index("ix_sign_in_attempt_account_at", "sign_in_attempt", ["account", "at"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_attempt_account_at", table_name="sign_in_attempt")
    op.drop_table("sign_in_attempt")
