"""Persistent state: SQLAlchemy models, sessions and Alembic migrations."""

from interstack.store.db import Database

__all__ = ["Database"]
