"""pay-as-you-use metering: products priced per hour, resources, hourly snapshots

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metered_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("hourly_minor", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "currency"),
    )
    op.create_table(
        "metered_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["product_id"], ["metered_products.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("metered_resources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_metered_resources_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "meter_snapshots",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("hourly_minor", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["product_id"], ["metered_products.id"]),
        sa.ForeignKeyConstraint(["resource_id"], ["metered_resources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("resource_id", "hour"),
    )
    with op.batch_alter_table("meter_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_meter_snapshots_customer_hour", ["customer_id", "hour"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meter_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_meter_snapshots_customer_hour")

    op.drop_table("meter_snapshots")
    with op.batch_alter_table("metered_resources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metered_resources_customer_id"))

    op.drop_table("metered_resources")
    op.drop_table("metered_products")
