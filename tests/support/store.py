"""A store migrated to the newest schema, for the tests that work on the store itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from interstack.store import Database


@contextmanager
def migrated_store(url: str) -> Iterator[Database]:
    """The store at ``url`` migrated to the newest schema; its connections closed after, so
    that a test's SQLite file or PostgreSQL database is not held open past it."""
    database = Database(url)
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()
