"""alerts in shared chats: the kinds and language an owner or admin chose for a shared chat, and
what was posted there

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel_bindings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert_kinds", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    op.create_table(
        "channel_alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("binding_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["binding_id"], ["channel_bindings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert_id", "binding_id"),
    )
    with op.batch_alter_table("channel_alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_alert_deliveries_alert_id"), ["alert_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("channel_alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_alert_deliveries_alert_id"))
    op.drop_table("channel_alert_deliveries")
    with op.batch_alter_table("channel_bindings", schema=None) as batch_op:
        batch_op.drop_column("language")
        batch_op.drop_column("alert_kinds")
