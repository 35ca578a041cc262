"""Who runs a persisted task: the runner's worker threads (resumed after a crash, stopped,
woken when work arrives, never two at once) and the request that made it (its first step).

Every test runs on each database the store supports (this package's conftest.py). Worker
threads are real here: the tests wait with bounded loops and never assert on durations.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest

from interstack.errors import Conflict
from interstack.services.task_runner import TaskRunner
from interstack.services.tasks import (
    RUN_HERE_SECONDS,
    RetryAfter,
    Task,
    TaskHandler,
    TaskQueue,
    TaskStatus,
    utcnow,
)
from interstack.store import Database
from tests.support.clock import FakeClock
from tests.support.store import lease_end
from tests.support.waiting import eventually

#: how long the tests below wait for real worker threads (a bound, not a timing check)
WORKER_BOUND = 60.0


def succeeded(status: TaskStatus) -> bool:
    return status is TaskStatus.SUCCEEDED


def test_start_resumes_tasks_of_a_crashed_gateway(db: Database) -> None:
    an_hour_ago = utcnow() - timedelta(hours=1)
    queue = TaskQueue(db)
    task_id = TaskQueue(db, lambda: an_hour_ago).enqueue("boot", "RegionOne", "server-1")
    crashed = TaskRunner(
        db, {}, clock=lambda: an_hour_ago, lease_seconds=60, name="crashed-gateway"
    )
    assert crashed.claim() is not None  # lease ended 59 minutes ago

    done = threading.Event()
    runner = TaskRunner(db, {"boot": TaskHandler(lambda task: done.set())}, poll_seconds=0.01)
    runner.start()
    try:
        eventually(lambda: queue.get(task_id).status, succeeded, "resumed task", WORKER_BOUND)
    finally:
        runner.stop()
    assert done.is_set()


def test_stop_lets_the_running_step_finish(db: Database) -> None:
    started, release = threading.Event(), threading.Event()

    def run(task: Task) -> None:
        started.set()
        release.wait(30)

    queue = TaskQueue(db)
    task_id = queue.enqueue("boot", "RegionOne", "server-1")
    runner = TaskRunner(db, {"boot": TaskHandler(run)}, workers=1, poll_seconds=0.01)
    runner.start()
    eventually(started.is_set, bool, "the step to start", WORKER_BOUND)

    stopper = threading.Thread(target=runner.stop)
    stopper.start()
    assert queue.get(task_id).status is TaskStatus.RUNNING
    release.set()
    stopper.join(30)
    assert not stopper.is_alive()
    assert queue.get(task_id).status is TaskStatus.SUCCEEDED


def test_stop_ends_the_lease_keepers_thread(db: Database) -> None:
    """The keeper's thread, started for the step, ends with the runner's stop: it would
    otherwise sleep out its interval (a third of the lease: 100 s) after the last step."""
    keepers: list[threading.Thread | None] = []
    runner = TaskRunner(db, {}, workers=1, poll_seconds=0.01)
    runner.handlers = {"boot": TaskHandler(lambda task: keepers.append(runner.leases._thread))}
    queue = TaskQueue(db)
    task_id = queue.enqueue("boot", "RegionOne", "server-1")
    runner.start()
    try:
        eventually(lambda: queue.get(task_id).status, succeeded, "the step", WORKER_BOUND)
    finally:
        runner.stop()
    (keeper,) = keepers
    assert keeper is not None and not keeper.is_alive()
    assert runner.leases._thread is None


def test_a_step_outlasting_stop_keeps_its_lease_renewed_until_it_ends(db: Database) -> None:
    """A worker still busy when stop gives up on it keeps its step's lease renewed (expired,
    another replica would run the step twice): the keeper's thread ends after the step."""
    started, release = threading.Event(), threading.Event()

    def run(task: Task) -> None:
        started.set()
        release.wait(WORKER_BOUND)

    queue = TaskQueue(db)
    task_id = queue.enqueue("boot", "RegionOne", "server-1")
    runner = TaskRunner(
        db, {"boot": TaskHandler(run)}, workers=1, poll_seconds=0.01, renew_seconds=0.05
    )
    runner.start()
    eventually(started.is_set, bool, "the step to start", WORKER_BOUND)
    keeper = runner.leases._thread
    assert keeper is not None
    runner.stop(timeout=0)  # gives up on the busy worker at once
    stopped_at = lease_end(db, task_id)
    eventually(
        lambda: lease_end(db, task_id),
        lambda until: until is not None and stopped_at is not None and until > stopped_at,
        "the lease renewed after the stop",
        WORKER_BOUND,
    )
    release.set()
    eventually(lambda: queue.get(task_id).status, succeeded, "the step", WORKER_BOUND)
    keeper.join(WORKER_BOUND)
    assert not keeper.is_alive()


def test_concurrent_runners_never_run_a_task_twice(db: Database) -> None:
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def run(task: Task) -> None:
        with lock:
            runs[task.id] += 1
        time.sleep(0.001)  # widen the window in which a double claim would show

    queue = TaskQueue(db)
    task_ids = {queue.enqueue("boot", "RegionOne", f"server-{i}") for i in range(120)}
    runners = [
        TaskRunner(db, {"boot": TaskHandler(run)}, workers=4, poll_seconds=0.01, name=f"gw{i}")
        for i in range(2)
    ]
    for runner in runners:
        runner.start()
    try:
        every = len(task_ids)
        eventually(lambda: sum(runs.values()), lambda n: n >= every, "every run", WORKER_BOUND)
    finally:
        for runner in runners:
            runner.stop()

    assert set(runs) == task_ids
    assert [task for task, count in runs.items() if count != 1] == []
    assert {queue.get(t).status for t in task_ids} == {TaskStatus.SUCCEEDED}


