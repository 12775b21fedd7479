"""Imports of stock counts: the import kind "stock".

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

KIND_CHECK = "ck_import_batch_kind_known"


def _kinds(*kinds: str) -> str:
    return "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("import_batch", reflect_kwargs={"resolve_fks": False}) as batch_op:
        batch_op.drop_constraint(op.f(KIND_CHECK), type_="check")
        batch_op.create_check_constraint(op.f(KIND_CHECK), _kinds("customers", "products", "stock"))


def downgrade() -> None:
    # Stock-count imports cannot be kept under the old rule: they go (their counts,
    # movements of the stock ledger, stay).
    op.execute(sa.text("DELETE FROM import_batch WHERE kind = 'stock'"))
    with op.batch_alter_table("import_batch", reflect_kwargs={"resolve_fks": False}) as batch_op:
        batch_op.drop_constraint(op.f(KIND_CHECK), type_="check")
        batch_op.create_check_constraint(op.f(KIND_CHECK), _kinds("customers", "products"))
