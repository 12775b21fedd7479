"""Customer search text: names and e-mail without accents, for the customer picker.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_NOT_DECOMPOSED = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d"})
_WORD_BREAK = re.compile(r"[^\w.+]+")


def _search_text(*parts: str | None) -> str:
    """The model's rule (``console.models.customers.search_words``) as of this revision."""
    text = " ".join(part or "" for part in parts)
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_NOT_DECOMPOSED))
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    return " ".join(word for word in _WORD_BREAK.split(plain) if word)[:600]


customer = sa.table(
    "customer",
    sa.column("id", sa.Integer),
    sa.column("first_name", sa.String),
    sa.column("last_name", sa.String),
    sa.column("email", sa.String),
    sa.column("search_text", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("search_text", sa.String(length=600), server_default="", nullable=False)
        )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(customer.c.id, customer.c.first_name, customer.c.last_name, customer.c.email)
    ).all()
    for row in rows:
        connection.execute(
            customer.update()
            .where(customer.c.id == row.id)
            .values(search_text=_search_text(row.first_name, row.last_name, row.email))
        )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_search_text",
            ["search_text"],
            postgresql_ops={"search_text": "varchar_pattern_ops"},
        )


def downgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_search_text")
        batch_op.drop_column("search_text")
