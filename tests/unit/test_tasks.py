"""The persisted task runner: outcomes, retries, leases, crashes and concurrency.

Every test runs on each database the store supports (the ``database_url`` fixture of
tests/conftest.py: SQLite and PostgreSQL). Time is a fake clock except where real worker threads
run; those wait with bounded loops and never assert on durations.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest

from interstack.errors import BackendUnavailable, Conflict
from interstack.services.task_runner import MAX_STEPS_IN_A_ROW, TaskRunner
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
from tests.support.store import migrated_store
from tests.support.waiting import eventually


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """On each kind of database, not the unit tests' SQLite store alone."""
    with migrated_store(database_url) as database:
        yield database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


#: how long the tests below wait for real worker threads (a bound, not a timing check)
WORKER_BOUND = 60.0


def succeeded(status: TaskStatus) -> bool:
    return status is TaskStatus.SUCCEEDED


def test_a_task_runs_once_and_succeeds(db: Database, clock: FakeClock) -> None:
    seen: list[Task] = []

    def run(task: Task) -> None:
        seen.append(task)

    queue = TaskQueue(db, clock)
    runner = TaskRunner(db, {"boot": TaskHandler(run)}, clock=clock)
    task_id = queue.enqueue("boot", "RegionOne", "server-1", {"flavor": "m1"})

    assert runner.run_one() is True
    assert runner.run_one() is False

    assert [(t.id, t.resource_id, t.payload, t.attempts) for t in seen] == [
        (task_id, "server-1", {"flavor": "m1"}, 1)
    ]
    done = queue.get(task_id)
    assert done.status is TaskStatus.SUCCEEDED
    assert done.error is None
    assert [t.id for t in queue.for_resource("server-1")] == [task_id]


def test_a_task_is_not_claimed_before_it_is_due(db: Database, clock: FakeClock) -> None:
    queue = TaskQueue(db, clock)
    runner = TaskRunner(db, {"boot": TaskHandler(lambda task: None)}, clock=clock)
    task_id = queue.enqueue("boot", "RegionOne", "server-1", delay_seconds=10)

    assert runner.run_one() is False
    clock.advance(10)
    assert runner.run_one() is True
    assert queue.get(task_id).status is TaskStatus.SUCCEEDED


def test_a_stale_candidate_rescheduled_meanwhile_is_not_taken_early(
    db: Database, clock: FakeClock
) -> None:
    """Compare-and-set claiming reads candidates first; one that another worker ran and put
    back to pending for later in between must wait for its new time."""
    queue = TaskQueue(db, clock)
    runner = TaskRunner(db, {"boot": TaskHandler(lambda task: RetryAfter(10))}, clock=clock)
    queue.enqueue("boot", "RegionOne", "server-1", {})
    # the candidates as read before the other worker's step: they list the task
    stale = runner._due(clock() + timedelta(seconds=10))
    assert runner.run_one() is True  # meanwhile: it ran and is pending again, due in 10 s
    runner._due = lambda now: stale  # type: ignore[method-assign]
    lease = clock() + timedelta(seconds=60)
    assert runner._claim_compare_and_set("other", clock(), lease) is None
    clock.advance(10)
    taken = runner._claim_compare_and_set("other", clock(), lease + timedelta(seconds=10))
    assert taken is not None


def test_hurry_makes_a_resources_waiting_task_due_now(db: Database, clock: FakeClock) -> None:
    """A backend that saw a server settle has its boot task looked at without waiting out
    the poll delay; other resources' tasks keep theirs."""
    queue = TaskQueue(db, clock)
    runner = TaskRunner(db, {"boot": TaskHandler(lambda task: RetryAfter(30))}, clock=clock)
    mine = queue.enqueue("boot", "RegionOne", "server-1")
    other = queue.enqueue("boot", "RegionOne", "server-2")
    assert runner.run_one() is True
    assert runner.run_one() is True
    assert runner.run_one() is False  # both wait 30 s

    seen = queue.wakeup.generation
    queue.hurry("server-1")

    assert queue.wakeup.generation != seen  # an idle worker looks again
    assert queue.get(mine).run_after == clock()
    assert queue.get(other).run_after == clock() + timedelta(seconds=30)
    assert runner.run_one() is True
    assert runner.run_one() is False


def test_a_step_running_while_its_resource_is_hurried_looks_again_at_once(
    db: Database, clock: FakeClock
) -> None:
    """The backend's word can come while a step that just looked is still ending: the step's
    own "again in 30 s" must not swallow it."""
    queue = TaskQueue(db, clock)

    def look(task: Task) -> RetryAfter:
        queue.hurry("server-1")  # the server settled right after this step looked
        return RetryAfter(30)

    runner = TaskRunner(db, {"boot": TaskHandler(look)}, clock=clock, queue=queue)
    task_id = queue.enqueue("boot", "RegionOne", "server-1")
    assert runner.run_one() is True

    assert queue.get(task_id).run_after == clock()
    assert queue.wakeup.hurried("server-1") is False  # taken by the runner


