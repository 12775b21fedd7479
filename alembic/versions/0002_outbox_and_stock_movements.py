"""Outbox of e-mails and stock movements of the order workflow.

The outbox keeps every customer e-mail written in the same transaction as the order
change it reports; stock movements record the reservations and releases of approvals
and cancellations.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 00:20:24.788930
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("template", sa.String(length=80), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claim_token", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed')",
            name=op.f("ck_outbox_message_status_known"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_message_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["sales_order.id"],
            name=op.f("fk_outbox_message_order_id_sales_order"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_message_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_message_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_message_recipient"), ["recipient"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_message_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "stock_movement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.CheckConstraint(
            "reason IN ('reserve', 'release')", name=op.f("ck_stock_movement_reason_known")
        ),
        sa.CheckConstraint("quantity <> 0", name=op.f("ck_stock_movement_quantity_not_zero")),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["staff_user.id"], name=op.f("fk_stock_movement_actor_id_staff_user")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["sales_order.id"],
            name=op.f("fk_stock_movement_order_id_sales_order"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
            name=op.f("fk_stock_movement_product_id_product"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movement")),
    )
    with op.batch_alter_table("stock_movement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_movement_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_stock_movement_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stock_movement_product_id"), ["product_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stock_movement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_movement_product_id"))
        batch_op.drop_index(batch_op.f("ix_stock_movement_order_id"))
        batch_op.drop_index(batch_op.f("ix_stock_movement_created_at"))

    op.drop_table("stock_movement")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_status_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_outbox_message_recipient"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_order_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_created_at"))

    op.drop_table("outbox_message")
