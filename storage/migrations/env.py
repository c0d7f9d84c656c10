"""Alembic environment: runs on the connection handed over by ``storage.db.migrate``."""

from alembic import context

from storage.models import Base

config = context.config
target_metadata = Base.metadata
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `hostbot migrate` (storage.db.migrate)")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
