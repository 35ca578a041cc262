"""The persisted task runner, one claim at a time: outcomes, retries, leases and the runners
that lose them (who runs a task, in which thread, is test_task_workers.py's).

Every test runs on each database the store supports (this package's conftest.py). Time is a
fake clock.
"""

from __future__ import annotations

from datetime import timedelta

from interstack.errors import BackendUnavailable, Conflict
from interstack.services.task_runner import MAX_STEPS_IN_A_ROW, TaskRunner
from interstack.services.tasks import (
    RetryAfter,
    Task,
    TaskHandler,
    TaskQueue,
    TaskStatus,
)
from interstack.store import Database
from tests.support.clock import FakeClock


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
    stale = runner._candidates(clock() + timedelta(seconds=10))
    assert runner.run_one() is True  # meanwhile: it ran and is pending again, due in 10 s
    runner._candidates = lambda now: stale  # type: ignore[method-assign]
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
