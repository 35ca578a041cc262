"""Persistent state: SQLAlchemy models, sessions and Alembic migrations."""

from interstack.store.db import Database, rowcount, take_turns

__all__ = ["Database", "rowcount", "take_turns"]
