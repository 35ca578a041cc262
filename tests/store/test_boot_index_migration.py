"""Revision 0007 marks the root volume of servers booted from a volume before it: their oldest
live attachment (the rule the code used until then), on both databases."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text, update

from interstack.store import Database
from interstack.store.db import MIGRATIONS_DIR
from interstack.store.models import Server
from tests.support.compute import add_server

BEFORE = "0006_volume_attach_tag"
AFTER = "0007_volume_attach_boot_index"
ATTACHMENT = (
    "INSERT INTO volume_attachments (id, region, project_id, volume_id, server_id, mountpoint, "
    "attach_mode, status, connector, delete_on_termination, created_at, updated_at) VALUES "
    "(:id, 'R', 'p', :id, :server_id, :device, 'rw', :status, '{}', false, :at, :at)"
)


def _upgrade(database: Database, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_the_oldest_live_attachment_of_a_server_without_image_becomes_its_root(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        for head in ScriptDirectory(str(MIGRATIONS_DIR)).get_heads():
            _upgrade(database, BEFORE if head == AFTER else head)
        rows = [
            # a server booted from a volume: a detached old volume, its root, a data volume
            ("bfv", "gone", "/dev/vdc", "detached", 1),
            ("bfv", "root", "/dev/vda", "attached", 2),
            ("bfv", "data", "/dev/vdb", "attached", 3),
            # a server booted from an image: its volumes are data volumes
            ("img", "img-data", "/dev/vdb", "attached", 1),
        ]
        bfv = add_server(database, "p", 1, 512, "active")
        img = add_server(database, "p", 1, 512, "active")
        with database.session() as session:
            session.execute(update(Server).where(Server.id == img).values(image_id="an-image"))
        servers = {"bfv": bfv, "img": img}
        with database.engine.begin() as connection:
            for server, volume, device, status, minute in rows:
                at = datetime(2026, 1, 1, 0, minute)
                connection.execute(
                    text(ATTACHMENT),
                    {"id": volume, "server_id": servers[server], "device": device,
                     "status": status, "at": at},
                )  # fmt: skip

        database.migrate()

        with database.engine.connect() as connection:
            marked: dict[str, int | None] = dict(
                connection.execute(text("SELECT id, boot_index FROM volume_attachments")).all()
            )
        assert marked == {"gone": None, "root": 0, "data": None, "img-data": None}
    finally:
        database.dispose()
