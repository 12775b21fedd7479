"""Internal notes on orders, shown on the order's page only.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.CheckConstraint("length(trim(body)) > 0", name=op.f("ck_order_note_body_not_blank")),
        sa.CheckConstraint("length(body) <= 2000", name=op.f("ck_order_note_body_not_too_long")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["sales_order.id"],
            name=op.f("fk_order_note_order_id_sales_order"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["staff_user.id"],
            name=op.f("fk_order_note_author_id_staff_user"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_note")),
    )
    op.create_index(op.f("ix_order_note_author_id"), "order_note", ["author_id"])
    op.create_index("ix_order_note_order_id_created_at", "order_note", ["order_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_order_note_order_id_created_at", table_name="order_note")
    op.drop_index(op.f("ix_order_note_author_id"), table_name="order_note")
    op.drop_table("order_note")