def test_retry_after_reschedules_with_the_new_payload(db: Database, clock: FakeClock) -> None:
    payloads: list[dict[str, object]] = []

    def run(task: Task) -> RetryAfter | None:
        payloads.append(dict(task.payload))
        if task.payload.get("step") == "created":
            return None
        return RetryAfter(30, {"step": "created", "ref": "native-1"})

    queue = TaskQueue(db, clock)
    runner = TaskRunner(db, {"boot": TaskHandler(run)}, clock=clock)
    task_id = queue.enqueue("boot", "RegionOne", "server-1", {"step": "new"})

    assert runner.run_one() is True
    waiting = queue.get(task_id)
    assert waiting.status is TaskStatus.PENDING
    assert waiting.run_after == clock.now + timedelta(seconds=30)
    assert waiting.attempts == 0  # a step that completed does not count as a failed attempt
    assert runner.run_one() is False

    clock.advance(30)
    assert runner.run_one() is True
    assert queue.get(task_id).status is TaskStatus.SUCCEEDED
    assert payloads == [{"step": "new"}, {"step": "created", "ref": "native-1"}]


def test_a_step_moving_on_at_once_is_followed_by_the_next_under_the_same_claim(
    db: Database, clock: FakeClock
) -> None:
    """The next phase runs in the same worker without going back to the queue, but only after
    its payload is recorded: a crash between the steps resumes at the new phase."""
    queue = TaskQueue(db, clock)
    recorded: list[tuple[dict[str, object], TaskStatus, int]] = []

    def run(task: Task) -> RetryAfter | None:
        stored = queue.get(task.id)
        recorded.append((dict(stored.payload), stored.status, task.attempts))
        phase = task.payload.get("phase", "create")
        if phase == "create":
            return RetryAfter(0, {"phase": "look"})
        if phase == "look":
            return RetryAfter(30, {"phase": "look", "looked": True})
        return None

    runner = TaskRunner(db, {"boot": TaskHandler(run)}, clock=clock)
    task_id = queue.enqueue("boot", "RegionOne", "server-1", {})

    assert runner.run_one() is True
    assert recorded == [
        ({}, TaskStatus.RUNNING, 1),
        ({"phase": "look"}, TaskStatus.RUNNING, 1),  # recorded before it ran, still claimed
    ]
    waiting = queue.get(task_id)  # a step that looks again later goes back to the queue
    assert (waiting.status, waiting.payload) == (
        TaskStatus.PENDING,
        {"phase": "look", "looked": True},
    )
    assert runner.run_one() is False


def test_a_task_moving_on_at_once_forever_is_handed_back_to_the_queue(
    db: Database, clock: FakeClock
) -> None:
    steps: list[int] = []

    def run(task: Task) -> RetryAfter:
        steps.append(int(task.payload.get("step", 0)))
        return RetryAfter(0, {"step": len(steps)})

    queue = TaskQueue(db, clock)
    runner = TaskRunner(db, {"boot": TaskHandler(run)}, clock=clock)
    task_id = queue.enqueue("boot", "RegionOne", "server-1", {})

    assert runner.run_one() is True
    assert steps == list(range(MAX_STEPS_IN_A_ROW))
    assert queue.get(task_id).status is TaskStatus.PENDING


def test_a_worker_that_lost_the_lease_does_not_carry_on(db: Database, clock: FakeClock) -> None:
    queue = TaskQueue(db, clock)
    ran: list[str] = []

    def run(task: Task) -> RetryAfter | None:
        ran.append(task.payload.get("phase", "first"))
        clock.advance(61)  # a step slower than the lease: another runner takes over meanwhile
        other.recover()
        assert other.claim() is not None
        return RetryAfter(0, {"phase": "second"})

    slow = TaskRunner(db, {"boot": TaskHandler(run)}, clock=clock, lease_seconds=60, name="a")
    other = TaskRunner(db, {}, clock=clock, lease_seconds=60, name="b")
    task_id = queue.enqueue("boot", "RegionOne", "server-1", {})

    assert slow.run_one() is True
    assert ran == ["first"]
    assert queue.get(task_id).payload == {}  # the new owner's task is left as it took it


def test_transient_errors_are_retried_then_fail_with_the_error(
    db: Database, clock: FakeClock
) -> None:
    calls = 0
    failures: list[tuple[str, str]] = []

    def run(task: Task) -> None:
        nonlocal calls
        calls += 1
        raise BackendUnavailable("the cloud API timed out")

    handler = TaskHandler(run, on_failure=lambda task, error: failures.append((task.id, error)))
    queue = TaskQueue(db, clock)
    runner = TaskRunner(db, {"boot": handler}, clock=clock, max_attempts=3)
    task_id = queue.enqueue("boot", "RegionOne", "server-1")

    for _ in range(10):
        runner.run_one()
        clock.advance(120)

    failed = queue.get(task_id)
    assert calls == 3
    assert failed.status is TaskStatus.FAILED
    assert failed.attempts == 3
    assert failed.error == "gave up after 3 attempts: the cloud API timed out"
    assert failures == [(task_id, failed.error)]


