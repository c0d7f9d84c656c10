"""admin API: bearer tokens, external ids, credit notes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Tables whose records the provider may key with its own id (``external_id``, unique per table).
EXTERNAL = ("customers", "orders", "servers", "domains", "metered_resources", "invoices")


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("token_hash"),
    )
    for table in EXTERNAL:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
            batch_op.create_index(f"uq_{table}_external_id", ["external_id"], unique=True)
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credits_invoice_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_invoices_credits_invoice_id", "invoices", ["credits_invoice_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_constraint("fk_invoices_credits_invoice_id", type_="foreignkey")
        batch_op.drop_column("credits_invoice_id")
    for table in reversed(EXTERNAL):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"uq_{table}_external_id")
            batch_op.drop_column("external_id")
    op.drop_table("api_tokens")
