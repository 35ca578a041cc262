"""Revision 0007 marks the root volume of servers booted from a volume before it: their oldest
live attachment (the rule the code used until then), on both databases; of attachments made at
the same instant, one only. Revision 0008 repairs stores where 0007 had marked two."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import text, update

from interstack.store import Database
from interstack.store.models import Server
from tests.support.compute import add_server
from tests.support.store import store_at, upgrade_to

BEFORE = "0006_volume_attach_tag"
AFTER = "0007_volume_attach_boot_index"
#: an attachment row: (server, volume, device, status, minute made)
Row = tuple[str, str, str, str, int]
ATTACHMENT = (
    "INSERT INTO volume_attachments (id, region, project_id, volume_id, server_id, mountpoint, "
    "attach_mode, status, connector, delete_on_termination, created_at, updated_at) VALUES "
    "(:id, 'R', 'p', :id, :server_id, :device, 'rw', :status, '{}', false, :at, :at)"
)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """An empty store of each kind, its migrations left to the test."""
    store = Database(database_url)
    yield store
    store.dispose()


def _servers(database: Database) -> dict[str, str]:
    """A server booted from a volume ("bfv") and one booted from an image ("img")."""
    bfv = add_server(database, "p", 1, 512, "active")
    img = add_server(database, "p", 1, 512, "active")
    with database.session() as session:
        session.execute(update(Server).where(Server.id == img).values(image_id="an-image"))
    return {"bfv": bfv, "img": img}


def _attached_at(database: Database, revision: str, rows: list[Row]) -> None:
    """The store at ``revision`` (see :func:`store_at`) with the two servers of
    :func:`_servers` and the attachment ``rows`` made to them."""
    store_at(database, revision)
    servers = _servers(database)
    with database.engine.begin() as connection:
        for server, volume, device, status, minute in rows:
            at = datetime(2026, 1, 1, 0, minute)
            connection.execute(
                text(ATTACHMENT),
                {"id": volume, "server_id": servers[server], "device": device,
                 "status": status, "at": at},
            )  # fmt: skip


def _boot_indexes(database: Database) -> dict[str, int | None]:
    with database.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, boot_index FROM volume_attachments")).all()
    return {volume: boot_index for volume, boot_index in rows}


def test_the_oldest_live_attachment_of_a_server_without_image_becomes_its_root(
    database: Database,
) -> None:
    _attached_at(
        database,
        BEFORE,
        [
            # a server booted from a volume: a detached old volume, its root, a data volume
            ("bfv", "gone", "/dev/vdc", "detached", 1),
            ("bfv", "root", "/dev/vda", "attached", 2),
            ("bfv", "data", "/dev/vdb", "attached", 3),
            # a server booted from an image: its volumes are data volumes
            ("img", "img-data", "/dev/vdb", "attached", 1),
        ],
    )

    database.migrate()

    assert _boot_indexes(database) == {
        "gone": None, "root": 0, "data": None, "img-data": None,
    }  # fmt: skip


def test_of_attachments_made_at_the_same_instant_the_first_device_becomes_the_root(
    database: Database,
) -> None:
    # the boot made both volumes' attachments at once, the data volume's row first
    _attached_at(
        database,
        BEFORE,
        [
            ("bfv", "data", "/dev/vdb", "attached", 2),
            ("bfv", "root", "/dev/vda", "attached", 2),
        ],
    )

    upgrade_to(database, AFTER)

    assert _boot_indexes(database) == {"root": 0, "data": None}


def test_a_store_with_two_roots_of_a_server_keeps_one(database: Database) -> None:
    # what 0007 as first written left: both attachments made at the root's instant marked
    _attached_at(
        database,
        AFTER,
        [
            ("bfv", "data", "/dev/vdb", "attached", 2),
            ("bfv", "root", "/dev/vda", "attached", 2),
            ("bfv", "later", "/dev/vdc", "attached", 3),
            ("img", "img-data", "/dev/vdb", "attached", 1),
        ],
    )
    with database.engine.begin() as connection:
        connection.execute(
            text("UPDATE volume_attachments SET boot_index = 0 WHERE id IN ('data', 'root')")
        )

    database.migrate()

    assert _boot_indexes(database) == {
        "data": None, "root": 0, "later": None, "img-data": None,
    }  # fmt: skip
