"""Room in the audit trail for every request id the logs accept (up to 128 characters).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column(
            "request_id", existing_type=sa.String(length=64), type_=sa.String(length=128)
        )


def downgrade() -> None:
    # Longer ids would not fit the narrower column: keep their first 64 characters.
    op.execute(
        "UPDATE audit_event SET request_id = substr(request_id, 1, 64) "
        "WHERE length(request_id) > 64"
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column(
            "request_id", existing_type=sa.String(length=128), type_=sa.String(length=64)
        )
