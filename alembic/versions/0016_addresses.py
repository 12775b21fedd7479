"""Address book per customer; billing and shipping address snapshots on orders.

The free-text ``customer.address`` stays as it was: its country cannot be known from
the text, and inventing one would put wrong data on orders and labels. The console
shows it read-only beside the address book, for a person to copy into a structured
address. Orders taken before this revision have no address recorded (all the new
columns NULL), and say so.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

FIELDS = (
    ("name", 120),
    ("company", 120),
    ("line1", 200),
    ("line2", 200),
    ("postal_code", 20),
    ("city", 100),
    ("region", 100),
    ("country", 2),
    ("phone", 40),
)
KINDS = ("billing", "shipping")


def _country_check(column: str, *, nullable: bool) -> str:
    shape = f"length({column}) = 2 AND upper({column}) = {column}"
    return f"{column} IS NULL OR ({shape})" if nullable else shape


def upgrade() -> None:
    required = {"name", "line1", "postal_code", "city", "country"}
    op.create_table(
        "customer_address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.String(length=length), nullable=name not in required)
            for name, length in FIELDS
        ),
        sa.Column("is_default_billing", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_default_shipping", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(
            _country_check("country", nullable=False),
            name=op.f("ck_customer_address_country_code"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_address_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_address")),
    )
    op.create_index(op.f("ix_customer_address_customer_id"), "customer_address", ["customer_id"])
    for kind in KINDS:
        op.create_index(
            f"uq_customer_address_default_{kind}",
            "customer_address",
            ["customer_id"],
            unique=True,
            sqlite_where=sa.text(f"is_default_{kind}"),
            postgresql_where=sa.text(f"is_default_{kind}"),
        )

    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        for kind in KINDS:
            for name, length in FIELDS:
                batch_op.add_column(sa.Column(f"{kind}_{name}", sa.String(length=length)))
        for kind in KINDS:
            batch_op.create_check_constraint(
                op.f(f"ck_sales_order_{kind}_country"),
                _country_check(f"{kind}_country", nullable=True),
            )


def downgrade() -> None:
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        for kind in KINDS:
            batch_op.drop_constraint(op.f(f"ck_sales_order_{kind}_country"), type_="check")
        for kind in KINDS:
            for name, _length in FIELDS:
                batch_op.drop_column(f"{kind}_{name}")
    for kind in KINDS:
        op.drop_index(f"uq_customer_address_default_{kind}", table_name="customer_address")
    op.drop_index(op.f("ix_customer_address_customer_id"), table_name="customer_address")
    op.drop_table("customer_address")
