"""Returns of shipped orders, their lines, and the return a stock movement restocks.

- ``order_return``: a return (requested, received, refunded), who did each step and
  when, the refund's amounts and the credit note it issued (unique: one refund each);
- ``return_line``: the order lines and quantities sent back, and their outcome once
  received (back to stock or written off);
- ``stock_movement.return_id``: the return a "return restocked" movement belongs to.

Existing rows are kept; no data is written. Going down drops the tables and the column
(a movement then keeps its order).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
    ]


def _staff(column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["staff_user.id"], name=op.f(f"fk_order_return_{column}_staff_user")
    )


def _movement_batch() -> Any:
    """A batch alteration of stock_movement (SQLite copies the table to add a foreign
    key). The copy needs only the table's own columns: not resolving its references
    keeps reflection away from other tables' expression indexes, which SQLite's
    reflection cannot read and warns about (as in 0022)."""
    return op.batch_alter_table("stock_movement", reflect_kwargs={"resolve_fks": False})


def upgrade() -> None:
    op.create_table(
        "order_return",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("received_by_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=True),
        sa.Column("refunded_by_id", sa.Integer(), nullable=True),
        sa.Column("refunded_at", sa.DateTime(), nullable=True),
        sa.Column("refund_shipping", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("refund_total", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("credit_note_id", sa.Integer(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "state IN ('requested', 'received', 'refunded')",
            name=op.f("ck_order_return_state_known"),
        ),
        sa.CheckConstraint(
            "refund_total IS NULL OR refund_total >= 0",
            name=op.f("ck_order_return_refund_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["sales_order.id"],
            name=op.f("fk_order_return_order_id_sales_order"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["credit_note_id"],
            ["credit_note.id"],
            name=op.f("fk_order_return_credit_note_id_credit_note"),
            ondelete="RESTRICT",
        ),
        _staff("requested_by_id"),
        _staff("received_by_id"),
        _staff("refunded_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_return")),
        sa.UniqueConstraint("credit_note_id", name="uq_order_return_credit_note_id"),
    )
    op.create_index(op.f("ix_order_return_order_id"), "order_return", ["order_id"])
    op.create_index(op.f("ix_order_return_state"), "order_return", ["state"])
    op.create_index(op.f("ix_order_return_created_at"), "order_return", ["created_at"])
    op.create_table(
        "return_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_return_line_quantity_positive")),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('restock', 'write_off')",
            name=op.f("ck_return_line_outcome_known"),
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["order_return.id"],
            name=op.f("fk_return_line_return_id_order_return"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_line.id"],
            name=op.f("fk_return_line_order_line_id_order_line"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_line")),
        sa.UniqueConstraint("return_id", "order_line_id", name="uq_return_line_order_line"),
    )
    op.create_index(op.f("ix_return_line_return_id"), "return_line", ["return_id"])
    op.create_index(op.f("ix_return_line_order_line_id"), "return_line", ["order_line_id"])
    with _movement_batch() as batch_op:
        batch_op.add_column(sa.Column("return_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_stock_movement_return_id_order_return"),
            "order_return",
            ["return_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_stock_movement_return_id"), ["return_id"])


def downgrade() -> None:
    with _movement_batch() as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_movement_return_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_stock_movement_return_id_order_return"), type_="foreignkey"
        )
        batch_op.drop_column("return_id")
    op.drop_table("return_line")
    op.drop_table("order_return")
