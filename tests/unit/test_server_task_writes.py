"""The server tasks make no store round trip their work does not need: a delete whose backend
server is gone at the first look ends the server in the step that deleted it (the runner
records no phase change), and a boot step reads its server once, for its spec: it does not
read again the backend server it just recorded before it looks at it, and writes the settled
state without reading the row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from interstack.services.compute.server_tasks import BOOT, DELETE
from interstack.services.compute.state import TaskState
from interstack.services.container import Services
from interstack.store.models import Server
from tests.support.compute import add_server, running_task
from tests.support.image import started_services

REGION = "RegionOne"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    # the backend settles at once, as EC2's emulator does
    with started_services(tmp_path / "data", sim={"boot_delay_seconds": 0}) as started:
        yield started


def server_reads(services: Services) -> list[str]:
    """The statements the store is sent from now on that read a server row: SELECTs of the
    servers table, and its UPDATEs that return the row they changed."""
    seen: list[str] = []
    table = Server.__tablename__

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split()).upper()
        select = text.startswith("SELECT") and f"FROM {table.upper()}" in text
        returned = text.startswith(f"UPDATE {table.upper()}") and " RETURNING " in text
        if select or returned:
            seen.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", record)
    return seen


def booted(services: Services) -> str:
    server_id = add_server(services.db, "p1", 1, 512, "building")
    assert services.compute.server_tasks.boot(running_task(BOOT, server_id)) is None
    return server_id


def test_a_boot_reads_the_server_once_for_its_spec(services: Services) -> None:
    server_id = add_server(services.db, "p1", 1, 512, "building")
    reads = server_reads(services)
    assert services.compute.server_tasks.boot(running_task(BOOT, server_id)) is None
    # the read for the spec (the row its start wrote, returned); the settled state is written
    # by a statement that returns nothing
    assert len(reads) == 1
    with services.db.session() as session:
        row = session.get_one(Server, server_id)
        assert (row.vm_state, row.task_state, row.native_ref is not None) == (
            "active",
            None,
            True,
        )


def test_a_delete_gone_at_the_first_look_ends_in_its_first_step(services: Services) -> None:
    server_id = booted(services)
    with services.db.session() as session:
        session.execute(
            update(Server).where(Server.id == server_id).values(task_state=TaskState.DELETING)
        )
    # the sim deletes at once: the look that follows the delete in the same step finds it gone,
    # so the runner records no phase change in between
    assert services.compute.server_tasks.delete(running_task(DELETE, server_id)) is None
    with services.db.session() as session:
        assert session.get_one(Server, server_id).deleted_at is not None
