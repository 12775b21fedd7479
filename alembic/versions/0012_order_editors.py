"""Record who changed a pending order after it was taken (the four-eyes rule reads it).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_editor",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["sales_order.id"],
            name=op.f("fk_order_editor_order_id_sales_order"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_user.id"],
            name=op.f("fk_order_editor_user_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "user_id", name=op.f("pk_order_editor")),
    )
    op.create_index(op.f("ix_order_editor_user_id"), "order_editor", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_order_editor_user_id"), table_name="order_editor")
    op.drop_table("order_editor")
