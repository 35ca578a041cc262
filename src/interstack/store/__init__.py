"""Persistent state: SQLAlchemy models, sessions and Alembic migrations."""

from interstack.store.db import Database, rowcount

__all__ = ["Database", "rowcount"]
