"""auto-renew pass: partial indexes on the auto-renew orders and domains by the day they fall due,
so the pass's selection reads only the due items (index-only on PostgreSQL) instead of walking
the primary key

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 01:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_auto_renew_due",
            ["period_end", "id"],
            unique=False,
            sqlite_where=sa.text("auto_renew IS 1"),
            postgresql_where=sa.text("auto_renew IS true"),
            postgresql_include=["status", "customer_id", "renewal_short_mark"],
        )
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.create_index(
            "ix_domains_auto_renew_due",
            ["expires_on", "id"],
            unique=False,
            sqlite_where=sa.text("auto_renew IS 1"),
            postgresql_where=sa.text("auto_renew IS true"),
            postgresql_include=["customer_id", "renewal_short_mark"],
        )


def downgrade() -> None:
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.drop_index("ix_domains_auto_renew_due")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_auto_renew_due")
