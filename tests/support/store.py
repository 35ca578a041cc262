"""A store migrated to the newest schema, or to a revision before one under test, for the
tests that work on the store itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from interstack.store import Database
from interstack.store.db import MIGRATIONS_DIR
from interstack.store.models import Task as TaskRow


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


def upgrade_to(database: Database, revision: str) -> None:
    """Apply the migrations up to ``revision`` (and the revisions it needs)."""
    _alembic(database, command.upgrade, revision)


def downgrade_to(database: Database, revision: str) -> None:
    """Undo the migrations after ``revision`` on its branch (the other branches kept)."""
    _alembic(database, command.downgrade, revision)


def _alembic(database: Database, run: Callable[[Config, str], None], revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with database.migrating() as connection:
        config.attributes["connection"] = connection
        run(config, revision)


def store_at(database: Database, revision: str) -> None:
    """Every branch at its head but the one holding ``revision``, which stops there: a store
    as it was before the revisions after ``revision``, for a test of what they do to it."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    for head in script.get_heads():
        below = {r.revision for r in script.iterate_revisions(head, "base")}
        upgrade_to(database, revision if revision in below else head)


@contextmanager
def stopped_before(url: str, revision: str) -> Iterator[Database]:
    """The store at ``url`` as :func:`store_at` leaves it, its connections closed after."""
    database = Database(url)
    store_at(database, revision)
    try:
        yield database
    finally:
        database.dispose()


def store_before(revision: str) -> Callable[[str], Iterator[Database]]:
    """A ``database`` fixture: a store of each kind (``database_url``) as it was before the
    revisions after ``revision``, for the tests of what a migration does to the rows there."""

    @pytest.fixture
    def database(database_url: str) -> Iterator[Database]:
        with stopped_before(database_url, revision) as store:
            yield store

    return database


def lease_end(db: Database, task_id: str) -> datetime | None:
    """Until when the task's lease runs (None: not held)."""
    with db.session() as session:
        row = session.get(TaskRow, task_id)
        assert row is not None
        return row.locked_until
