"""service lifecycle: pending actions for outside systems, the registry's expiry of a domain

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=150), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("pending_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_actions_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pending_actions_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_pending_actions_target"), ["target"], unique=False)

    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registry_expires_on", sa.Date(), nullable=True))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_status_period_end", ["status", "period_end"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_period_end")
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.drop_column("registry_expires_on")
    with op.batch_alter_table("pending_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_actions_target"))
        batch_op.drop_index(batch_op.f("ix_pending_actions_state"))
        batch_op.drop_index(batch_op.f("ix_pending_actions_customer_id"))
    op.drop_table("pending_actions")
