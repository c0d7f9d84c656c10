"""set-based jobs: indexes for the alerts scan and dispatch, and the uncovered auto-renewal mark

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chat_identities", schema=None) as batch_op:
        batch_op.create_index("ix_chat_identities_customer_id", ["customer_id"], unique=False)
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alerts_pending_due",
            ["not_before"],
            unique=False,
            sqlite_where=sa.text("state = 'pending'"),
            postgresql_where=sa.text("state = 'pending'"),
        )
        batch_op.create_index(
            "ix_alerts_sending_lease",
            ["claimed_until"],
            unique=False,
            sqlite_where=sa.text("state = 'sending'"),
            postgresql_where=sa.text("state = 'sending'"),
        )
    with op.batch_alter_table("order_addons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_addons_order_id"), ["order_id"], unique=False)
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renewal_short_mark", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renewal_short_mark", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_domains_expires_on", ["expires_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.drop_index("ix_domains_expires_on")
        batch_op.drop_column("renewal_short_mark")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("renewal_short_mark")
    with op.batch_alter_table("order_addons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_addons_order_id"))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_sending_lease")
        batch_op.drop_index("ix_alerts_pending_due")
    with op.batch_alter_table("chat_identities", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_identities_customer_id")
