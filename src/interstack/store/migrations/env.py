"""Alembic environment: runs on the connection that Database.migrate hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from interstack.store.models import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("migrations run through interstack.store.Database.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
