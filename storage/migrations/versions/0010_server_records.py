"""server records: the driver's reference to the machine, its sizes, IPv6 and sealed login

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("servers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node", sa.String(length=63), server_default="", nullable=False))
        batch_op.add_column(sa.Column("vm_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cpus", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("memory_mb", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("disk_gb", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ipv6", sa.String(length=64), server_default="", nullable=False))
        batch_op.add_column(sa.Column("login_user", sa.String(length=32), server_default="", nullable=False))
        batch_op.add_column(sa.Column("login_secret", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("servers", schema=None) as batch_op:
        for column in ("login_secret", "login_user", "ipv6", "disk_gb", "memory_mb", "cpus", "vm_id", "node"):
            batch_op.drop_column(column)
