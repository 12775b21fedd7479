"""An import's file kept in parts (``import_file_part``) rather than in one value,
and the rows its preview checked (``import_checked_row``).

Storing or reading back a file of one value made the database driver copy it whole
(twice on SQLite), so an import's memory grew with its file. The files already stored
are moved into parts of 256 KB, one import at a time. The rows a preview checked are
kept so that the confirmation does not check each row a second time.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

PART_BYTES = 256 * 1024


def upgrade() -> None:
    op.create_table(
        "import_file_part",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batch.id"],
            name=op.f("fk_import_file_part_batch_id_import_batch"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", "number", name=op.f("pk_import_file_part")),
    )
    op.create_table(
        "import_checked_row",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("preview", sa.String(length=32), nullable=False),
        sa.Column("line", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batch.id"],
            name=op.f("fk_import_checked_row_batch_id_import_batch"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("batch_id", "preview", "line", name=op.f("pk_import_checked_row")),
    )
    connection = op.get_bind()
    parts = sa.table(
        "import_file_part",
        sa.column("batch_id", sa.Integer()),
        sa.column("number", sa.Integer()),
        sa.column("data", sa.LargeBinary()),
    )
    ids = connection.execute(sa.text("SELECT id FROM import_batch ORDER BY id")).scalars().all()
    for batch_id in ids:
        content = connection.execute(
            sa.text("SELECT content FROM import_batch WHERE id = :id"), {"id": batch_id}
        ).scalar_one()
        content = bytes(content or b"")
        for number, offset in enumerate(range(0, len(content), PART_BYTES)):
            connection.execute(
                parts.insert().values(
                    batch_id=batch_id, number=number, data=content[offset : offset + PART_BYTES]
                )
            )
    op.drop_column("import_batch", "content")


def downgrade() -> None:
    op.add_column("import_batch", sa.Column("content", sa.LargeBinary(), nullable=True))
    connection = op.get_bind()
    ids = connection.execute(sa.text("SELECT id FROM import_batch ORDER BY id")).scalars().all()
    for batch_id in ids:
        content = b"".join(
            bytes(data)
            for data in connection.execute(
                sa.text("SELECT data FROM import_file_part WHERE batch_id = :id ORDER BY number"),
                {"id": batch_id},
            ).scalars()
        )
        connection.execute(
            sa.text("UPDATE import_batch SET content = :content WHERE id = :id"),
            {"content": content, "id": batch_id},
        )
    op.drop_table("import_checked_row")
    op.drop_table("import_file_part")