def test_other_errors_fail_at_once(db: Database, clock: FakeClock) -> None:
    def run(task: Task) -> None:
        raise Conflict("volume vol-1 is attached to another server")

    queue = TaskQueue(db, clock)
    runner = TaskRunner(db, {"attach": TaskHandler(run)}, clock=clock, max_attempts=5)
    task_id = queue.enqueue("attach", "RegionOne", "vol-1")

    assert runner.run_one() is True
    clock.advance(3600)
    assert runner.run_one() is False
    failed = queue.get(task_id)
    assert (failed.status, failed.attempts) == (TaskStatus.FAILED, 1)
    assert failed.error == "volume vol-1 is attached to another server"


def test_a_kind_without_handler_fails_loudly(db: Database, clock: FakeClock) -> None:
    queue = TaskQueue(db, clock)
    runner = TaskRunner(db, {}, clock=clock)
    task_id = queue.enqueue("teleport", "RegionOne", "server-1")

    assert runner.run_one() is True
    failed = queue.get(task_id)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None and "'teleport'" in failed.error


def test_an_expired_lease_is_resumed_by_another_runner(db: Database, clock: FakeClock) -> None:
    runs: list[str] = []

    def run(task: Task) -> None:
        runs.append(task.id)

    handlers = {"boot": TaskHandler(run)}
    queue = TaskQueue(db, clock)
    crashed = TaskRunner(db, handlers, clock=clock, lease_seconds=60, name="crashed")
    survivor = TaskRunner(db, handlers, clock=clock, lease_seconds=60, name="survivor")
    task_id = queue.enqueue("boot", "RegionOne", "server-1")

    claimed = crashed.claim()  # ... and the gateway dies before running the step
    assert claimed is not None and claimed.id == task_id

    clock.advance(59)
    assert survivor.recover() == 0
    assert survivor.run_one() is False  # the lease still holds

    clock.advance(2)
    assert survivor.recover() == 1
    assert queue.get(task_id).status is TaskStatus.PENDING
    assert survivor.run_one() is True
    resumed = queue.get(task_id)
    assert (resumed.status, resumed.attempts) == (TaskStatus.SUCCEEDED, 2)
    assert runs == [task_id]


def test_a_runner_that_lost_its_lease_cannot_overwrite_the_new_owner(
    db: Database, clock: FakeClock
) -> None:
    def fail(task: Task) -> None:
        raise Conflict("late and wrong")

    queue = TaskQueue(db, clock)
    slow = TaskRunner(db, {"boot": TaskHandler(fail)}, clock=clock, lease_seconds=60, name="slow")
    fast = TaskRunner(
        db, {"boot": TaskHandler(lambda task: None)}, clock=clock, lease_seconds=60, name="fast"
    )
    task_id = queue.enqueue("boot", "RegionOne", "server-1")

    stale = slow.claim()
    assert stale is not None
    clock.advance(61)
    fast.recover()
    fresh = fast.claim()
    assert fresh is not None

    slow.execute(stale)  # finishes late: its outcome must be discarded
    assert queue.get(task_id).status is TaskStatus.RUNNING
    fast.execute(fresh)
    assert queue.get(task_id).status is TaskStatus.SUCCEEDED


def test_a_task_abandoned_too_often_fails(db: Database, clock: FakeClock) -> None:
    failures: list[str] = []
    handler = TaskHandler(lambda task: None, on_failure=lambda task, error: failures.append(error))
    queue = TaskQueue(db, clock)
    task_id = queue.enqueue("boot", "RegionOne", "server-1")

    for attempt in range(2):
        dying = TaskRunner(
            db, {"boot": handler}, clock=clock, lease_seconds=60, max_attempts=2, name=f"r{attempt}"
        )
        assert dying.claim() is not None
        clock.advance(61)
        assert dying.recover() == 1

    failed = queue.get(task_id)
    assert failed.status is TaskStatus.FAILED
    assert failed.error is not None and failed.error.startswith("abandoned after 2 attempts")
    assert failures == [failed.error]


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
    queue, runner, ran_in = served_queue(db, clock)
    task_id = queue.enqueue("boot", "RegionOne", "server-1", run_here=True)
    assert runner.run_one() is False  # the workers leave it to the request

    queue.run_now(task_id)

    assert ran_in == [threading.get_ident()]
    assert queue.get(task_id).status is TaskStatus.SUCCEEDED


def test_a_task_its_request_cannot_run_is_due_for_the_workers(
    db: Database, clock: FakeClock
) -> None:
    """No runner in this process, or the runner stopping: the workers take the task at once."""
    alone = TaskQueue(db, clock)  # no runner runs here
    first = alone.enqueue("boot", "RegionOne", "server-1", run_here=True)
    alone.run_now(first)
    assert alone.get(first).run_after == clock()

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
