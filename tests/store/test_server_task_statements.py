"""The server tasks' statements built once (services/compute/server_statements.py) on each kind
of database the store supports: a boot step starts and settles its server and finishes its
instance action, a step never writes over a delete under way, and a delete ends the server only
when the backend server it removed is still the server's, whose ref its start hands it as it
found it with its write; a server is read for its show and lists as plain rows, its project's
alone (or an admin's), and deleted by one task however many deletes ask."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, update

from interstack.errors import NotFound
from interstack.services.compute.common import started_event
from interstack.services.compute.server_tasks import BOOT, DELETE
from interstack.services.compute.servers import ServerFilters
from interstack.services.compute.state import TaskState
from interstack.services.container import Services
from interstack.services.context import operator_context
from interstack.services.listing import Page
from interstack.services.tasks import TaskStatus, utcnow
from interstack.store.models import InstanceAction, Server
from interstack.store.models import Task as TaskRow
from tests.support.compute import add_server, running_task
from tests.support.image import started_services

REGION = "RegionOne"


@pytest.fixture
def services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    # the backend settles at once, as EC2's emulator does
    sim = {"boot_delay_seconds": 0}
    with started_services(tmp_path / "data", sim, database_url) as started:
        yield started


def created(services: Services) -> tuple[str, str]:
    """A building server with its create action started, as the API writes them."""
    server_id, action_id = add_server(services.db, "p1", 1, 512, "building"), str(uuid.uuid4())
    now = utcnow()
    with services.db.session() as session:
        session.get_one(Server, server_id).task_state = TaskState.SCHEDULING
        session.add(
            InstanceAction(
                id=action_id,
                server_id=server_id,
                project_id="p1",
                user_id="u",
                request_id=f"req-{uuid.uuid4()}",
                action="create",
                events=[started_event("build")],
                start_time=now,
                updated_at=now,
            )
        )
    return server_id, action_id


def test_a_boot_settles_its_server_and_finishes_its_action(services: Services) -> None:
    server_id, action_id = created(services)
    payload = {"action_id": action_id}
    assert services.compute.server_tasks.boot(running_task(BOOT, server_id, payload)) is None
    with services.db.session() as session:
        row = session.get_one(Server, server_id)
        assert (row.vm_state, row.task_state, row.power_state, row.fault) == (
            "active",
            None,
            1,
            None,
        )
        assert row.native_ref is not None and row.launched_at is not None
        action = session.get_one(InstanceAction, action_id)
        assert [(e["event"], e["result"]) for e in action.events] == [("build", "Success")]
        assert action.events[0]["finish_time"] is not None and action.message is None


def test_a_boot_step_leaves_a_server_being_deleted_to_its_delete(services: Services) -> None:
    server_id, action_id = created(services)
    with services.db.session() as session:
        session.execute(
            update(Server).where(Server.id == server_id).values(task_state=TaskState.DELETING)
        )
    boot = running_task(BOOT, server_id, {"action_id": action_id})
    assert services.compute.server_tasks.boot(boot) is None
    with services.db.session() as session:
        row = session.get_one(Server, server_id)
        assert (row.task_state, row.native_ref) == (TaskState.DELETING, None)


def test_a_delete_ends_the_server_it_removed_the_backend_server_of(services: Services) -> None:
    server_id, action_id = created(services)
    assert services.compute.server_tasks.boot(running_task(BOOT, server_id)) is None
    with services.db.session() as session:
        row = session.get_one(Server, server_id)
        row.task_state = TaskState.DELETING
        ref = row.native_ref
    # a delete that removed another backend server than the one recorded goes back to it
    other = running_task(DELETE, server_id, {"phase": "finish", "ref": "another"})
    outcome = services.compute.server_tasks.delete(other)
    assert outcome is not None and outcome.payload is not None
    assert outcome.payload["phase"] == "backend"
    delete = running_task(DELETE, server_id, {"action_id": action_id})
    assert services.compute.server_tasks.delete(delete) is None
    with services.db.session() as session:
        row = session.get_one(Server, server_id)
        assert row.deleted_at is not None and row.vm_state == "deleted"
        assert row.native_ref == ref
        action = session.get_one(InstanceAction, action_id)
        assert [e["result"] for e in action.events] == ["Success"]


def test_a_server_is_shown_and_listed_to_its_project_alone(services: Services) -> None:
    server_id, _action_id = created(services)
    servers = services.compute.servers
    owner = replace(operator_context("p1"), roles=("member", "reader"))
    stranger = replace(operator_context("p2"), roles=("member", "reader"))
    shown = servers.get(owner, REGION, server_id)
    assert (shown.id, shown.project_id, shown.flavor["vcpus"]) == (server_id, "p1", 1)
    with pytest.raises(NotFound):
        servers.get(stranger, REGION, server_id)
    with pytest.raises(NotFound):
        servers.get(owner, "another-region", server_id)
    for ctx, seen in ((owner, [server_id]), (stranger, [])):
        for detail in (True, False):
            page = servers.list(ctx, REGION, ServerFilters(), Page(), detail=detail)
            assert [s.id for s in page.servers] == seen
    named = servers.list(owner, REGION, ServerFilters(name="^s$"), Page(), detail=True)
    assert [s.id for s in named.servers] == [server_id]
    assert servers.get(operator_context("p2"), REGION, server_id).id == server_id  # an admin


def test_a_second_delete_of_a_server_starts_no_second_task(services: Services) -> None:
    server_id, _action_id = created(services)
    owner = replace(operator_context("p1"), roles=("member", "reader"))
    stranger = replace(operator_context("p2"), roles=("member", "reader"))
    with pytest.raises(NotFound):
        services.compute.servers.delete(stranger, REGION, server_id)
    services.compute.servers.delete(owner, REGION, server_id)
    services.compute.servers.delete(owner, REGION, server_id)
    with services.db.session() as session:
        kinds = session.scalars(select(TaskRow.kind).where(TaskRow.resource_id == server_id))
        assert list(kinds) == [DELETE]
        assert session.get_one(Server, server_id).task_state in (TaskState.DELETING, None)


def test_a_delete_hands_its_task_the_backend_server_it_found_with_its_start(
    services: Services,
) -> None:
    server_id, _action_id = created(services)
    assert services.compute.server_tasks.boot(running_task(BOOT, server_id)) is None
    with services.db.session() as session:
        ref = session.get_one(Server, server_id).native_ref
    owner = replace(operator_context("p1"), roles=("member", "reader"))
    services.compute.servers.delete(owner, REGION, server_id)
    (task,) = services.tasks.for_resource(server_id)[-1:]
    # read with the write of DELETING: the first step deletes it without reading it again,
    # and finishes the delete's action with the events the payload carries, not read either
    assert task.payload["found"] == {"ref": ref, "launched": True}
    assert [e["event"] for e in task.payload["action_events"]] == ["compute_terminate_instance"]
    reads: list[str] = []

    def read(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split())
        if text.startswith(("SELECT compute_servers.", "SELECT compute_instance_actions.")):
            reads.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", read)
    step = services.compute.server_tasks.delete(replace(task, status=TaskStatus.RUNNING))
    assert step is None and reads == []
    with services.db.session() as session:
        assert session.get_one(Server, server_id).deleted_at is not None
        action = session.get_one(InstanceAction, task.payload["action_id"])
        assert [(e["event"], e["result"]) for e in action.events] == [
            ("compute_terminate_instance", "Success")
        ]
