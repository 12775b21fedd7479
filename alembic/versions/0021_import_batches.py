"""Imports of customers and products: the uploaded file, its mapping, preview and outcome.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="uploaded", nullable=False),
        sa.Column("valid_only", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "state IN ('uploaded', 'previewing', 'previewed', 'applying', 'applied', 'failed')",
            name=op.f("ck_import_batch_state_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('customers', 'products')", name=op.f("ck_import_batch_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["staff_user.id"], name=op.f("fk_import_batch_owner_id_staff_user")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name=op.f("fk_import_batch_job_id_job")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batch")),
    )
    op.create_index("ix_import_batch_kind_sha256", "import_batch", ["kind", "sha256"])
    op.create_index(
        "ix_import_batch_owner_id_created_at", "import_batch", ["owner_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_import_batch_owner_id_created_at", table_name="import_batch")
    op.drop_index("ix_import_batch_kind_sha256", table_name="import_batch")
    op.drop_table("import_batch")
