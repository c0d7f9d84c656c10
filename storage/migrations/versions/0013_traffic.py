"""traffic: bytes in and out per server and interval, coarser with age

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_traffic",
        sa.Column("server_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("span", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("bytes_in", sa.BigInteger(), nullable=False),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["server_id"], ["servers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("server_id", "start", "span"),
    )
    with op.batch_alter_table("server_traffic", schema=None) as batch_op:
        batch_op.create_index("ix_server_traffic_span_start", ["span", "start"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("server_traffic", schema=None) as batch_op:
        batch_op.drop_index("ix_server_traffic_span_start")
    op.drop_table("server_traffic")
