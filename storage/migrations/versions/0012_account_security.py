"""account security: code word and allowed networks, when a chat was linked and last seen, domain prices

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chat_identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    # Chats linked before: the closest known moment is when they first wrote.
    op.execute("UPDATE chat_identities SET linked_at = created_at WHERE customer_id IS NOT NULL")

    op.create_table(
        "account_security",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("code_word_hash", sa.String(length=200), nullable=True),
        sa.Column("code_word_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("code_word_locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("allowed_networks", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "domain_prices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tld", sa.String(length=63), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("renewal_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tld", "currency"),
    )


def downgrade() -> None:
    op.drop_table("domain_prices")
    op.drop_table("account_security")
    with op.batch_alter_table("chat_identities", schema=None) as batch_op:
        batch_op.drop_column("last_seen_at")
        batch_op.drop_column("linked_at")
