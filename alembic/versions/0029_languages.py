"""Languages: each staff member's (None: the browser's) and each customer's (None: the
shop's, ``DEFAULT_LOCALE``).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("staff_user", sa.Column("language", sa.String(length=8), nullable=True))
    op.add_column("customer", sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column("customer", "language")
    op.drop_column("staff_user", "language")
