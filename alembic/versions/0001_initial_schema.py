"""Initial schema: customers, products, orders, staff and the default roles.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 00:15:21.637152
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# The permission matrix as it stood at this revision (DESIGN.md). Migrations are
# history: a later change of the defaults in console/permissions.py comes with a
# migration of its own, and tests check that head matches console.permissions.
DEFAULT_ROLES = {
    "admin": (
        "Everything a manager does, plus staff accounts, roles and permissions",
        "audit.read,customers.delete,customers.read,customers.write,export,"
        "notifications.read,orders.approve,orders.cancel,orders.fulfil,orders.read,"
        "orders.write,products.delete,products.read,products.write,staff.manage",
    ),
    "manager": (
        "Approves or rejects orders, keeps the catalogue and prices",
        "audit.read,customers.delete,customers.read,customers.write,export,"
        "notifications.read,orders.approve,orders.cancel,orders.fulfil,orders.read,"
        "orders.write,products.read,products.write",
    ),
    "clerk": (
        "Takes orders, keeps customer records, ships approved orders",
        "customers.read,customers.write,orders.fulfil,orders.read,orders.write,products.read",
    ),
    "viewer": (
        "Read-only: sees records and the audit trail, changes nothing",
        "audit.read,customers.read,export,orders.read,products.read",
    ),
}

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=80), nullable=False),
        sa.Column("last_name", sa.String(length=80), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("email <> ''", name=op.f("ck_customer_email_not_empty")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("email", name=op.f("uq_customer_email")),
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_last_name"), ["last_name"], unique=False)

    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("stock", sa.Integer(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("sku <> ''", name=op.f("ck_product_sku_not_empty")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_product_stock_not_negative")),
        sa.CheckConstraint("unit_price >= 0", name=op.f("ck_product_unit_price_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product")),
        sa.UniqueConstraint("sku", name=op.f("uq_product_sku")),
    )
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_product_active"), ["active"], unique=False)
        batch_op.create_index(batch_op.f("ix_product_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_product_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_product_stock"), ["stock"], unique=False)

    role = op.create_table(
        "role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("permissions", sa.UnicodeText(), nullable=True),
        sa.Column(
            "update_datetime",
            sa.DateTime(),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role")),
        sa.UniqueConstraint("name", name=op.f("uq_role_name")),
    )
    op.create_table(
        "staff_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("password", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("fs_uniquifier", sa.String(length=64), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("current_login_at", sa.DateTime(), nullable=True),
        sa.Column("last_login_ip", sa.String(length=64), nullable=True),
        sa.Column("current_login_ip", sa.String(length=64), nullable=True),
        sa.Column("login_count", sa.Integer(), nullable=True),
        sa.Column("tf_primary_method", sa.String(length=64), nullable=True),
        sa.Column("tf_totp_secret", sa.String(length=255), nullable=True),
        sa.Column("tf_phone_number", sa.String(length=128), nullable=True),
        sa.Column("us_totp_secrets", sa.Text(), nullable=True),
        sa.Column("us_phone_number", sa.String(length=128), nullable=True),
        sa.Column("fs_webauthn_user_handle", sa.String(length=64), nullable=True),
        sa.Column("mf_recovery_codes", sa.UnicodeText(), nullable=True),
        sa.Column(
            "create_datetime",
            sa.DateTime(),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.Column(
            "update_datetime",
            sa.DateTime(),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_user")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_user_email")),
        sa.UniqueConstraint("fs_uniquifier", name=op.f("uq_staff_user_fs_uniquifier")),
        sa.UniqueConstraint(
            "fs_webauthn_user_handle", name=op.f("uq_staff_user_fs_webauthn_user_handle")
        ),
        sa.UniqueConstraint("us_phone_number", name=op.f("uq_staff_user_us_phone_number")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_user_username")),
    )
    op.create_table(
        "roles_users",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["role_id"], ["role.id"], name=op.f("fk_roles_users_role_id_role")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["staff_user.id"], name=op.f("fk_roles_users_user_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("user_id", "role_id", name=op.f("pk_roles_users")),
    )
    op.create_table(
        "sales_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("coupon_code", sa.String(length=40), nullable=True),
        sa.Column("total", sa.Numeric(precision=12, scale=2), server_default="0", nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("tracking_number", sa.String(length=100), nullable=True),
        sa.Column("shipped_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'shipped', 'delivered', 'cancelled')",
            name=op.f("ck_sales_order_status_known"),
        ),
        sa.CheckConstraint("total >= 0", name=op.f("ck_sales_order_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["staff_user.id"],
            name=op.f("fk_sales_order_created_by_id_staff_user"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_sales_order_customer_id_customer"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["staff_user.id"],
            name=op.f("fk_sales_order_decided_by_id_staff_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_order")),
        sa.UniqueConstraint("number", name=op.f("uq_sales_order_number")),
    )
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_order_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sales_order_created_by_id"), ["created_by_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sales_order_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_sales_order_status_created_at", ["status", "created_at"], unique=False
        )

    op.create_table(
        "order_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_line_quantity_positive")),
        sa.CheckConstraint("unit_price >= 0", name=op.f("ck_order_line_unit_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["sales_order.id"],
            name=op.f("fk_order_line_order_id_sales_order"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["product.id"],
            name=op.f("fk_order_line_product_id_product"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_line")),
    )
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_line_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_line_product_id"), ["product_id"], unique=False)

    op.bulk_insert(
        role,
        [
            {"name": name, "description": description, "permissions": permissions}
            for name, (description, permissions) in DEFAULT_ROLES.items()
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_line_product_id"))
        batch_op.drop_index(batch_op.f("ix_order_line_order_id"))

    op.drop_table("order_line")
    with op.batch_alter_table("sales_order", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_order_status_created_at")
        batch_op.drop_index(batch_op.f("ix_sales_order_customer_id"))
        batch_op.drop_index(batch_op.f("ix_sales_order_created_by_id"))
        batch_op.drop_index(batch_op.f("ix_sales_order_created_at"))

    op.drop_table("sales_order")
    op.drop_table("roles_users")
    op.drop_table("staff_user")
    op.drop_table("role")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_stock"))
        batch_op.drop_index(batch_op.f("ix_product_name"))
        batch_op.drop_index(batch_op.f("ix_product_created_at"))
        batch_op.drop_index(batch_op.f("ix_product_active"))

    op.drop_table("product")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_last_name"))
        batch_op.drop_index(batch_op.f("ix_customer_created_at"))

    op.drop_table("customer")
