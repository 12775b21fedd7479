"""Stock ledger: every change of stock is a movement, and stock equals their sum.

- ``stock_movement`` gets the reasons beyond order reservations (received, counted,
  damaged, correction, return restocked, opening balance), a note, and the stock after
  each movement (``balance_after``; left empty for the movements written before, when
  the stock could still be overwritten on the product form, so nobody knows it);
- each product gets one "opening balance" movement equal to its stock today minus
  the sum of its existing movements (none when that is zero), so that stock equals
  the sum of its movements from now on;
- the admin and manager roles get ``stock.adjust``; the admin, manager and clerk
  roles get ``returns.manage``.

Going down removes the movements whose reasons the older schema does not know (the
ledger's own rows: adjustments and opening balances); stock itself is not touched.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

OLD_REASONS = ("reserve", "release")
REASONS = (
    *OLD_REASONS,
    "return_restocked",
    "received",
    "counted",
    "damaged",
    "correction",
    "opening_balance",
)
GRANTS = {
    "stock.adjust": ("admin", "manager"),
    "returns.manage": ("admin", "manager", "clerk"),
}

REASON_CHECK = "ck_stock_movement_reason_known"

role = sa.table(
    "role", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("permissions")
)


def _reasons_check(reasons: tuple[str, ...]) -> str:
    return "reason IN ({})".format(", ".join(f"'{r}'" for r in reasons))


def _batch():
    # The copy SQLite makes of stock_movement needs only its own columns: reflecting
    # the tables it refers to (product, sales_order) would read their expression
    # indexes, which SQLite's reflection cannot and warns about.
    return op.batch_alter_table(
        "stock_movement", schema=None, reflect_kwargs={"resolve_fks": False}
    )


def _set_permissions(connection: sa.Connection, *, granted: bool) -> None:
    """Add (or take back) the ledger's and returns' permissions on the default roles."""
    for row in connection.execute(sa.select(role.c.id, role.c.name, role.c.permissions)):
        permissions = {p for p in (row.permissions or "").split(",") if p}
        for permission, roles in GRANTS.items():
            if row.name not in roles:
                continue
            if granted:
                permissions.add(permission)
            else:
                permissions.discard(permission)
        connection.execute(
            role.update()
            .where(role.c.id == row.id)
            .values(permissions=",".join(sorted(permissions)))
        )


def _open_the_ledger(connection: sa.Connection) -> None:
    """One opening balance per product whose stock its movements do not explain."""
    connection.execute(
        sa.text(
            "INSERT INTO stock_movement"
            " (product_id, quantity, reason, balance_after, note, created_at, updated_at)"
            " SELECT p.id, p.stock - COALESCE(m.total, 0), 'opening_balance', p.stock,"
            " :note, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP"
            " FROM product p LEFT JOIN"
            " (SELECT product_id, SUM(quantity) AS total FROM stock_movement"
            "  GROUP BY product_id) m ON m.product_id = p.id"
            " WHERE p.stock - COALESCE(m.total, 0) <> 0"
            " ORDER BY p.id"
        ).bindparams(note="Stock on hand when the stock ledger started")
    )


def upgrade() -> None:
    connection = op.get_bind()
    with _batch() as batch_op:
        batch_op.add_column(sa.Column("note", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("balance_after", sa.Integer(), nullable=True))
        batch_op.drop_constraint(op.f(REASON_CHECK), type_="check")
        batch_op.create_check_constraint(op.f(REASON_CHECK), _reasons_check(REASONS))
        batch_op.create_check_constraint(
            op.f("ck_stock_movement_balance_after_not_negative"), "balance_after >= 0"
        )
        batch_op.create_index(batch_op.f("ix_stock_movement_reason"), ["reason"], unique=False)
        batch_op.create_index(batch_op.f("ix_stock_movement_actor_id"), ["actor_id"], unique=False)
    _open_the_ledger(connection)
    _set_permissions(connection, granted=True)


def downgrade() -> None:
    connection = op.get_bind()
    _set_permissions(connection, granted=False)
    connection.execute(
        sa.text(
            "DELETE FROM stock_movement WHERE reason NOT IN ({})".format(
                ", ".join(f"'{r}'" for r in OLD_REASONS)
            )
        )
    )
    with _batch() as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_movement_actor_id"))
        batch_op.drop_index(batch_op.f("ix_stock_movement_reason"))
        batch_op.drop_constraint(
            batch_op.f("ck_stock_movement_balance_after_not_negative"), type_="check"
        )
        batch_op.drop_constraint(op.f(REASON_CHECK), type_="check")
        batch_op.create_check_constraint(op.f(REASON_CHECK), _reasons_check(OLD_REASONS))
        batch_op.drop_column("balance_after")
        batch_op.drop_column("note")
