"""metering roll-up: the recorded hours of each resource as runs of one package and rate, so a
month close reads a few rows per resource instead of every hour; filled from the snapshots

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# Gaps and islands: a snapshot whose package or rate differs from the one before starts a run; the
# runs' running number groups them; each run ends where the next one starts. The same statement as
# ``services.meter_runs.rebuild`` (which this migration must not import).
BACKFILL = """
INSERT INTO meter_runs (resource_id, since, ended, last_hour, hours, customer_id, product_id, hourly_minor)
SELECT resource_id, since, LEAD(since) OVER (PARTITION BY resource_id ORDER BY since),
       last_hour, hours, customer_id, product_id, hourly_minor
FROM (
    SELECT resource_id, run, MIN(hour) AS since, MAX(hour) AS last_hour, COUNT(*) AS hours,
           MIN(customer_id) AS customer_id, MIN(product_id) AS product_id,
           MIN(hourly_minor) AS hourly_minor
    FROM (
        SELECT resource_id, hour, customer_id, product_id, hourly_minor,
               SUM(starts) OVER (PARTITION BY resource_id ORDER BY hour) AS run
        FROM (
            SELECT resource_id, hour, customer_id, product_id, hourly_minor,
                   CASE WHEN LAG(product_id) OVER w = product_id
                         AND LAG(hourly_minor) OVER w = hourly_minor THEN 0 ELSE 1 END AS starts
            FROM meter_snapshots
            WINDOW w AS (PARTITION BY resource_id ORDER BY hour)
        ) AS marked
    ) AS numbered
    GROUP BY resource_id, run
) AS runs
"""


def upgrade() -> None:
    op.create_table(
        "meter_runs",
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("hourly_minor", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["product_id"], ["metered_products.id"]),
        sa.ForeignKeyConstraint(["resource_id"], ["metered_resources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("resource_id", "since"),
    )
    with op.batch_alter_table("meter_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meter_runs_customer_resource", ["customer_id", "resource_id", "since"], unique=False
        )
    op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("meter_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_meter_runs_customer_resource")
    op.drop_table("meter_runs")
