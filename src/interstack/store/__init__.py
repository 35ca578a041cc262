"""Persistent state: SQLAlchemy models, sessions and Alembic migrations."""

from interstack.store.db import (
    Database,
    core_written,
    insert_rows,
    rowcount,
    run_core,
    table_of,
    take_turns,
)

__all__ = [
    "Database",
    "core_written",
    "insert_rows",
    "rowcount",
    "run_core",
    "table_of",
    "take_turns",
]
