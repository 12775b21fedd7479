"""Product SKUs are unique regardless of case: a unique index on lower(sku).

The upgrade refuses, naming them, when existing products have SKUs that differ only in
case: which one is right is a person's decision (rename or merge them, then upgrade
again), never the migration's.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

MAX_REPORTED = 20
"""Clashing groups named in the refusal; the rest are counted."""


class SkuClash(RuntimeError):
    """Existing SKUs differ only in case; the schema cannot be upgraded until they are fixed."""


def clashing_skus(connection: sa.Connection) -> list[list[str]]:
    """Groups of existing SKUs that are equal when case is ignored."""
    product = sa.table("product", sa.column("sku", sa.String))
    key = sa.func.lower(product.c.sku)
    clashing = sa.select(key).group_by(key).having(sa.func.count() > 1)
    rows = connection.execute(
        sa.select(key.label("key"), product.c.sku).where(key.in_(clashing)).order_by(key, "sku")
    )
    groups: dict[str, list[str]] = {}
    for row in rows:
        groups.setdefault(row.key, []).append(row.sku)
    return list(groups.values())


def upgrade() -> None:
    groups = clashing_skus(op.get_bind())
    if groups:
        shown = "; ".join(", ".join(group) for group in groups[:MAX_REPORTED])
        more = (
            f" (and {len(groups) - MAX_REPORTED} more groups)" if len(groups) > MAX_REPORTED else ""
        )
        raise SkuClash(
            f"Cannot make SKUs unique regardless of case: {len(groups)} group(s) of products "
            f"have SKUs that differ only in case: {shown}{more}. Rename or merge those "
            "products, then run the upgrade again; nothing was changed."
        )
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_constraint("uq_product_sku", type_="unique")
    # Outside the batch: SQLite's table copy does not carry expression indexes.
    op.create_index("uq_product_sku_lower", "product", [sa.text("lower(sku)")], unique=True)


def downgrade() -> None:
    op.drop_index("uq_product_sku_lower", table_name="product")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_product_sku", ["sku"])
