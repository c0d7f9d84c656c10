"""money guards: the balance kept beside the ledger, one renewal invoice per item and period

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

RENEWAL_EFFECTS = {"order_renewal": "order", "domain_renewal": "domain"}


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("balance_minor", sa.BigInteger(), server_default="0", nullable=False))
    op.execute(
        "UPDATE customers SET balance_minor = (SELECT COALESCE(SUM(l.amount_minor), 0) FROM ledger_entries l"
        " WHERE l.customer_id = customers.id AND l.currency = customers.currency)"
    )

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renewal_key", sa.String(length=60), nullable=True))
    _backfill_renewal_keys()
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            "uq_invoices_renewal_key",
            ["renewal_key"],
            unique=True,
            sqlite_where=sa.text("status != 'cancelled'"),
            postgresql_where=sa.text("status != 'cancelled'"),
        )


def _backfill_renewal_keys() -> None:
    """Key the live renewal invoices already there. Where older code left several for one item and
    period, the paid one (else the oldest) gets the key; the others stay unkeyed, as they were."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT i.id, i.status, l.effect, l.ref_id, l.period_start FROM invoices i"
            " JOIN invoice_lines l ON l.invoice_id = i.id"
            " WHERE i.status != 'cancelled' AND l.ref_id IS NOT NULL AND l.period_start IS NOT NULL"
            " AND l.effect IN ('order_renewal', 'domain_renewal')"
            " ORDER BY CASE WHEN i.status = 'paid' THEN 0 ELSE 1 END, i.id"
        )
    ).all()
    keyed: dict[str, int] = {}
    for invoice_id, _status, effect, ref_id, start in rows:
        key = f"{RENEWAL_EFFECTS[effect]}:{ref_id}:{str(start)[:10]}"
        if key not in keyed and invoice_id not in keyed.values():
            keyed[key] = invoice_id
    for key, invoice_id in keyed.items():
        conn.execute(
            sa.text("UPDATE invoices SET renewal_key = :key WHERE id = :id"), {"key": key, "id": invoice_id}
        )


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("uq_invoices_renewal_key")
        batch_op.drop_column("renewal_key")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("balance_minor")
