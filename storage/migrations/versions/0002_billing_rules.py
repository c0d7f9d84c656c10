"""billing rules: pending and scheduled order changes, billing notices

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("billing_cycle", sa.String(length=10), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("order_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_changes_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_changes_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_changes_status"), ["status"], unique=False)

    op.create_table(
        "billing_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("key", sa.String(length=150), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("billing_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_billing_notices_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("billing_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_billing_notices_customer_id"))
    op.drop_table("billing_notices")
    with op.batch_alter_table("order_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_changes_status"))
        batch_op.drop_index(batch_op.f("ix_order_changes_order_id"))
        batch_op.drop_index(batch_op.f("ix_order_changes_customer_id"))
    op.drop_table("order_changes")
