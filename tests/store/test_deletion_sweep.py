"""The sweep of deletions cut short (DeletionSweep) on both databases: at start-up it only
queues a task per marked row, asking no cloud (one that hangs or raises what the gateway does
not map stopped start-up before); the task runner finishes them. A port the cloud refuses
stays marked and its task is retried as other tasks are, finishing it once the cloud answers;
a router the cloud refuses is the API's again, unmarked, as a refused DELETE leaves it; a row
gone between the queueing and the step is no warning, a NotFound of something else with the
row still there is one. The runner's steps are taken by the test on a fake clock."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import event, select, update

from interstack.backends.contract import Backend, NativeRef
from interstack.errors import BackendUnavailable, NotFound
from interstack.services.network import deletion_sweep
from interstack.services.network.deletion_sweep import PORT, ROUTER, DeletionSweep
from interstack.services.network.ports import PortCreate
from interstack.services.task_runner import TaskRunner
from interstack.services.tasks import TaskQueue, TaskStatus
from interstack.store import Database
from interstack.store.models import Port, Router
from tests.support.clock import FakeClock
from tests.support.group_turns import BOUND, lock_waited
from tests.support.routed import REGION, Routed


def _mark(db: Database, model: type[Port] | type[Router], row_id: str) -> None:
    with db.session() as session:
        session.execute(update(model).where(model.id == row_id).values(deleting=True))


def _deleting(db: Database, model: type[Port] | type[Router], row_id: str) -> bool | None:
    with db.session() as session:
        return session.scalar(select(model.deleting).where(model.id == row_id))


class Swept:
    """The sweep of ``routed``'s region and a runner of its tasks, on ``clock``."""

    def __init__(self, db: Database, routed: Routed, clock: FakeClock) -> None:
        services = routed.services
        self.queue = TaskQueue(db, clock)
        self.sweep = DeletionSweep(
            db, services.ports.regions, services.ports, services.routers, "admin", self.queue
        )
        self.runner = TaskRunner(db, self.sweep.handlers(), clock=clock, queue=self.queue)

    def run_due(self) -> None:
        """Every step due now, as the runner's workers would take them."""
        while self.runner.run_one():
            pass


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_refused_cloud_leaves_the_port_marked_and_retried_and_the_router_unmarked(
    db: Database,
    cloud: Backend,
    routed: Routed,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = routed.services
    port = services.ports.create(routed.ctx, REGION, PortCreate(network_id=routed.network_id))
    _mark(db, Port, port.id)
    _mark(db, Router, routed.router_id)
    swept = Swept(db, routed, clock)

    def refused(ref: NativeRef) -> None:
        raise BackendUnavailable("the cloud does not answer")

    with monkeypatch.context() as cloudless:
        cloudless.setattr(cloud.network, "delete_port", refused)
        cloudless.setattr(cloud.network, "delete_router", refused)
        swept.sweep.ensure()
        swept.sweep.ensure()  # a second start with the tasks still pending queues no more
        assert [t.kind for t in swept.queue.for_resource(port.id)] == [PORT]
        assert [t.kind for t in swept.queue.for_resource(routed.router_id)] == [ROUTER]
        with caplog.at_level(logging.WARNING, deletion_sweep.__name__):
            swept.run_due()
    assert _deleting(db, Port, port.id) is True
    assert _deleting(db, Router, routed.router_id) is False
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2, warned
    assert all("is not finished" in m and "the cloud does not answer" in m for m in warned)
    (retried,) = swept.queue.for_resource(port.id)
    assert retried.status is TaskStatus.PENDING  # retried as other tasks are

    clock.advance(60)  # the cloud answers by the retry: the port's deletion is finished
    swept.run_due()
    assert _deleting(db, Port, port.id) is None
    assert swept.queue.for_resource(port.id)[0].status is TaskStatus.SUCCEEDED
    assert _deleting(db, Router, routed.router_id) is False  # the API's again, not deleted


def test_start_up_asks_no_cloud_and_one_raising_the_unmapped_fails_only_its_task(
    db: Database,
    cloud: Backend,
    routed: Routed,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The sweep at start-up queues and returns: the cloud is asked by the task only (one that
    hangs holds a task's step, not the start), and what it raises unmapped (before: through
    start-up, the gateway not started) fails that task; the port stays marked for the next
    start, which queues it again."""
    services = routed.services
    port = services.ports.create(routed.ctx, REGION, PortCreate(network_id=routed.network_id))
    _mark(db, Port, port.id)
    swept = Swept(db, routed, clock)
    asked: list[NativeRef] = []

    def broken(ref: NativeRef) -> None:
        asked.append(ref)
        raise RuntimeError("the cloud's library broke")

    monkeypatch.setattr(cloud.network, "delete_port", broken)
    swept.sweep.ensure()
    assert asked == []  # start-up asked no cloud
    with caplog.at_level(logging.WARNING, deletion_sweep.__name__):
        swept.run_due()
    assert len(asked) == 1
    (failed,) = swept.queue.for_resource(port.id)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None and "the cloud's library broke" in failed.error
    assert _deleting(db, Port, port.id) is True
    assert any("was given up" in r.getMessage() for r in caplog.records)

    monkeypatch.undo()
    swept.sweep.ensure()  # the next start
    swept.run_due()
    assert _deleting(db, Port, port.id) is None


def test_a_deletion_finished_meanwhile_is_no_warning(
    db: Database,
    routed: Routed,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = routed.services
    _mark(db, Router, routed.router_id)
    swept = Swept(db, routed, clock)
    deleting = services.routers.delete

    def finished_first(*args: object) -> None:
        deleting(*args)  # type: ignore[arg-type]  # another replica's, just before this one
        deleting(*args)  # type: ignore[arg-type]  # this sweep's: the router is gone

    monkeypatch.setattr(services.routers, "delete", finished_first)
    swept.sweep.ensure()
    with caplog.at_level(logging.INFO, deletion_sweep.__name__):
        swept.run_due()
    assert _deleting(db, Router, routed.router_id) is None
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "finished meanwhile" in caplog.records[0].getMessage()


def test_a_not_found_with_the_row_still_there_is_a_warning(
    db: Database,
    routed: Routed,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = routed.services
    _mark(db, Router, routed.router_id)
    swept = Swept(db, routed, clock)

    def cloud_lost_something(*args: object) -> None:
        raise NotFound("The cloud's route table could not be found")

    monkeypatch.setattr(services.routers, "delete", cloud_lost_something)
    swept.sweep.ensure()
    with caplog.at_level(logging.INFO, deletion_sweep.__name__):
        swept.run_due()
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "route table" in caplog.records[0].getMessage()


def test_two_replicas_starting_at_once_queue_one_task_per_marked_row(
    db: Database, routed: Routed, clock: FakeClock
) -> None:
    """Two replicas' start-ups at once (PostgreSQL, the replicas' store): the second sweeps
    while the first has looked for tasks and not yet queued its own. It waits for the first
    (seen waiting for a lock in pg_stat_activity, no timing) and then finds its tasks; before,
    each found none and queued one, two tasks for one row."""
    if db.dialect != "postgresql":
        pytest.skip("replicas share a PostgreSQL store only")
    services = routed.services
    port = services.ports.create(routed.ctx, REGION, PortCreate(network_id=routed.network_id))
    _mark(db, Port, port.id)
    _mark(db, Router, routed.router_id)
    first, second = Swept(db, routed, clock), Swept(db, routed, clock)
    waited = lock_waited(db)
    others: list[threading.Thread] = []
    at_rest = threading.Event()

    def second_start() -> None:
        try:
            second.sweep.ensure()
        finally:
            at_rest.set()

    def the_second_meanwhile(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        mine = threading.current_thread() is threading.main_thread()
        if mine and not others and statement.lstrip().upper().startswith("INSERT INTO TASKS"):
            others.append(threading.Thread(target=second_start, name="second-replica"))
            others[0].start()
            deadline = time.monotonic() + BOUND
            while not at_rest.wait(0.02) and not waited():
                assert time.monotonic() < deadline, "the second start neither ended nor waited"

    event.listen(db.engine, "before_cursor_execute", the_second_meanwhile)
    try:
        first.sweep.ensure()
    finally:
        event.remove(db.engine, "before_cursor_execute", the_second_meanwhile)
        for thread in others:
            thread.join(BOUND)
    assert others and not others[0].is_alive()
    assert [t.kind for t in first.queue.for_resource(port.id)] == [PORT]
    assert [t.kind for t in first.queue.for_resource(routed.router_id)] == [ROUTER]
