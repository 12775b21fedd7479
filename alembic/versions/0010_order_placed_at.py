"""Orders record when they were placed: the customer is told then, once.

Orders taken before this revision were all placed when created (their "order received"
e-mail went out then), so they get their creation time.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("placed_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE sales_order SET placed_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        batch_op.drop_column("placed_at")
