"""SQLite writers of one gateway queue on a lock of the process, taken at a transaction's first
write and given back when it commits or rolls back, so that none sleeps in SQLite's busy handler
and none is left holding it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.exc import IntegrityError

from interstack.store import Database

ROWS = Table(
    "rows", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(32))
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    ROWS.metadata.create_all(database.engine)
    yield database
    database.dispose()


def _held(db: Database) -> bool:
    assert db.writers is not None
    return db.writers.held


def test_the_lock_is_held_from_the_first_write_to_the_commit(db: Database) -> None:
    assert not _held(db)
    with db.session() as session:
        session.execute(select(func.count()).select_from(ROWS))
        assert not _held(db)  # reads take no lock
        session.execute(insert(ROWS).values(id=1, name="a"))
        assert _held(db)
    assert not _held(db)


def test_a_rolled_back_write_gives_the_lock_back(db: Database) -> None:
    with db.session() as session:
        session.execute(insert(ROWS).values(id=1, name="a"))
    with pytest.raises(IntegrityError), db.session() as session:
        session.execute(insert(ROWS).values(id=1, name="again"))
    assert not _held(db)
    with db.session() as session:
        session.execute(insert(ROWS).values(id=2, name="b"))
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ROWS)) == 2


def test_concurrent_writers_all_commit(db: Database) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(25):
                with db.session() as session:
                    session.execute(insert(ROWS).values(id=worker * 100 + n, name=f"{worker}"))
                    session.execute(select(func.count()).select_from(ROWS))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert not _held(db)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ROWS)) == 200
