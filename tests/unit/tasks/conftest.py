"""The persisted task runner's tests run on each database the store supports (the
``database_url`` fixture of tests/conftest.py: SQLite and PostgreSQL), on a fake clock where
no real worker thread runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from interstack.store import Database
from tests.support.clock import FakeClock
from tests.support.store import migrated_store


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """On each kind of database, not the unit tests' SQLite store alone."""
    with migrated_store(database_url) as database:
        yield database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
