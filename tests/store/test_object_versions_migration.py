"""Revision 0004_object_versions' downgrade copies object_containers on SQLite (batch mode drops
a column so), and dropping the old table cascaded to every object in it: migrations run with
SQLite's foreign keys off (Database.migrating), so a container's objects survive the copy, on
both databases, down and up again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from interstack.store import Database
from tests.support.store import downgrade_to, migrated_store, upgrade_to

BEFORE = "0003_object"

CONTAINER = (
    "INSERT INTO object_containers (id, region, project_id, name, native_ref, meta,"
    " created_at, updated_at) VALUES ('c', 'R', 'p', 'photos', 'ref', '{}',"
    " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
)
OBJECT = (
    "INSERT INTO objects (id, container_id, name, native_name, size, etag, content_type,"
    " meta, headers, modified_at) VALUES ('o', 'c', 'a.jpg', 'a', 1, 'e', 'image/jpeg',"
    " '{}', '{}', '2026-01-01 00:00:00')"
)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    with migrated_store(database_url) as store:
        yield store


def _objects(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(text("SELECT count(*) FROM objects")) or 0)


def test_a_containers_objects_survive_the_downgrade_and_upgrade(database: Database) -> None:
    with database.session() as session:
        session.execute(text(CONTAINER))
        session.execute(text(OBJECT))
    downgrade_to(database, BEFORE)
    assert _objects(database) == 1
    upgrade_to(database, "0004_object_versions")
    assert _objects(database) == 1
    # the keys are enforced again after migrating
    with pytest.raises(IntegrityError), database.session() as session:
        session.execute(text(OBJECT.replace("'o'", "'o2'").replace("'c'", "'missing'")))
