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

One thread renews all the leases of the process, in one statement per look; it runs only while
a step is held, and its writes are fenced as the runner's are (``locked_by``): a lease another
worker took meanwhile is left alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import and_, or_, update

from interstack.services.tasks import Clock, TaskStatus
from interstack.store import Database
from interstack.store.models import Task as TaskRow

log = logging.getLogger(__name__)


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
        #: (task id, worker) -> the thread running its step
        self._held: dict[tuple[str, str], threading.Thread] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def held(self, task_id: str, worker: str) -> Iterator[None]:
        """The task's lease, held by ``worker``, is renewed until the block ends."""
        key = (task_id, worker)
        with self._lock:
            self._held[key] = threading.current_thread()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._renew_while_held, name="interstack-task-leases", daemon=True
                )
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._held.pop(key, None)

    def _renew_while_held(self) -> None:
        while True:
            time.sleep(self.interval)
            if not self.look():
                return

    def look(self) -> bool:
        """One look of the keeper's thread: forget the holds whose thread ended, renew the
        rest; whether any step is still held (if not, the thread ends)."""
        with self._lock:
            if not self._held:
                self._thread = None  # the next step held starts another
                return False
            for key, thread in list(self._held.items()):
                if not thread.is_alive():
                    del self._held[key]  # not renewed again: its lease expires
                    log.warning(
                        "task %s: the thread of its step (%s) ended holding it; "
                        "its lease is renewed no more",
                        *key,
                    )
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
