"""Persisted tasks: long operations (boot, delete, attach, snapshot) as rows a runner drives.

A request that starts a long operation writes its resource row *and* a task row in one
transaction (:meth:`TaskQueue.enqueue` with the request's session) and answers at once (202 /
``BUILD``). The :class:`~interstack.services.task_runner.TaskRunner` is the only thing that
calls backends for long operations.

A task's life::

    pending ──claim──> running ──handler returns None──────────> succeeded
       ^                  │  ├───handler returns RetryAfter(n)──> pending (run_after = now + n)
       │                  │  ├───BackendUnavailable (transient)─> pending with backoff, until
       │                  │  │                                     max_attempts: failed
       │                  │  └───any other error───────────────> failed (error recorded)
       └──lease expired───┘     (the gateway died mid-step: resumed, or failed after max_attempts)

Handlers are registered in an explicit table ``{kind: TaskHandler}``; nothing is dispatched by
name. A handler *step* must be short (one backend call, one store write) and idempotent, because
a step cut short by a crash runs again; state that must survive between steps goes into the
payload returned with :class:`RetryAfter`. ``attempts`` counts the claims of the current step
and starts again at zero when a step completes.

The runner that claims and runs the tasks is in :mod:`interstack.services.task_runner`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session

from interstack.errors import InterstackError, NotFound
from interstack.services.task_wakeup import TaskWakeup
from interstack.store import Database, insert_rows, run_core, table_of, take_turns
from interstack.store.models import Task as TaskRow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Now, as the naive UTC the store keeps."""
    return datetime.now(UTC).replace(tzinfo=None)


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Task:
    """A task as a handler (or a test) sees it."""

    id: str
    kind: str
    region: str
    resource_id: str
    payload: Mapping[str, Any]
    status: TaskStatus
    attempts: int
    error: str | None
    run_after: datetime

    @classmethod
    def from_row(cls, row: TaskRow | Row[Any]) -> Task:
        """The task of its ORM row or of a plain row of the table's columns."""
        return cls(
            id=row.id,
            kind=row.kind,
            region=row.region,
            resource_id=row.resource_id,
            payload=dict(row.payload),
            status=TaskStatus(row.status),
            attempts=row.attempts,
            error=row.error,
            run_after=row.run_after,
        )


@dataclass(frozen=True)
class RetryAfter:
    """A handler's answer "not done yet, run me again in ``seconds``" (polling a BUILD server).

    ``payload``, when given, replaces the task's payload for the next step.
    """

    seconds: float
    payload: Mapping[str, Any] | None = None


#: how long the workers leave a task whose first step the request that made it makes
#: (:meth:`TaskQueue.run_now`): taken after that only if the request stopped before
RUN_HERE_SECONDS = 5.0


@dataclass(frozen=True)
class TaskHandler:
    """What to do for one task kind.

    ``run`` performs one step and returns ``None`` when the task is done or :class:`RetryAfter`.
    ``on_failure`` is called once when the task ends failed, with the recorded error, so the
    owning service can put its resource into an error state; it must not raise.
    """

    run: Callable[[Task], RetryAfter | None]
    on_failure: Callable[[Task, str], None] | None = None


@contextmanager
def refusal_warned(logger: logging.Logger, message: str, *args: object) -> Iterator[None]:
    """Within a step: an :class:`InterstackError` warned of (``message % args``, then what it
    says) and raised on, for the runner to retry the step or fail the task."""
    try:
        yield
    except InterstackError as exc:
        logger.warning(f"{message}: %s", *args, exc.message)
        raise


def make_due(session: Session, resource_id: str, now: datetime) -> None:
    """The resource's pending tasks become due ``now``."""
    session.execute(
        update(TaskRow)
        .where(TaskRow.resource_id == resource_id, TaskRow.status == TaskStatus.PENDING)
        .values(run_after=now)
    )


