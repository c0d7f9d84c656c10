"""the language of each chat user's platform, kept on the identity for the messages the bot starts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chat_identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform_language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chat_identities", schema=None) as batch_op:
        batch_op.drop_column("platform_language")
