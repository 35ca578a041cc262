"""A task step that runs longer than its lease keeps its task: the runner renews the lease while
the step runs, so another runner's recovery does not hand the task to the queue again (to be
run a second time beside the first), for as long as the step runs; a step whose thread is gone
is renewed no more.

On each database the store supports; the lease is measured by a fake clock, the renewals come
from the keeper's real thread (waited for with a bound, never timed)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from interstack.services import task_leases
from interstack.services.task_leases import LeaseKeeper
from interstack.services.task_runner import TaskRunner
from interstack.services.tasks import RetryAfter, Task, TaskHandler, TaskQueue, TaskStatus
from interstack.store import Database
from tests.support.clock import FakeClock
from tests.support.store import lease_end
from tests.support.waiting import eventually

LEASE = 60.0


def test_a_step_longer_than_its_lease_is_not_taken_by_another_runner(db: Database) -> None:
    clock = FakeClock()
    queue = TaskQueue(db, clock)
    runs: list[str] = []
    other = TaskRunner(db, {}, clock=clock, lease_seconds=LEASE, name="other")

    def slow(task: Task) -> RetryAfter | None:
        runs.append(task.id)
        clock.advance(LEASE + 1)  # the step has run past the lease it was claimed with
        eventually(
            lambda: lease_end(db, task.id),
            lambda end: end is not None and end > clock(),
            "the running step's lease to be renewed",
        )
        assert other.recover() == 0  # not expired: left to its runner
        assert other.claim() is None
        return None

    runner = TaskRunner(
        db,
        {"upload": TaskHandler(slow)},
        clock=clock,
        lease_seconds=LEASE,
        renew_seconds=0.05,
        name="slow",
    )
    task_id = queue.enqueue("upload", "RegionOne", "image-1")
    assert runner.run_one() is True
    assert runs == [task_id]
    assert queue.get(task_id).status is TaskStatus.SUCCEEDED


def claimed(db: Database, clock: FakeClock, runner: str) -> str:
    """A new task, claimed by ``runner`` (which runs no step of it)."""
    task_id = TaskQueue(db, clock).enqueue("upload", "RegionOne", "image-1")
    assert TaskRunner(db, {}, clock=clock, lease_seconds=LEASE, name=runner).claim() is not None
    return task_id


def test_a_lease_another_worker_took_is_not_renewed(db: Database) -> None:
    clock = FakeClock()
    task_id = claimed(db, clock, "first")
    clock.advance(LEASE + 1)
    second = TaskRunner(db, {}, clock=clock, lease_seconds=LEASE, name="second")
    second.recover()
    assert second.claim() is not None
    taken_until = lease_end(db, task_id)
    clock.advance(10)
    LeaseKeeper(db, clock, LEASE).renew([(task_id, "first")])  # the first runner's heartbeat
    assert lease_end(db, task_id) == taken_until


def test_a_step_running_for_hours_is_still_renewed(db: Database) -> None:
    """An upload step running for seven hours keeps its lease while its thread runs it (a
    bound of six hours handed it to another runner, which ran it a second time)."""
    clock = FakeClock()
    task_id = claimed(db, clock, "uploader")
    claimed_until = lease_end(db, task_id)
    keeper = LeaseKeeper(db, clock, LEASE, interval=0.05)
    with keeper.held(task_id, "uploader"):
        clock.advance(7 * 3600)  # the keeper's clock: the step was taken seven hours ago
        eventually(
            lambda: lease_end(db, task_id),
            lambda until: until is not None and claimed_until is not None and until > claimed_until,
            "the lease of the long step renewed",
        )
    eventually(lambda: keeper._thread, lambda thread: thread is None, "the keeper to stop")


def test_a_step_whose_thread_ended_holding_it_is_renewed_no_more(db: Database) -> None:
    """A dead worker's lease expires: a hold whose thread is gone (it never let go) is not
    renewed, and the keeper stops."""
    clock = FakeClock()
    task_id = claimed(db, clock, "dead")
    claimed_until = lease_end(db, task_id)
    clock.advance(10)
    keeper = LeaseKeeper(db, clock, LEASE, interval=0.05)
    hold = keeper.held(task_id, "dead")
    worker = threading.Thread(target=hold.__enter__)  # takes the step, never lets it go
    worker.start()
    worker.join()
    eventually(lambda: keeper._thread, lambda thread: thread is None, "the keeper to stop")
    assert lease_end(db, task_id) == claimed_until


def test_a_renewal_that_fails_is_tried_again(db: Database) -> None:
    """A renewal the database refuses (a connection dropped) is logged and tried again at the
    next look: the keeper's thread goes on renewing while the step runs."""
    clock = FakeClock()
    task_id = claimed(db, clock, "runner")
    claimed_until = lease_end(db, task_id)
    clock.advance(10)
    keeper = LeaseKeeper(db, clock, LEASE, interval=0.05)
    renew = keeper.renew
    failed: list[list[tuple[str, str]]] = []

    def dropped_once(held: list[tuple[str, str]]) -> None:
        if not failed:
            failed.append(held)
            raise ConnectionError("the database connection was dropped")
        renew(held)

    keeper.renew = dropped_once  # type: ignore[method-assign]
    with keeper.held(task_id, "runner"):
        eventually(
            lambda: lease_end(db, task_id),
            lambda until: until is not None and claimed_until is not None and until > claimed_until,
            "the lease renewed after the failed renewal",
        )
    assert failed == [[(task_id, "runner")]]


def test_a_step_running_longer_than_any_step_should_is_warned_of_with_its_stack(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A step hung for ever keeps its lease for ever (no double run), so the keeper shows it:
    past LONG_STEP_SECONDS a warning with the stack of the thread running it, once, then again
    only after LONG_STEP_AGAIN_SECONDS; the lease is still renewed. The keeper's looks are
    taken by the test on the fake clock (its thread sleeps through them)."""
    clock = FakeClock()
    task_id = claimed(db, clock, "runner")
    keeper = LeaseKeeper(db, clock, LEASE, interval=3600.0)

    def warnings() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == task_leases.__name__ and "longer than any step should" in r.getMessage()
        ]

    def a_step_hung_in_its_backend_call() -> None:
        clock.advance(task_leases.LONG_STEP_SECONDS - 1)
        keeper.look()
        assert warnings() == []  # a long step, not yet one to warn of
        clock.advance(1)
        keeper.look()
        clock.advance(task_leases.LONG_STEP_AGAIN_SECONDS - 1)
        keeper.look()
        assert len(warnings()) == 1  # once, not at every look
        clock.advance(1)
        keeper.look()

    caplog.set_level("WARNING", logger=task_leases.__name__)
    try:
        with keeper.held(task_id, "runner"):
            keeper_thread = keeper._thread
            a_step_hung_in_its_backend_call()
            renewed_until = lease_end(db, task_id)
    finally:
        keeper.stop(timeout=30)  # its thread would sleep out the hour's interval
    assert keeper_thread is not None and not keeper_thread.is_alive()
    first, again = warnings()
    assert f"task {task_id}: its step (worker runner) has run for 4:00:00" in first
    assert "a_step_hung_in_its_backend_call" in first  # where the thread is
    assert "has run for 16:00:00" in again
    assert renewed_until == clock() + timedelta(seconds=LEASE)  # and still renewed