# -- waking idle workers ----------------------------------------------------------------------
# The runners below look for due tasks every 300 s on their own: a task that runs within the
# WORKER_BOUND (60 s) was found because something woke the worker, not because it polled.


def test_an_enqueued_task_wakes_an_idle_worker(db: Database) -> None:
    ran = threading.Event()
    queue = TaskQueue(db)
    runner = TaskRunner(
        db, {"boot": TaskHandler(lambda task: ran.set())}, poll_seconds=300, queue=queue
    )
    runner.start()
    try:
        time.sleep(0.1)  # the workers found nothing and went idle
        task_id = queue.enqueue("boot", "RegionOne", "server-1")
        eventually(ran.is_set, bool, "the woken worker to run the task", WORKER_BOUND)
    finally:
        runner.stop()
    assert queue.get(task_id).status is TaskStatus.SUCCEEDED


def test_a_task_enqueued_in_a_request_wakes_a_worker_once_committed(db: Database) -> None:
    seen: list[str] = []
    queue = TaskQueue(db)
    runner = TaskRunner(
        db,
        {"boot": TaskHandler(lambda task: seen.append(task.id))},
        poll_seconds=300,
        queue=queue,
    )
    runner.start()
    try:
        time.sleep(0.1)
        with db.session() as session:  # the request's unit of work: resource row + task row
            task_id = queue.enqueue("boot", "RegionOne", "server-1", session=session)
            generation = queue.wakeup.generation
        assert generation == queue.wakeup.generation - 1  # woken by the commit, not before
        what = "the task committed with the request to run"
        eventually(lambda: seen, lambda ran: ran == [task_id], what, WORKER_BOUND)
    finally:
        runner.stop()


def test_a_task_rolled_back_with_its_request_wakes_nobody(db: Database) -> None:
    queue = TaskQueue(db)
    before = queue.wakeup.generation
    with pytest.raises(Conflict), db.session() as session:
        queue.enqueue("boot", "RegionOne", "server-1", session=session)
        raise Conflict("the request failed after enqueueing")
    assert queue.wakeup.generation == before
    assert queue.for_resource("server-1") == []


def test_a_step_asking_to_look_again_soon_runs_again_then(db: Database) -> None:
    steps: list[int] = []

    def run(task: Task) -> RetryAfter | None:
        steps.append(int(task.payload.get("step", 0)))
        return RetryAfter(0.05, {"step": len(steps)}) if len(steps) < 3 else None

    queue = TaskQueue(db)
    runner = TaskRunner(db, {"boot": TaskHandler(run)}, poll_seconds=300, queue=queue)
    runner.start()
    try:
        task_id = queue.enqueue("boot", "RegionOne", "server-1")
        eventually(lambda: queue.get(task_id).status, succeeded, "three steps", WORKER_BOUND)
    finally:
        runner.stop()
    assert steps == [0, 1, 2]


def test_stop_wakes_idle_workers(db: Database) -> None:
    runner = TaskRunner(db, {}, poll_seconds=300)
    runner.start()
    stopper = threading.Thread(target=runner.stop, kwargs={"timeout": 60})
    stopper.start()
    stopper.join(60)
    assert not stopper.is_alive()
    assert runner.live_workers == 0


# -- a first step made by the request that made the task ---------------------------------------


def served_queue(db: Database, clock: FakeClock) -> tuple[TaskQueue, TaskRunner, list[int]]:
    """A queue with a runner in this process, and the threads its boot handler ran in."""
    ran_in: list[int] = []
    queue = TaskQueue(db, clock)
    handler = TaskHandler(lambda task: ran_in.append(threading.get_ident()))
    runner = TaskRunner(db, {"boot": handler}, clock=clock, queue=queue)
    return queue, runner, ran_in


def test_a_task_its_request_runs_is_left_to_it_and_runs_in_its_thread(
    db: Database, clock: FakeClock
) -> None:
    """Nothing wakes the workers: a wake-up would cost each a look for due tasks and a look
    for the next one due, for nothing."""
    queue, runner, ran_in = served_queue(db, clock)
    asleep = queue.wakeup.generation
    task_id = queue.enqueue("boot", "RegionOne", "server-1", run_here=True)
    assert runner.run_one() is False  # the workers leave it to the request

    queue.run_now(task_id)

    assert ran_in == [threading.get_ident()]
    assert queue.get(task_id).status is TaskStatus.SUCCEEDED
    assert queue.wakeup.generation == asleep


def test_a_task_its_request_cannot_run_is_due_for_the_workers(
    db: Database, clock: FakeClock
) -> None:
    """No runner in this process, or the runner stopping: the workers take the task at once."""
    alone = TaskQueue(db, clock)  # no runner runs here
    first = alone.enqueue("boot", "RegionOne", "server-1", run_here=True)
    asleep = alone.wakeup.generation
    alone.run_now(first)
    assert alone.get(first).run_after == clock()
    assert alone.wakeup.generation != asleep  # an idle worker looks now

    queue, runner, ran = served_queue(db, clock)
    second = queue.enqueue("boot", "RegionOne", "server-2", run_here=True)
    runner.stop()
    queue.run_now(second)
    assert ran == []
    assert queue.get(second).run_after == clock()


def test_a_task_a_worker_took_is_not_run_again_by_its_request(
    db: Database, clock: FakeClock
) -> None:
    """The request stopped long enough that a worker took its task: the request leaves it."""
    queue, runner, ran = served_queue(db, clock)
    task_id = queue.enqueue("boot", "RegionOne", "server-1", run_here=True)
    clock.advance(RUN_HERE_SECONDS)
    assert runner.claim("worker-1") is not None

    queue.run_now(task_id)

    assert ran == []
    assert queue.get(task_id).status is TaskStatus.RUNNING
