"""The rate each order's shipping was taxed at, kept with its other figures.

Orders priced before have none (NULL): their refunds and credit notes fall back to the
shop's current ``SHOP_SHIPPING_TAX_RATE``, as they did until now.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sales_order", sa.Column("shipping_tax_rate", sa.Numeric(5, 2), nullable=True))


def downgrade() -> None:
    op.drop_column("sales_order", "shipping_tax_rate")
