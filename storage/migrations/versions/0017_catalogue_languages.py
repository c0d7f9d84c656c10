"""catalogue names and descriptions per language; the language an invoice was issued in

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-11 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

CATALOGUE = ("plans", "addons", "metered_products")


def upgrade() -> None:
    for table in CATALOGUE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("names", sa.JSON(), server_default="{}", nullable=False))
            batch_op.add_column(sa.Column("descriptions", sa.JSON(), server_default="{}", nullable=False))
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("language")
    for table in CATALOGUE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("descriptions")
            batch_op.drop_column("names")
