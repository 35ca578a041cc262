"""Leases of the task steps running in this process, renewed while they run (a heartbeat).

A claim leases a task to one worker for ``lease_seconds``; once the lease has expired,
another runner's recovery hands the task to the queue again. A step that runs longer than the
lease (an upload of a large image, a backend answering slowly) would so be run a second time
beside the first. :class:`LeaseKeeper` renews the lease of every step this process runs, every
``interval`` seconds (a third of the lease by default: two renewals may fail before it ends),
so only a runner that stopped (its process gone or frozen) loses its tasks. There is no bound
on how long a step is renewed (an upload of a large image takes hours, and a bound would have
it run twice): a lease is renewed as long as the thread running its step lives and holds it. A
process that dies or freezes renews nothing, so its leases expire; a step whose thread ended
without letting go of it (it cannot, short of the interpreter's end) is renewed no more.

A step hung for ever (a backend call that never answers) so holds its task for ever, and
nothing else would show it: once a step has run for :data:`LONG_STEP_SECONDS`, longer than any
step should, the keeper logs a warning with the stack of the thread running it (where it
hangs), and again every :data:`LONG_STEP_AGAIN_SECONDS` while it still runs, for an operator
to act on (the step is not stopped: it may yet finish, and running it again beside it could
not be undone).

One thread renews all the leases of the process, in one statement per look; it runs only while
a step is held, and its writes are fenced as the runner's are (``locked_by``): a lease another
worker took meanwhile is left alone.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update

from interstack.services.tasks import Clock, TaskStatus
from interstack.store import Database
from interstack.store.models import Task as TaskRow

log = logging.getLogger(__name__)

#: how long a step runs before the keeper warns that it may hang: a few hours, longer than
#: any step should (the longest, an upload of a large image, takes about an hour)
LONG_STEP_SECONDS = 4 * 3600.0
#: how often the warning is logged again while that step still runs
LONG_STEP_AGAIN_SECONDS = 12 * 3600.0


@dataclass
class _Hold:
    """A step held by this process: the thread running it, since when, and when the keeper
    last warned that it runs long (None: not yet)."""

    thread: threading.Thread
    since: datetime
    warned: datetime | None = None


class LeaseKeeper:
    """Renews the leases of the steps held with :meth:`held` while they run."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        lease_seconds: float,
        interval: float | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.interval = lease_seconds / 3 if interval is None else interval
        #: (task id, worker) -> the step held, with the thread running it
        self._held: dict[tuple[str, str], _Hold] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        #: set by :meth:`stop`: the thread ends at once instead of at its next look (one per
        #: thread, so that a thread started after a stop is not stopped by it)
        self._stopping = threading.Event()

    @contextmanager
    def held(self, task_id: str, worker: str) -> Iterator[None]:
        """The task's lease, held by ``worker``, is renewed until the block ends."""
        key = (task_id, worker)
        with self._lock:
            self._held[key] = _Hold(threading.current_thread(), self.clock())
            if self._thread is None:
                self._stopping = threading.Event()
                self._thread = threading.Thread(
                    target=self._renew_while_held,
                    args=(self._stopping,),
                    name="interstack-task-leases",
                    daemon=True,
                )
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._held.pop(key, None)

    def stop(self, timeout: float | None = None) -> None:
        """End the keeper's thread now if no step is held: it would otherwise sleep out its
        interval (an hour in a test that takes the looks itself). One held still (a step
        outlasting its runner's stop) keeps its lease renewed, never expired while it runs:
        the thread then ends at its first look after the last step. A step held after it has
        ended starts another."""
        with self._lock:
            thread = self._thread
            if thread is None or self._held:
                return
            self._stopping.set()
            self._thread = None
        thread.join(timeout)

    def _renew_while_held(self, stopping: threading.Event) -> None:
        while not stopping.wait(self.interval):
            if not self.look():
                return

    def look(self) -> bool:
        """One look of the keeper's thread: forget the holds whose thread ended, warn of steps
        that run long, renew the rest; whether any step is still held (if not, the thread
        ends)."""
        now = self.clock()
        with self._lock:
            if not self._held:
                self._thread = None  # the next step held starts another
                return False
            for key, hold in list(self._held.items()):
                if not hold.thread.is_alive():
                    del self._held[key]  # not renewed again: its lease expires
                    log.warning(
                        "task %s: the thread of its step (%s) ended holding it; "
                        "its lease is renewed no more",
                        *key,
                    )
                elif _warn_due(hold, now):
                    hold.warned = now
                    _warn_long(key, hold, now)
            renewed = list(self._held)
        try:
            self.renew(renewed)
        except Exception:
            log.exception("task leases: renewal failed; tried again in %.1f s", self.interval)
        return True

    def renew(self, held: list[tuple[str, str]]) -> None:
        """Extend the leases of ``held`` (task id, worker) still held by those workers."""
        if not held:
            return
        now = self.clock()
        owned = [
            and_(TaskRow.id == task_id, TaskRow.locked_by == worker) for task_id, worker in held
        ]
        with self.db.session() as session:
            session.execute(
                update(TaskRow)
                .where(TaskRow.status == TaskStatus.RUNNING, or_(*owned))
                .values(locked_until=now + timedelta(seconds=self.lease_seconds))
            )


def _warn_due(hold: _Hold, now: datetime) -> bool:
    """Whether the step of ``hold`` has run long enough to be warned of (again)."""
    if hold.warned is None:
        return (now - hold.since).total_seconds() >= LONG_STEP_SECONDS
    return (now - hold.warned).total_seconds() >= LONG_STEP_AGAIN_SECONDS


def _warn_long(key: tuple[str, str], hold: _Hold, now: datetime) -> None:
    frame = sys._current_frames().get(hold.thread.ident or -1)
    stack = "".join(traceback.format_stack(frame)) if frame is not None else "(not found)\n"
    log.warning(
        "task %s: its step (worker %s) has run for %s, longer than any step should (%s); "
        "its lease is still renewed while thread %s runs it, so no other runner takes the "
        "task: if it hangs, stop the gateway that runs it (its lease then expires and another "
        "runner resumes the task). Warned again every %s while it runs. The thread's stack:\n%s",
        *key,
        timedelta(seconds=int((now - hold.since).total_seconds())),
        timedelta(seconds=LONG_STEP_SECONDS),
        hold.thread.name,
        timedelta(seconds=LONG_STEP_AGAIN_SECONDS),
        stack,
    )
