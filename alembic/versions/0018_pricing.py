"""Pricing: tax rates, shipping methods, promotion codes, line snapshots and order totals.

Existing data keeps its meaning:

- a "Zero" tax rate (0 %) is created and given to every existing product, so nothing
  already sold is taxed differently;
- every existing order line gets its product's SKU, name and tax rate (that zero rate)
  as they are today;
- every existing order keeps its total: subtotal = total, no discount, no shipping,
  no tax, and one tax line of the zero rate over its total. Its coupon code stays
  recorded as text, linked to no promotion;
- the admin and manager roles get ``promotions.manage``.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

ZERO_RATE = "Zero"
PERMISSION = "promotions.manage"
ROLES = ("admin", "manager")

ORDER_CHECKS = {
    "subtotal_not_negative": "subtotal >= 0",
    "discount_within_subtotal": "discount_total >= 0 AND discount_total <= subtotal",
    "shipping_total_not_negative": "shipping_total >= 0",
    "tax_total_not_negative": "tax_total >= 0",
}

MONEY = sa.Numeric(precision=12, scale=2)
PERCENT = sa.Numeric(precision=5, scale=2)

role = sa.table(
    "role", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("permissions")
)


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
    ]


def _create_pricing_tables() -> None:
    op.create_table(
        "tax_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("rate", PERCENT, nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("name <> ''", name=op.f("ck_tax_rate_name_not_empty")),
        sa.CheckConstraint("rate >= 0 AND rate <= 100", name=op.f("ck_tax_rate_rate_percent")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_rate")),
        sa.UniqueConstraint("name", name=op.f("uq_tax_rate_name")),
    )
    op.create_index(op.f("ix_tax_rate_created_at"), "tax_rate", ["created_at"])

    op.create_table(
        "shipping_method",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("free_above", MONEY, nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint(
            "free_above IS NULL OR free_above >= 0",
            name=op.f("ck_shipping_method_free_above_not_negative"),
        ),
        sa.CheckConstraint("name <> ''", name=op.f("ck_shipping_method_name_not_empty")),
        sa.CheckConstraint("price >= 0", name=op.f("ck_shipping_method_price_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipping_method")),
        sa.UniqueConstraint("name", name=op.f("uq_shipping_method_name")),
    )
    op.create_index(op.f("ix_shipping_method_created_at"), "shipping_method", ["created_at"])

    op.create_table(
        "promotion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", MONEY, nullable=False),
        sa.Column("valid_from", sa.DateTime(), nullable=True),
        sa.Column("valid_until", sa.DateTime(), nullable=True),
        sa.Column("minimum_subtotal", MONEY, nullable=True),
        sa.Column("usage_limit", sa.Integer(), nullable=True),
        sa.Column("per_customer_limit", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("times_used", sa.Integer(), server_default="0", nullable=False),
        *_timestamps(),
        sa.CheckConstraint("code <> ''", name=op.f("ck_promotion_code_not_empty")),
        sa.CheckConstraint("kind IN ('percentage', 'fixed')", name=op.f("ck_promotion_kind_known")),
        sa.CheckConstraint(
            "minimum_subtotal IS NULL OR minimum_subtotal >= 0",
            name=op.f("ck_promotion_minimum_not_negative"),
        ),
        sa.CheckConstraint(
            "kind <> 'percentage' OR value <= 100",
            name=op.f("ck_promotion_percentage_at_most_100"),
        ),
        sa.CheckConstraint(
            "per_customer_limit IS NULL OR per_customer_limit > 0",
            name=op.f("ck_promotion_per_customer_limit_positive"),
        ),
        sa.CheckConstraint("times_used >= 0", name=op.f("ck_promotion_times_used_not_negative")),
        sa.CheckConstraint(
            "usage_limit IS NULL OR times_used <= usage_limit",
            name=op.f("ck_promotion_times_used_within_limit"),
        ),
        sa.CheckConstraint(
            "usage_limit IS NULL OR usage_limit > 0",
            name=op.f("ck_promotion_usage_limit_positive"),
        ),
        sa.CheckConstraint("value >= 0", name=op.f("ck_promotion_value_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion")),
    )
    op.create_index(op.f("ix_promotion_created_at"), "promotion", ["created_at"])

    op.create_table(
        "promotion_customer_use",
        sa.Column("promotion_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("times_used", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "times_used >= 0", name=op.f("ck_promotion_customer_use_times_used_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_promotion_customer_use_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["promotion.id"],
            name=op.f("fk_promotion_customer_use_promotion_id_promotion"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "promotion_id", "customer_id", name=op.f("pk_promotion_customer_use")
        ),
    )
    op.create_index(
        op.f("ix_promotion_customer_use_customer_id"), "promotion_customer_use", ["customer_id"]
    )


def _products_get_the_zero_rate(connection: sa.Connection) -> None:
    tax_rate = sa.table(
        "tax_rate", sa.column("id", sa.Integer), sa.column("name"), sa.column("rate")
    )
    connection.execute(tax_rate.insert().values(name=ZERO_RATE, rate=0))
    zero = connection.scalar(sa.select(tax_rate.c.id).where(tax_rate.c.name == ZERO_RATE))
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tax_rate_id", sa.Integer(), nullable=True))
    connection.execute(sa.text("UPDATE product SET tax_rate_id = :zero").bindparams(zero=zero))
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.alter_column("tax_rate_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_product_tax_rate_id_tax_rate"),
            "tax_rate",
            ["tax_rate_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_index(batch_op.f("ix_product_tax_rate_id"), ["tax_rate_id"])


def _lines_get_their_snapshots(connection: sa.Connection) -> None:
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sku", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("tax_rate", PERCENT, nullable=True))
        batch_op.add_column(sa.Column("tax_name", sa.String(length=60), nullable=True))
    # Correlated subqueries: the same statement on SQLite and PostgreSQL.
    connection.execute(
        sa.text(
            "UPDATE order_line SET"
            " sku = (SELECT p.sku FROM product p WHERE p.id = order_line.product_id),"
            " name = (SELECT p.name FROM product p WHERE p.id = order_line.product_id),"
            " tax_rate = (SELECT t.rate FROM product p JOIN tax_rate t ON t.id = p.tax_rate_id"
            "   WHERE p.id = order_line.product_id),"
            " tax_name = (SELECT t.name FROM product p JOIN tax_rate t ON t.id = p.tax_rate_id"
            "   WHERE p.id = order_line.product_id)"
        )
    )
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        for name, kind in (
            ("sku", sa.String(length=40)),
            ("name", sa.String(length=200)),
            ("tax_rate", PERCENT),
            ("tax_name", sa.String(length=60)),
        ):
            batch_op.alter_column(name, existing_type=kind, nullable=False)
        batch_op.create_check_constraint(
            op.f("ck_order_line_tax_rate_percent"), "tax_rate >= 0 AND tax_rate <= 100"
        )


def _orders_get_their_totals(connection: sa.Connection) -> None:
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        batch_op.add_column(sa.Column("promotion_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("shipping_method_id", sa.Integer(), nullable=True))
        for name in ("subtotal", "discount_total", "shipping_total", "tax_total"):
            batch_op.add_column(sa.Column(name, MONEY, server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("prices_include_tax", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    connection.execute(sa.text("UPDATE sales_order SET subtotal = total"))
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_sales_order_promotion_id_promotion"),
            "promotion",
            ["promotion_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_sales_order_shipping_method_id_shipping_method"),
            "shipping_method",
            ["shipping_method_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.create_index(batch_op.f("ix_sales_order_promotion_id"), ["promotion_id"])
        for name, condition in ORDER_CHECKS.items():
            batch_op.create_check_constraint(op.f(f"ck_sales_order_{name}"), condition)

    op.create_table(
        "order_tax_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("rate", PERCENT, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base", MONEY, nullable=False),
        sa.Column("tax", MONEY, nullable=False),
        sa.CheckConstraint(
            "rate >= 0 AND rate <= 100", name=op.f("ck_order_tax_line_rate_percent")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["sales_order.id"],
            name=op.f("fk_order_tax_line_order_id_sales_order"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_tax_line")),
        sa.UniqueConstraint("order_id", "rate", name="uq_order_tax_line_order_id_rate"),
    )
    connection.execute(
        sa.text(
            "INSERT INTO order_tax_line (order_id, rate, name, base, tax)"
            " SELECT id, 0, :name, total, 0 FROM sales_order"
        ).bindparams(name=ZERO_RATE)
    )


def _set_permission(connection: sa.Connection, *, granted: bool) -> None:
    """Add (or take back) ``promotions.manage`` on the default roles that hold it."""
    for row in connection.execute(
        sa.select(role.c.id, role.c.permissions).where(role.c.name.in_(ROLES))
    ):
        permissions = {p for p in (row.permissions or "").split(",") if p}
        permissions = permissions | {PERMISSION} if granted else permissions - {PERMISSION}
        connection.execute(
            role.update()
            .where(role.c.id == row.id)
            .values(permissions=",".join(sorted(permissions)))
        )


@contextmanager
def _tables_copied_safely(connection: sa.Connection) -> Iterator[None]:
    """Let SQLite's batch mode copy tables whose expression indexes it would lose.

    SQLite alters a table by copying it, dropping the original and renaming the copy
    (foreign keys stay unenforced meanwhile and are checked before the commit:
    ``alembic/env.py``). The copy drops expression indexes (and warns while reading the
    tables that refer to them): lower(sku) goes off first and comes back last, and so
    does lower(code) of promotion codes (see upgrade and downgrade).
    """
    op.drop_index("uq_product_sku_lower", table_name="product")
    yield
    op.create_index("uq_product_sku_lower", "product", [sa.text("lower(sku)")], unique=True)


def upgrade() -> None:
    connection = op.get_bind()
    with _tables_copied_safely(connection):
        _create_pricing_tables()
        _products_get_the_zero_rate(connection)
        _lines_get_their_snapshots(connection)
        _orders_get_their_totals(connection)
        _set_permission(connection, granted=True)
    # Last, like lower(sku): SQLite's copy of sales_order reads the promotion table.
    op.create_index("uq_promotion_code_lower", "promotion", [sa.text("lower(code)")], unique=True)


def downgrade() -> None:
    connection = op.get_bind()
    op.drop_index("uq_promotion_code_lower", table_name="promotion")
    with _tables_copied_safely(connection):
        _downgrade(connection)


def _downgrade(connection: sa.Connection) -> None:
    _set_permission(connection, granted=False)
    op.drop_table("order_tax_line")
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        for name in ORDER_CHECKS:
            batch_op.drop_constraint(batch_op.f(f"ck_sales_order_{name}"), type_="check")
        batch_op.drop_index(batch_op.f("ix_sales_order_promotion_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_sales_order_shipping_method_id_shipping_method"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_sales_order_promotion_id_promotion"), type_="foreignkey"
        )
        for name in (
            "prices_include_tax",
            "tax_total",
            "shipping_total",
            "discount_total",
            "subtotal",
            "shipping_method_id",
            "promotion_id",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_order_line_tax_rate_percent"), type_="check")
        for name in ("tax_name", "tax_rate", "name", "sku"):
            batch_op.drop_column(name)
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_tax_rate_id"))
        batch_op.drop_constraint(batch_op.f("fk_product_tax_rate_id_tax_rate"), type_="foreignkey")
        batch_op.drop_column("tax_rate_id")
    op.drop_index(
        op.f("ix_promotion_customer_use_customer_id"), table_name="promotion_customer_use"
    )
    op.drop_table("promotion_customer_use")
    op.drop_index(op.f("ix_promotion_created_at"), table_name="promotion")
    op.drop_table("promotion")
    op.drop_index(op.f("ix_shipping_method_created_at"), table_name="shipping_method")
    op.drop_table("shipping_method")
    op.drop_index(op.f("ix_tax_rate_created_at"), table_name="tax_rate")
    op.drop_table("tax_rate")
