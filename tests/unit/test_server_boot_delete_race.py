"""A server deleted while its boot step is creating it in the backend: whichever of the two
tasks writes last, the backend server is deleted and the server ends deleted, never waited on.

The steps are interleaved by hand at the moment the race needs (inside the backend's
``create_server``), so each order is run every time, not only when a loaded host happens to;
each with a backend server that settles at the boot step's first look and with one that does
not, and on EC2's emulator. A rebuild's step that boots the server's new backend server keeps
it as a boot does."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import update

from interstack.backends.aws.compute import AwsCompute
from interstack.backends.aws.native_ids import unwrapped
from interstack.backends.contract import NativeRef, ServerInfo, ServerSpec
from interstack.errors import BackendError, NotFound
from interstack.services.compute import server_tasks
from interstack.services.compute.server_statements import START_DELETE
from interstack.services.compute.server_tasks import BOOT, DELETE, REBUILD, found
from interstack.services.compute.state import TaskState, VmState
from interstack.services.compute.task_steps import server_spec
from interstack.services.container import Services
from interstack.services.tasks import Task, utcnow
from interstack.store import run_core
from interstack.store.models import Server
from tests.backends.aws.support import aws_region_services
from tests.support.compute import add_server, running_task
from tests.support.image import started_services
from tests.support.moto import ec2

REGION = "RegionOne"
#: a flavor of each backend: an aws region's flavors are its instance types
FLAVOR = "t3.nano"
#: far more steps than a delete needs; a delete still looking after these waits forever
STEP_BOUND = 20


@pytest.fixture(params=[1.0, 0.0, None], ids=["settles later", "settles at once", "aws"])
def services(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Services]:
    """A backend whose server settles after the boot step's first look (the step keeps the
    ref alone), or at it (the ref with the settled state), as EC2's emulator's does."""
    if request.param is None:
        with aws_region_services(tmp_path / "data", REGION) as started:
            yield started
        return
    sim = {"boot_delay_seconds": request.param}
    with started_services(tmp_path / "data", sim=sim) as started:
        yield started


def building_server(services: Services) -> str:
    server_id = add_server(services.db, "p1", 1, 512, "building", FLAVOR)
    with services.db.session() as session:
        session.execute(
            update(Server).where(Server.id == server_id).values(task_state=TaskState.SCHEDULING)
        )
    return server_id


def start_delete(services: Services, server_id: str) -> Task:
    """What the API's delete does: the server is DELETING and its delete task starts from what
    that write found (its backend server's ref as of then)."""
    with services.db.session() as session:
        started = run_core(session, START_DELETE, {"server_id": server_id, "now": utcnow()}).one()
    return running_task(DELETE, server_id, {"found": found(started)})


def step(services: Services, running: Task) -> Task | None:
    """Run one step of a delete task; the task with its next payload, or None when done."""
    outcome = services.compute.server_tasks.delete(running)
    if outcome is None:
        return None
    return replace(running, payload=dict(outcome.payload or running.payload))


def run_to_end(services: Services, running: Task | None) -> None:
    for _ in range(STEP_BOUND):
        if running is None:
            return
        running = step(services, running)
    pytest.fail(f"the delete still waits after {STEP_BOUND} steps: {running}")


def while_creating(services: Services, meanwhile: Callable[[], None]) -> list[ServerInfo]:
    """Make the backend's create_server run ``meanwhile`` once it has created the server, before
    the boot step gets the answer; the created servers are listed in the returned list."""
    compute = services.regions.backend(REGION).compute
    create = compute.create_server
    made: list[ServerInfo] = []

    def create_then(spec: ServerSpec) -> ServerInfo:
        info = create(spec)
        made.append(info)
        meanwhile()
        return info

    compute.create_server = create_then  # type: ignore[method-assign]
    return made


def backend_has(services: Services, ref: NativeRef) -> bool:
    try:
        services.regions.backend(REGION).compute.get_server(ref)
    except NotFound:
        return False
    return True


def left_in_backend(services: Services, server_id: str) -> list[NativeRef]:
    """The backend servers of the server still there (on EC2's emulator: its live instances
    as EC2 itself lists them, not as the driver does)."""
    compute = services.regions.backend(REGION).compute
    if not isinstance(unwrapped(compute), AwsCompute):
        return [s.ref for s in compute.list_servers() if s.gateway_id == server_id]
    tagged = [{"Name": "tag:openstack_id", "Values": [server_id]}]
    reply = ec2().describe_instances(Filters=tagged)
    instances = [i for r in reply["Reservations"] for i in r["Instances"]]
    return [NativeRef(i["InstanceId"]) for i in instances if i["State"]["Name"] != "terminated"]


def deleted(services: Services, server_id: str) -> bool:
    with services.db.session() as session:
        row = session.get(Server, server_id)
        return row is not None and row.deleted_at is not None


def test_a_delete_that_finishes_while_the_backend_creates_leaves_no_backend_server(
    services: Services,
) -> None:
    server_id = building_server(services)
    made = while_creating(services, lambda: run_to_end(services, start_delete(services, server_id)))

    assert services.compute.server_tasks.boot(running_task(BOOT, server_id)) is None

    assert deleted(services, server_id)
    assert len(made) == 1
    assert not backend_has(services, made[0].ref)
    assert left_in_backend(services, server_id) == []


def test_a_delete_that_looked_before_the_boot_recorded_its_server_deletes_that_server(
    services: Services,
) -> None:
    server_id = building_server(services)
    # the delete comes while the backend creates the server: its first step finds no backend
    # server yet, and then the boot records the one it made
    delete: list[Task | None] = []
    made = while_creating(
        services, lambda: delete.append(step(services, start_delete(services, server_id)))
    )

    services.compute.server_tasks.boot(running_task(BOOT, server_id))
    with services.db.session() as session:  # the boot kept its server: the delete is not done
        row = session.get(Server, server_id)
        assert row is not None and row.native_ref == made[0].ref and row.deleted_at is None
        assert row.task_state == TaskState.DELETING  # not settled over the delete's state
    assert backend_has(services, made[0].ref)
    run_to_end(services, delete[0])

    assert deleted(services, server_id)
    assert not backend_has(services, made[0].ref)
    assert left_in_backend(services, server_id) == []


def test_a_delete_starting_while_the_boot_step_reads_the_server_stays_deleting(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's delete comes between the boot step's look at the server and its SPAWNING; the
    boot's write must not put SPAWNING over DELETING."""
    server_id = building_server(services)
    deleting: list[threading.Thread] = []

    def spec_while_deleting(row: Server) -> ServerSpec:
        if not deleting:
            # another request's thread: it waits while the boot step holds the server for its
            # change, and otherwise writes DELETING at once
            deleting.append(threading.Thread(target=start_delete, args=(services, server_id)))
            deleting[0].start()
            deleting[0].join(timeout=1.0)
        return server_spec(row)

    monkeypatch.setattr(server_tasks, "server_spec", spec_while_deleting)
    services.compute.server_tasks.boot(running_task(BOOT, server_id))
    deleting[0].join()

    with services.db.session() as session:
        assert session.get_one(Server, server_id).task_state == TaskState.DELETING


def rebuilding_server(services: Services) -> tuple[str, NativeRef]:
    """A server that booted (its backend server made and settled once) and is being rebuilt;
    its id and its backend server's ref, the one the rebuild's first step deletes."""
    server_id = add_server(services.db, "p1", 1, 512, VmState.ACTIVE, FLAVOR)
    with services.db.session() as session:
        row = session.get_one(Server, server_id)
        made = services.regions.backend(REGION).compute.create_server(server_spec(row))
        row.native_ref = made.ref
        row.launched_at = utcnow()
        row.task_state = TaskState.REBUILDING
    return server_id, made.ref


def rebuild_to_boot(services: Services, server_id: str, old: NativeRef) -> Task:
    """The rebuild's task once its first step deleted the old backend server: its next step
    boots the new one."""
    rebuilding = running_task(REBUILD, server_id, {"phase": "delete"})
    outcome = services.compute.server_tasks.rebuild(rebuilding)
    assert outcome is not None and outcome.payload is not None
    assert outcome.payload["phase"] == "gone"
    assert not backend_has(services, old)
    return replace(rebuilding, payload=dict(outcome.payload))


def recorded_ref(services: Services, server_id: str) -> str | None:
    with services.db.session() as session:
        return session.get_one(Server, server_id).native_ref


def test_a_delete_that_finishes_while_a_rebuild_boots_leaves_no_backend_server(
    services: Services,
) -> None:
    server_id, old = rebuilding_server(services)
    rebuilding = rebuild_to_boot(services, server_id, old)
    made = while_creating(services, lambda: run_to_end(services, start_delete(services, server_id)))

    assert services.compute.server_tasks.rebuild(rebuilding) is None

    assert deleted(services, server_id)
    assert [info.ref != old for info in made] == [True]
    assert left_in_backend(services, server_id) == []


def test_a_delete_started_while_a_rebuild_boots_deletes_the_new_backend_server(
    services: Services,
) -> None:
    """The delete's start comes while the backend makes the rebuilt server: it found the old
    backend server (deleted already), and the rebuild keeps the new one for the delete task,
    which must not end the server leaving that one behind."""
    server_id, old = rebuilding_server(services)
    rebuilding = rebuild_to_boot(services, server_id, old)
    delete: list[Task] = []
    made = while_creating(services, lambda: delete.append(start_delete(services, server_id)))

    services.compute.server_tasks.rebuild(rebuilding)
    assert recorded_ref(services, server_id) == made[0].ref != old  # kept for the delete
    run_to_end(services, delete[0])

    assert deleted(services, server_id)
    assert left_in_backend(services, server_id) == []


def test_a_boot_whose_first_look_fails_leaves_its_backend_server_to_the_delete(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backend made the server and then refuses to show it (EC2 refusing a describe):
    the task fails, and the server's delete must find the backend server to remove."""
    server_id = building_server(services)
    compute = services.regions.backend(REGION).compute
    shown = compute.get_server

    def refused(ref: NativeRef) -> ServerInfo:
        raise BackendError(f"describe_instances {ref} refused")

    monkeypatch.setattr(compute, "get_server", refused)
    booting: Task | None = running_task(BOOT, server_id)
    with pytest.raises(BackendError):  # the runner fails the task at the look that fails
        for _ in range(STEP_BOUND):
            assert booting is not None
            outcome = services.compute.server_tasks.boot(booting)
            assert outcome is not None
            booting = replace(booting, payload=dict(outcome.payload or booting.payload))
    assert booting is not None
    services.compute.server_tasks.boot_failed(booting, "describe_instances refused")
    monkeypatch.setattr(compute, "get_server", shown)
    assert left_in_backend(services, server_id) != []  # what the boot made

    run_to_end(services, start_delete(services, server_id))

    assert deleted(services, server_id)
    assert left_in_backend(services, server_id) == []


def test_a_rebuild_step_cut_short_after_keeping_its_server_goes_on_to_wait_for_it(
    services: Services,
) -> None:
    """The gateway died after the rebuild's step kept the new backend server, before the
    runner kept its next phase: the step runs again from the same payload."""
    server_id, old = rebuilding_server(services)
    rebuilding = rebuild_to_boot(services, server_id, old)
    made = while_creating(services, lambda: None)
    services.compute.server_tasks.rebuild(rebuilding)  # its outcome lost with the gateway

    again = services.compute.server_tasks.rebuild(rebuilding)

    assert again is not None and again.payload is not None
    assert again.payload["phase"] == "wait"
    assert [info.ref for info in made] == [recorded_ref(services, server_id)]
    assert left_in_backend(services, server_id) == [made[0].ref]


def test_a_boot_failing_while_its_server_is_deleted_leaves_the_server_to_the_delete(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backend refuses the create after the server's delete started: the failed boot must
    not put the server in ERROR over DELETING (a second DELETE would start a second delete)."""
    server_id = building_server(services)
    delete: list[Task] = []
    compute = services.regions.backend(REGION).compute

    def refused(_spec: ServerSpec) -> ServerInfo:
        delete.append(start_delete(services, server_id))
        raise BackendError("run_instances refused")

    monkeypatch.setattr(compute, "create_server", refused)
    with pytest.raises(BackendError):
        services.compute.server_tasks.boot(running_task(BOOT, server_id))
    services.compute.server_tasks.boot_failed(running_task(BOOT, server_id), "refused")

    with services.db.session() as session:
        assert session.get_one(Server, server_id).task_state == TaskState.DELETING
    run_to_end(services, delete[0])
    assert deleted(services, server_id)
