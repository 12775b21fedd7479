"""Orders keep the name of their shipping method as it was when they were priced.

Renaming a shipping method later changes no past order, e-mail or export. Existing
orders take the name their method has now.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD/DROP COLUMN, which SQLite does itself: a batch copy of sales_order
    # would reflect the promotion table's expression index, which SQLAlchemy cannot.
    op.add_column("sales_order", sa.Column("shipping_method_name", sa.String(60), nullable=True))
    op.execute(
        "UPDATE sales_order SET shipping_method_name = (SELECT shipping_method.name FROM "
        "shipping_method WHERE shipping_method.id = sales_order.shipping_method_id) "
        "WHERE shipping_method_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("sales_order", "shipping_method_name")
