"""The task runner: worker threads that claim due tasks and run their handlers' steps.

Claiming: each claim sets ``locked_by`` (the runner's worker name) and ``locked_until`` (the
lease) and counts an attempt. On PostgreSQL a claim is ``SELECT … FOR UPDATE SKIP LOCKED``, so
replicas never wait on each other; on SQLite it is a compare-and-set ``UPDATE … WHERE status =
'pending'`` that only one writer can win. Every later write of the step is fenced by
``locked_by``: a runner whose lease expired and was taken over cannot overwrite the new owner.
While a step runs its lease is renewed (:class:`~interstack.services.task_leases.LeaseKeeper`),
so a step longer than the lease is not run again beside itself; only a runner that stopped
loses its tasks.

Waiting: an idle worker sleeps until the next task is due, or until this process commits or
reschedules a task (:class:`~interstack.services.task_wakeup.TaskWakeup`), at most
``poll_seconds``; a handler waiting for a backend spaces its looks as the region's backend
declares (:class:`~interstack.backends.contract.Polling`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, Update, bindparam, func, select, update
from sqlalchemy.orm import Session

from interstack.errors import BackendUnavailable, InterstackError
from interstack.services.task_leases import LeaseKeeper
from interstack.services.task_wakeup import TaskWakeup
from interstack.services.tasks import (
    Clock,
    Task,
    TaskHandler,
    TaskQueue,
    TaskStatus,
    make_due,
    utcnow,
)
from interstack.store import Database, run_core, table_of
from interstack.store.models import Task as TaskRow

log = logging.getLogger(__name__)


#: how many steps of one task a worker runs in a row when each asks to go on at once, before it
#: hands the task back to the queue (a handler that never settles cannot hold a worker)
MAX_STEPS_IN_A_ROW = 20

_TABLE = table_of(TaskRow)
_TASKS = _TABLE.c
_WHEN = _TASKS.updated_at.type


def _claiming(*, due: bool) -> Update:
    """A claim's one write (built once: :func:`run_core`): the task, if still pending (and
    ``due``: due at ``now``), marked running for ``worker`` until ``lease``, with the row as
    written returned (one statement, not a read after it)."""
    now = bindparam("now", type_=_WHEN)
    when = [_TASKS.run_after <= now] if due else []
    return (
        update(_TABLE)
        .where(_TASKS.id == bindparam("task_id"), _TASKS.status == TaskStatus.PENDING.value, *when)
        .values(
            status=TaskStatus.RUNNING.value,
            locked_by=bindparam("worker", type_=_TASKS.locked_by.type),
            locked_until=bindparam("lease", type_=_WHEN),
            attempts=_TASKS.attempts + 1,
            updated_at=now,
        )
        .returning(*_TASKS)
    )


#: the pending tasks due at ``now``, the longest due first: a worker's candidates (a few, for
#: SQLite's compare-and-set claims) or, on PostgreSQL, the one it locks, skipping those locked
_DUE = (
    select(_TASKS.id)
    .where(
        _TASKS.status == TaskStatus.PENDING.value,
        _TASKS.run_after <= bindparam("now", type_=_WHEN),
    )
    .order_by(_TASKS.run_after, _TASKS.created_at)
    .limit(8)
)
_DUE_LOCKED = _DUE.limit(1).with_for_update(skip_locked=True)
#: when the next pending task falls due
_NEXT_DUE = select(func.min(_TASKS.run_after)).where(_TASKS.status == TaskStatus.PENDING.value)
_CLAIM_DUE = _claiming(due=True)
_CLAIM_ANY = _claiming(due=False)
#: a write of a step's outcome, fenced by ``worker``: the columns it sets are the keys of the
#: parameters (as Core does for an UPDATE without ``values``), the row as written returned
_CHANGE_OWNED = (
    update(_TABLE)
    .where(
        _TASKS.id == bindparam("task_id"),
        _TASKS.status == TaskStatus.RUNNING.value,
        _TASKS.locked_by == bindparam("worker", type_=_TASKS.locked_by.type),
    )
    .returning(*_TASKS)
)


@dataclass
class TaskRunner:
    """Worker threads that claim due tasks and run their handlers.

    ``start()`` resumes or fails the tasks whose lease expired (a gateway that crashed
    mid-task), then starts ``workers`` threads. ``stop()`` stops claiming, lets each running
    step finish, and joins. :meth:`run_one` runs a single task in the calling thread (tests).
    """

    db: Database
    handlers: Mapping[str, TaskHandler]
    workers: int = 2
    lease_seconds: float = 300.0
    #: how often the lease of a running step is renewed; None: a third of the lease
    renew_seconds: float | None = None
    poll_seconds: float = 0.5
    max_attempts: int = 5
    #: first backoff after a transient error; doubles per attempt, capped at 60 s
    backoff_seconds: float = 2.0
    clock: Clock = utcnow
    #: the queue of this process: what it enqueues wakes this runner (its wake-up is the
    #: runner's), and the first steps its requests make themselves (:meth:`TaskQueue.run_now`)
    #: run here; without one, only ``poll_seconds`` and :meth:`stop` wake the workers
    queue: TaskQueue | None = None
    name: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    )

    def __post_init__(self) -> None:
        self.wakeup = TaskWakeup() if self.queue is None else self.queue.wakeup
        if self.queue is not None:
            self.queue.run_by(self.run_now)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_recovery: datetime | None = None
        self.leases = LeaseKeeper(self.db, self.clock, self.lease_seconds, self.renew_seconds)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        self._stopping.clear()
        self._threads = []
        for index in range(self.workers):
            thread = threading.Thread(
                target=self._work,
                args=(f"{self.name}/{index}", index == 0),
                name=f"interstack-task-{index}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        log.info("task runner %s started with %d workers", self.name, self.workers)

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop claiming, join the workers, then the lease keeper's thread (it would sleep out
        its interval, a third of the lease, after the last step). A worker still busy after
        ``timeout`` keeps its step's lease renewed (expired, another replica would run the
        step twice): the keeper then ends by itself at its first look after that step."""
        self._stopping.set()
        self.wakeup.notify()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("task worker %s still busy after %s s", thread.name, timeout)
        self.leases.stop(timeout)

    @property
    def live_workers(self) -> int:
        """How many worker threads are running now."""
        return sum(thread.is_alive() for thread in self._threads)

    def _work(self, worker: str, recovers: bool) -> None:
        while not self._stopping.is_set():
            seen = self.wakeup.generation
            idle = self.poll_seconds
            try:
                if recovers and self._recovery_due():
                    self.recover()
                if self.run_one(worker):
                    continue
                idle = self._idle_seconds()
            except Exception:
                log.exception("task worker %s: step failed outside a handler", worker)
            if not self._stopping.is_set():
                self.wakeup.wait(seen, idle)

    def _idle_seconds(self) -> float:
        """How long a worker that found nothing due may sleep: until the next pending task is
        due, at most ``poll_seconds``."""
        with self.db.session() as session:
            due: datetime | None = run_core(session, _NEXT_DUE).scalar()
        if due is None:
            return self.poll_seconds
        return max(0.005, min(self.poll_seconds, (due - self.clock()).total_seconds()))

    def _recovery_due(self) -> bool:
        interval = timedelta(seconds=max(1.0, self.lease_seconds / 4))
        return self._last_recovery is None or self.clock() - self._last_recovery >= interval

    # -- recovery ----------------------------------------------------------------------------

    def recover(self) -> int:
        """Resume running tasks whose lease expired; fail those out of attempts. Returns how
        many tasks were touched."""
        now = self.clock()
        self._last_recovery = now
        with self.db.session() as session:
            expired = list(
                session.scalars(
                    select(TaskRow.id).where(
                        TaskRow.status == TaskStatus.RUNNING, TaskRow.locked_until < now
                    )
                )
            )
        failed: list[tuple[Task, str]] = []
        touched = 0
        for task_id in expired:
            with self.db.session() as session:
                row = session.get(TaskRow, task_id)
                if row is None or row.status != TaskStatus.RUNNING:
                    continue
                if row.locked_until is None or row.locked_until >= now:
                    continue
                previous = row.locked_by
                row.locked_by = None
                row.locked_until = None
                row.updated_at = now
                if row.attempts >= self.max_attempts:
                    row.status = TaskStatus.FAILED
                    row.error = (
                        f"abandoned after {row.attempts} attempts: the runner holding it "
                        f"({previous}) stopped before finishing"
                    )
                    failed.append((Task.from_row(row), row.error))
                else:
                    row.status = TaskStatus.PENDING
                    row.run_after = now
                touched += 1
                log.warning("task %s (%s): lease of %s expired", row.id, row.kind, previous)
        for task, error in failed:
            self._notify_failure(task, error)
        return touched

    # -- claiming ----------------------------------------------------------------------------

    def claim(self, worker: str | None = None) -> Task | None:
        """Take one due pending task for ``worker`` (default: this runner), or ``None``."""
        worker = worker or self.name
        now = self.clock()
        lease = now + timedelta(seconds=self.lease_seconds)
        if self.db.dialect == "postgresql":
            return self._claim_skip_locked(worker, now, lease)
        return self._claim_compare_and_set(worker, now, lease)

    def _claim_skip_locked(self, worker: str, now: datetime, lease: datetime) -> Task | None:
        with self.db.session() as session:
            task_id = run_core(session, _DUE_LOCKED, {"now": now}).scalar()
            return None if task_id is None else self._take(session, task_id, worker, now, lease)

    def _candidates(self, now: datetime) -> list[str]:
        """A few pending tasks due at ``now``, the longest due first, for compare-and-set."""
        with self.db.session() as session:
            return list(run_core(session, _DUE, {"now": now}).scalars())

    def _claim_compare_and_set(self, worker: str, now: datetime, lease: datetime) -> Task | None:
        for task_id in self._candidates(now):
            with self.db.session() as session:
                if (task := self._take(session, task_id, worker, now, lease)) is not None:
                    return task
            # else another worker won this one
        return None

    @staticmethod
    def _take(
        session: Session,
        task_id: str,
        worker: str,
        now: datetime,
        lease: datetime,
        *,
        due: bool = True,
    ) -> Task | None:
        """The task marked running for ``worker``, if it is still pending (and ``due``: due
        now) (every claim's one write)."""
        # still due: a candidate another worker ran and rescheduled meanwhile is pending
        # again, but not before its new run_after
        params = {"task_id": task_id, "worker": worker, "lease": lease, "now": now}
        row = run_core(session, _CLAIM_DUE if due else _CLAIM_ANY, params).one_or_none()
        return None if row is None else Task.from_row(row)

    # -- running -----------------------------------------------------------------------------

    def run_one(self, worker: str | None = None) -> bool:
        """Claim one due task and run its step. Returns whether there was one."""
        worker = worker or self.name
        task = self.claim(worker)
        if task is None:
            return False
        self.execute(task, worker)
        return True

    def run_now(self, task_id: str) -> bool:
        """Claim the pending task ``task_id``, due or not (the workers leave a task its request
        runs for a while: :meth:`TaskQueue.run_now`), and run its step (and the steps that
        follow at once) in the calling thread, as a worker would. False if it is not pending
        (another worker has it) or the runner is stopping."""
        if self._stopping.is_set():
            return False
        worker = f"{self.name}/request-{threading.get_ident()}"
        now = self.clock()
        with self.db.session() as session:
            lease = now + timedelta(seconds=self.lease_seconds)
            task = self._take(session, task_id, worker, now, lease, due=False)
        if task is None:
            return False
        self.execute(task, worker)
        return True

    def execute(self, task: Task, worker: str | None = None) -> None:
        """Run a claimed task's step and record the outcome.

        A step that moves on at once (``RetryAfter(0, …)``: a boot that made its server and
        looks at it next) is followed by the next step in this worker under the same lease,
        its payload recorded first; handing it back to the queue would cost a claim and a
        worker's wake-up per step. At most :data:`MAX_STEPS_IN_A_ROW` run so, and none once
        the runner is stopping. The lease is renewed while the steps run.
        """
        worker = worker or self.name
        following: Task | None = task
        steps = 0
        with self.leases.held(task.id, worker):
            while following is not None:
                steps += 1
                carry_on = steps < MAX_STEPS_IN_A_ROW and not self._stopping.is_set()
                following = self._step(following, worker, carry_on)

    def _step(self, task: Task, worker: str, carry_on: bool) -> Task | None:
        """One step and its outcome; the task again (its next step due now) when ``carry_on``
        and the step asked to go on at once."""
        handler = self.handlers.get(task.kind)
        if handler is None:
            self._finish(
                task, worker, error=f"no handler is registered for task kind {task.kind!r}"
            )
            return None
        started = time.perf_counter()
        if log.isEnabledFor(logging.DEBUG):
            late = (self.clock() - task.run_after).total_seconds()
            log.debug(
                "task %s (%s %s): step starts %.3f s after due",
                task.id,
                task.kind,
                task.resource_id,
                late,
            )
        try:
            outcome = handler.run(task)
        except BackendUnavailable as exc:
            if task.attempts >= self.max_attempts:
                self._finish(
                    task, worker, error=f"gave up after {task.attempts} attempts: {exc.message}"
                )
            else:
                delay = min(60.0, self.backoff_seconds * 2 ** (task.attempts - 1))
                self._reschedule(task, worker, delay, None, error=exc.message, reset=False)
            return None
        except InterstackError as exc:
            self._finish(task, worker, error=exc.message)
            return None
        except Exception as exc:
            log.exception("task %s (%s) failed unexpectedly", task.id, task.kind)
            self._finish(task, worker, error=f"unexpected error: {type(exc).__name__}: {exc}")
            return None
        log.debug(
            "task %s (%s %s): step took %.3f s, %s",
            task.id,
            task.kind,
            task.resource_id,
            time.perf_counter() - started,
            "done" if outcome is None else f"again in {outcome.seconds:.3f} s",
        )
        if outcome is None:
            self._finish(task, worker, error=None)
        elif outcome.seconds <= 0 and carry_on:
            return self._carry_on(task, worker, outcome.payload)
        else:
            self._reschedule(task, worker, outcome.seconds, outcome.payload, error=None, reset=True)
        return None

    def _carry_on(self, task: Task, worker: str, payload: Mapping[str, Any] | None) -> Task | None:
        """Record that the task's next step is due now and keep it: the lease renewed, the
        attempts counted as for a fresh claim. ``None`` if the lease was lost meanwhile."""
        now = self.clock()
        values: dict[str, Any] = {
            "run_after": now,
            "locked_until": now + timedelta(seconds=self.lease_seconds),
            "attempts": 1,
            "error": None,
            "updated_at": now,
        }
        if payload is not None:
            values["payload"] = dict(payload)
        with self.db.session() as session:
            row = self._change_owned(session, task, worker, values)
            return None if row is None else Task.from_row(row)

    @staticmethod
    def _change_owned(
        session: Session, task: Task, worker: str, values: Mapping[str, Any]
    ) -> Row[Any] | None:
        """The task's row changed by ``values`` if ``worker`` still runs it (its lease not
        lost to another worker), else ``None``: one statement, the row as written returned
        with the write (not a read for the check, then a write)."""
        params = {**values, "task_id": task.id, "worker": worker}
        row = run_core(session, _CHANGE_OWNED, params).one_or_none()
        if row is None:
            log.warning("task %s (%s): lost its lease before the step ended", task.id, task.kind)
        return row

    def _finish(self, task: Task, worker: str, *, error: str | None) -> None:
        now = self.clock()
        values = {
            "status": TaskStatus.FAILED if error is not None else TaskStatus.SUCCEEDED,
            "error": error,
            "locked_by": None,
            "locked_until": None,
            "updated_at": now,
        }
        with self.db.session() as session:
            row = self._change_owned(session, task, worker, values)
            if row is None:
                return
            final = Task.from_row(row)
        self.wakeup.hurried(task.resource_id)  # forgotten: nothing of it is left to hurry
        if error is not None:
            log.warning("task %s (%s) failed: %s", task.id, task.kind, error)
            self._notify_failure(final, error)

    def _reschedule(
        self,
        task: Task,
        worker: str,
        seconds: float,
        payload: Mapping[str, Any] | None,
        *,
        error: str | None,
        reset: bool,
    ) -> None:
        now = self.clock()
        values: dict[str, Any] = {
            "status": TaskStatus.PENDING,
            "run_after": now + timedelta(seconds=seconds),
            "locked_by": None,
            "locked_until": None,
            "error": error,
            "updated_at": now,
        }
        if payload is not None:
            values["payload"] = dict(payload)
        if reset:
            values["attempts"] = 0
        with self.db.session() as session:
            if self._change_owned(session, task, worker, values) is None:
                return
        if self.wakeup.hurried(task.resource_id):  # it changed during the step: look again now
            with self.db.session() as session:
                make_due(session, task.resource_id, self.clock())
        self.wakeup.notify()  # an idle worker may take it before this one comes round

    def _notify_failure(self, task: Task, error: str) -> None:
        handler = self.handlers.get(task.kind)
        if handler is None or handler.on_failure is None:
            return
        try:
            handler.on_failure(task, error)
        except Exception:
            log.exception("task %s (%s): on_failure raised", task.id, task.kind)
