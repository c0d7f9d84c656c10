"""channel bindings: a group chat shared by a team for one customer account

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_bindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("bound_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bound_by"], ["chat_identities.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "workspace", "chat_id"),
    )
    with op.batch_alter_table("channel_bindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_bindings_customer_id"), ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("channel_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_bindings_customer_id"))
    op.drop_table("channel_bindings")
