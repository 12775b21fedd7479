"""Index the orders a staff member took by time (dashboard, "taken by" filter).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_order_created_by_id")
        batch_op.create_index(
            "ix_sales_order_created_by_id_created_at", ["created_by_id", "created_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_order_created_by_id_created_at")
        batch_op.create_index("ix_sales_order_created_by_id", ["created_by_id"])