class TaskQueue:
    """Enqueues tasks and reads their state. Services hold this; they never run tasks."""

    def __init__(
        self, db: Database, clock: Clock = utcnow, wakeup: TaskWakeup | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        #: the runner of this process waits on it: give both the same one
        self.wakeup = wakeup or TaskWakeup()
        self._run: Callable[[str], bool] | None = None

    def enqueue(
        self,
        kind: str,
        region: str,
        resource_id: str,
        payload: Mapping[str, Any] | None = None,
        *,
        delay_seconds: float = 0.0,
        session: Session | None = None,
        run_here: bool = False,
    ) -> str:
        """Add a pending task and return its id.

        Pass the session that writes the resource so both commit (or roll back) together.
        ``run_here``: the caller runs the task's first step itself once committed
        (:meth:`run_now`); the workers leave it alone for :data:`RUN_HERE_SECONDS` meanwhile
        (they take it then if the caller never did: it stopped in between).
        """
        now = self.clock()
        if run_here:
            delay_seconds = max(delay_seconds, RUN_HERE_SECONDS)
        row = TaskRow(
            id=str(uuid.uuid4()),
            kind=kind,
            region=region,
            resource_id=resource_id,
            payload=dict(payload or {}),
            status=TaskStatus.PENDING,
            attempts=0,
            error=None,
            run_after=now + timedelta(seconds=delay_seconds),
            created_at=now,
            updated_at=now,
        )
        # a task its caller runs is not due for the workers yet: waking them would only cost
        # each a look for due tasks while the caller runs it; they find it at a later poll if
        # it falls due (the caller stopped before running it)
        # one Core INSERT now, the row kept out of the session (the ORM's flush of a new object
        # costs several times the statement)
        if session is not None:
            insert_rows(session, [row])
            if not run_here:
                self.wakeup.notify_after_commit(session)
        else:
            with self.db.session() as own:
                insert_rows(own, [row])
            if not run_here:
                self.wakeup.notify()
        return row.id

    def enqueue_once(
        self,
        session: Session,
        kind: str,
        region: str,
        resource_ids: Sequence[str],
        payload: Mapping[str, Any] | None = None,
    ) -> int:
        """Add a pending ``kind`` task for each of ``resource_ids`` that has none pending or
        running; return how many were added. Race-free against another gateway doing the same
        (two replicas starting at once): the units of work calling this with ``kind`` and
        ``region`` take turns on PostgreSQL (where two INSERTs could each miss the other's
        uncommitted row), and each row's check and insert is one statement, which SQLite runs
        under its one writer. Commits with ``session``'s unit of work."""
        take_turns(session, f"task-once/{kind}/{region}")
        now = self.clock()
        table = table_of(TaskRow)
        added = 0
        for resource_id in resource_ids:
            queued = exists().where(
                TaskRow.kind == kind,
                TaskRow.resource_id == resource_id,
                TaskRow.status.in_((TaskStatus.PENDING, TaskStatus.RUNNING)),
            )
            values = {
                "id": str(uuid.uuid4()),
                "kind": kind,
                "region": region,
                "resource_id": resource_id,
                "status": TaskStatus.PENDING.value,
                "attempts": 0,
                "run_after": now,
                "created_at": now,
                "updated_at": now,
            }
            columns = [*values, "payload"]
            row = select(
                *(literal(v, type_=table.c[k].type) for k, v in values.items()),
                literal(dict(payload or {}), type_=table.c.payload.type),
            ).where(~queued)
            result = run_core(session, insert(table).from_select(columns, row))
            added += result.rowcount
        if added:
            self.wakeup.notify_after_commit(session)
        return added

    def run_by(self, run: Callable[[str], bool]) -> None:
        """Let :meth:`run_now` run tasks with ``run`` (the runner's ``run_now``)."""
        self._run = run

    def run_now(self, task_id: str) -> None:
        """Run the committed task's step in this thread (a request whose backend answers at
        once) as a worker would; when no runner runs here, or it cannot claim the task (the
        runner stopping), the task is made due for the workers. Never raises: the request that
        made the task has succeeded whatever its step does."""
        try:
            if self._run is not None and self._run(task_id):
                return
            with self.db.session() as session:
                session.execute(
                    update(TaskRow)
                    .where(TaskRow.id == task_id, TaskRow.status == TaskStatus.PENDING)
                    .values(run_after=self.clock())
                )
        except Exception:
            log.exception("task %s: its first step was not made in the request", task_id)
        self.wakeup.notify()

    def hurry(self, resource_id: str) -> None:
        """Make the resource's pending tasks due now and wake the workers: a backend said the
        resource changed (a boot settled), so the task's next look need not wait out its poll
        delay. A step of it running now is told through the wake-up (the runner then makes
        its next look due at once); tasks that are done or gone are left alone."""
        self.wakeup.hurry(resource_id)  # first: a step ending after the update still sees it
        with self.db.session() as session:
            make_due(session, resource_id, self.clock())

    def get(self, task_id: str) -> Task:
        with self.db.session() as session:
            row = session.get(TaskRow, task_id)
            if row is None:
                raise NotFound(f"task {task_id} not found")
            return Task.from_row(row)

    def counts(self) -> dict[tuple[str, str, str], int]:
        """How many tasks there are of each (region, kind, status), for the gateway's metrics."""
        columns = (TaskRow.region, TaskRow.kind, TaskRow.status)
        with self.db.session() as session:
            rows = session.execute(select(*columns, func.count()).group_by(*columns))
            return {(region, kind, status): count for region, kind, status, count in rows}

    def for_resource(self, resource_id: str) -> list[Task]:
        """The resource's tasks, oldest first."""
        with self.db.session() as session:
            rows = session.scalars(
                select(TaskRow)
                .where(TaskRow.resource_id == resource_id)
                .order_by(TaskRow.created_at)
            )
            return [Task.from_row(r) for r in rows]
