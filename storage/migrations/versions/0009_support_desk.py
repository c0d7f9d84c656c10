"""support desk: a ticket's thread in the provider's Slack channel, its assignee, when it was
closed, who on the staff wrote a message and the platform message it came from

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("desk_thread", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    # Tickets closed before this column existed were closed when they were last updated.
    op.execute("UPDATE tickets SET closed_at = updated_at WHERE status = 'closed'")
    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("staff", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("external_id", sa.String(length=120), nullable=True))
        batch_op.create_unique_constraint("uq_ticket_messages_external_id", ["external_id"])


def downgrade() -> None:
    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.drop_constraint("uq_ticket_messages_external_id", type_="unique")
        batch_op.drop_column("external_id")
        batch_op.drop_column("staff")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
        batch_op.drop_column("desk_thread")
        batch_op.drop_column("assignee")
