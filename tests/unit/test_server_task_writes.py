"""The server tasks make no store round trip their work does not need: a delete whose backend
server is gone at the first look ends the server in the step that deleted it (the runner
records no phase change) and reads its server once, and a boot step reads its server once, for
its spec, and writes the backend server's ref and, where the first look finds it settled, the
settled state in one unit of work, without reading the row."""

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
        # the row itself, not another table's rows a subquery on servers picks
        select = text.startswith("SELECT") and text.split(" FROM ", 1)[-1].startswith(table.upper())
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
    assert len(reads) == 1, reads
    with services.db.session() as session:
        row = session.get_one(Server, server_id)
        assert (row.vm_state, row.task_state, row.native_ref is not None) == (
            "active",
            None,
            True,
        )


def server_writes(services: Services) -> list[str]:
    """The UPDATEs of the servers table the store is sent from now on (each a unit of work of
    its own in a boot step: the sim backend's own statements are left out)."""
    seen: list[str] = []
    table = Server.__tablename__.upper()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split()).upper()
        if text.startswith(f"UPDATE {table} "):
            seen.append(text)

    event.listen(services.db.engine, "before_cursor_execute", record)
    return seen


def test_a_boot_settled_at_its_first_look_keeps_its_ref_and_state_in_one_write(
    services: Services,
) -> None:
    server_id = add_server(services.db, "p1", 1, 512, "building")
    writes = server_writes(services)
    assert services.compute.server_tasks.boot(running_task(BOOT, server_id)) is None
    # its start (SPAWNING, the spec read back), then the ref with the settled state: the
    # backend server is looked at before its ref is kept, so both are one write
    assert len(writes) == 2, writes
    assert "NATIVE_REF=" in writes[1] and "VM_STATE=" in writes[1]


def test_a_delete_gone_at_the_first_look_ends_in_its_first_step(services: Services) -> None:
    server_id = booted(services)
    with services.db.session() as session:
        session.execute(
            update(Server).where(Server.id == server_id).values(task_state=TaskState.DELETING)
        )
    reads = server_reads(services)
    # the sim deletes at once: the look that follows the delete in the same step finds it gone,
    # so the runner records no phase change in between, and the server's ref is not read again
    assert services.compute.server_tasks.delete(running_task(DELETE, server_id)) is None
    assert len(reads) == 1, reads
    with services.db.session() as session:
        assert session.get_one(Server, server_id).deleted_at is not None
