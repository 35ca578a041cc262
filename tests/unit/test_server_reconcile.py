"""The reconciler: its comparison of store servers with a backend's list, and its passes over
a sim backend and a store (no gateway needed)."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from interstack.backends.contract import (
    BackendContext,
    FlavorSpec,
    NativeRef,
    ServerInfo,
    ServerSpec,
    ServerStatus,
)
from interstack.backends.sim import SimBackend
from interstack.services.compute.reconcile import (
    LOST,
    Drift,
    ServerReconciler,
    StoredServer,
    drifts,
    orphans,
)
from interstack.services.compute.state import PowerState, TaskState, VmState
from interstack.services.regions import Regions
from interstack.services.tasks import TaskQueue, utcnow
from interstack.store import Database
from interstack.store.models import Server as ServerRow
from interstack.store.models import SimResource

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def stored(vm_state: VmState, power: PowerState) -> StoredServer:
    return StoredServer("srv-1", vm_state, power, NativeRef("ref-1"), WHEN)


def listed(status: ServerStatus, ref: str = "ref-1", fault: str | None = None) -> ServerInfo:
    return ServerInfo(NativeRef(ref), "srv-1", status, fault)


def test_an_active_server_the_backend_reports_stopped_becomes_stopped() -> None:
    server = stored(VmState.ACTIVE, PowerState.RUNNING)
    assert drifts([server], [listed(ServerStatus.STOPPED)]) == [
        Drift(server, VmState.STOPPED, PowerState.SHUTDOWN)
    ]


@pytest.mark.parametrize("vm_state", [VmState.PAUSED, VmState.SUSPENDED])
def test_a_paused_or_suspended_server_found_stopped_becomes_stopped(vm_state: VmState) -> None:
    server = stored(vm_state, PowerState.PAUSED)
    [drift] = drifts([server], [listed(ServerStatus.STOPPED)])
    assert (drift.vm_state, drift.power_state) == (VmState.STOPPED, PowerState.SHUTDOWN)


def test_a_running_server_whose_guest_crashed_is_stopped_with_the_crashed_power_state() -> None:
    """Nova records the hypervisor's CRASHED and stops the server; it stays CRASHED while
    stopped (a later pass changes nothing), and a plain stop is SHUTDOWN."""
    crashed = ServerInfo(NativeRef("ref-1"), "srv-1", ServerStatus.STOPPED, crashed=True)
    server = stored(VmState.ACTIVE, PowerState.RUNNING)
    assert drifts([server], [crashed]) == [Drift(server, VmState.STOPPED, PowerState.CRASHED)]
    assert drifts([stored(VmState.STOPPED, PowerState.CRASHED)], [crashed]) == []
    plain = stored(VmState.STOPPED, PowerState.CRASHED)
    assert drifts([plain], [listed(ServerStatus.STOPPED)]) == [
        Drift(plain, VmState.STOPPED, PowerState.SHUTDOWN)
    ]


def test_a_server_whose_instance_is_gone_is_error_with_a_lost_fault() -> None:
    server = stored(VmState.ACTIVE, PowerState.RUNNING)
    for backend in ([], [listed(ServerStatus.DELETED)], [listed(ServerStatus.ACTIVE, "other")]):
        assert drifts([server], backend) == [Drift(server, VmState.ERROR, PowerState.NOSTATE, LOST)]
    assert "lost" in LOST


def test_a_server_the_backend_reports_in_error_takes_its_fault() -> None:
    server = stored(VmState.ACTIVE, PowerState.RUNNING)
    [drift] = drifts([server], [listed(ServerStatus.ERROR, fault="disk failed")])
    assert (drift.vm_state, drift.fault) == (VmState.ERROR, "disk failed")


def test_a_stopped_server_found_running_keeps_its_vm_state_and_records_the_power() -> None:
    server = stored(VmState.STOPPED, PowerState.SHUTDOWN)
    assert drifts([server], [listed(ServerStatus.ACTIVE)]) == [
        Drift(server, VmState.STOPPED, PowerState.RUNNING)
    ]


def test_servers_that_agree_or_are_in_transition_are_left_alone() -> None:
    running, stopped = listed(ServerStatus.ACTIVE), listed(ServerStatus.STOPPED)
    assert drifts([stored(VmState.ACTIVE, PowerState.RUNNING)], [running]) == []
    assert drifts([stored(VmState.STOPPED, PowerState.SHUTDOWN)], [stopped]) == []
    for status in (ServerStatus.BUILDING, ServerStatus.REBOOTING):
        assert drifts([stored(VmState.ACTIVE, PowerState.RUNNING)], [listed(status)]) == []
    # already in ERROR: a missing instance changes nothing more
    assert drifts([stored(VmState.ERROR, PowerState.NOSTATE)], []) == []
    # building and resized servers belong to their tasks
    assert drifts([stored(VmState.BUILDING, PowerState.NOSTATE)], []) == []
    assert drifts([stored(VmState.RESIZED, PowerState.RUNNING)], []) == []


def test_orphans_are_tagged_backend_servers_the_store_never_had() -> None:
    known = ServerInfo(NativeRef("ref-1"), "srv-1", ServerStatus.ACTIVE)
    stray = ServerInfo(NativeRef("ref-2"), "srv-2", ServerStatus.STOPPED)
    assert orphans([known, stray], {"srv-1"}) == [stray]


# --- against a sim backend and a store --------------------------------------------------------


@pytest.fixture
def sim(db: Database, tmp_path: Path) -> SimBackend:
    return SimBackend(
        BackendContext(region="r", settings={"boot_delay_seconds": 0}, data_dir=tmp_path, db=db)
    )


@pytest.fixture
def reconciler(db: Database, sim: SimBackend) -> ServerReconciler:
    return ServerReconciler(db, Regions({"r": sim}), interval=0)


def active_server(db: Database, sim: SimBackend, task_state: TaskState | None = None) -> str:
    """A server ACTIVE in the store and running in the sim."""
    server_id = str(uuid.uuid4())
    spec = ServerSpec(server_id, "s", "p", FlavorSpec(1, 64, 1), image=None)
    info = sim.compute.create_server(spec)
    now = utcnow()
    with db.session() as session:
        session.add(
            ServerRow(
                id=server_id, region="r", project_id="p", user_id="u", name="s", flavor_id="1",
                vm_state=VmState.ACTIVE, task_state=task_state, power_state=PowerState.RUNNING,
                availability_zone="nova", reservation_id="r-1", native_ref=info.ref,
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
    return server_id


def backend_stops(db: Database, server_id: str) -> None:
    with db.session() as session:
        row = session.scalars(select(SimResource).where(SimResource.gateway_id == server_id)).one()
        row.status, row.pending_status = "stopped", None


def stored_row(db: Database, server_id: str) -> ServerRow:
    with db.session() as session:
        row = session.get(ServerRow, server_id)
        assert row is not None
        session.expunge(row)
        return row


def test_a_pass_corrects_an_idle_server_and_never_one_with_a_task(
    db: Database, sim: SimBackend, reconciler: ServerReconciler
) -> None:
    idle, queued = active_server(db, sim), active_server(db, sim)
    busy = active_server(db, sim, TaskState.REBOOTING)
    TaskQueue(db).enqueue("server.reboot", "r", queued)
    for server_id in (idle, busy, queued):
        backend_stops(db, server_id)

    assert reconciler.run() == 1
    assert stored_row(db, idle).vm_state == VmState.STOPPED
    assert stored_row(db, idle).power_state == PowerState.SHUTDOWN
    for server_id in (busy, queued):
        assert stored_row(db, server_id).vm_state == VmState.ACTIVE
    assert reconciler.run() == 0


def test_a_server_changed_after_the_store_was_read_is_left_for_the_next_pass(
    db: Database, sim: SimBackend, reconciler: ServerReconciler, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_id = active_server(db, sim)
    backend_stops(db, server_id)
    listing = sim.compute.list_servers

    def a_task_finishes_meanwhile() -> list[ServerInfo]:
        listed = listing()
        with db.session() as session:
            row = session.get(ServerRow, server_id)
            assert row is not None
            row.updated_at = utcnow() + timedelta(seconds=1)
        return listed

    monkeypatch.setattr(sim.compute, "list_servers", a_task_finishes_meanwhile)
    assert reconciler.run() == 0
    assert stored_row(db, server_id).vm_state == VmState.ACTIVE


def test_a_lost_instance_is_error_and_an_orphan_is_logged_once(
    db: Database, sim: SimBackend, reconciler: ServerReconciler, caplog: pytest.LogCaptureFixture
) -> None:
    lost = active_server(db, sim)
    orphan = sim.compute.create_server(
        ServerSpec("stray-1", "s", "p", FlavorSpec(1, 64, 1), image=None)
    )
    with db.session() as session:
        session.delete(
            session.scalars(select(SimResource).where(SimResource.gateway_id == lost)).one()
        )

    caplog.set_level(logging.WARNING, "interstack.services.compute.reconcile")
    assert reconciler.run() == 1
    row = stored_row(db, lost)
    assert row.vm_state == VmState.ERROR and row.fault is not None
    assert row.fault["message"] == LOST
    reconciler.run()
    assert [r.message for r in caplog.records].count(
        f"region r: backend servers unknown to the store (left for `interstack cleanup`): "
        f"{orphan.ref} (gateway id stray-1)"
    ) == 1
    assert {info.gateway_id for info in sim.compute.list_servers()} == {"stray-1"}


def test_start_returns_before_the_first_pass_which_runs_in_the_background(
    db: Database, sim: SimBackend, reconciler: ServerReconciler, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_id = active_server(db, sim)
    backend_stops(db, server_id)
    listing, listed, release = sim.compute.list_servers, threading.Event(), threading.Event()

    def a_slow_backend() -> list[ServerInfo]:
        listed.set()
        assert release.wait(30)
        return listing()

    monkeypatch.setattr(sim.compute, "list_servers", a_slow_backend)
    reconciler.start()  # returns while the backend is still being listed: serving need not wait
    assert listed.wait(30)
    assert stored_row(db, server_id).vm_state == VmState.ACTIVE
    release.set()
    reconciler.stop()  # joins the pass
    assert stored_row(db, server_id).vm_state == VmState.STOPPED
