"""Leases of the task steps running in this process, renewed while they run (a heartbeat).

A claim leases a task to one worker for ``lease_seconds``; once the lease has expired,
another runner's recovery hands the task to the queue again. A step that runs longer than the
lease (an upload of a large image, a backend answering slowly) would so be run a second time
beside the first. :class:`LeaseKeeper` renews the lease of every step this process runs, every
``interval`` seconds (a third of the lease by default: two renewals may fail before it ends),
so only a runner that stopped (its process gone or frozen) loses its tasks. A step held for
longer than ``max_hold_seconds`` is renewed no more: a step that hangs is then taken over as a
crashed one is, instead of holding its task for ever.

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
        max_hold_seconds: float = 6 * 3600.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.interval = lease_seconds / 3 if interval is None else interval
        self.max_hold_seconds = max_hold_seconds
        #: (task id, worker) -> when it was taken (monotonic)
        self._held: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def held(self, task_id: str, worker: str) -> Iterator[None]:
        """The task's lease, held by ``worker``, is renewed until the block ends."""
        key = (task_id, worker)
        with self._lock:
            self._held[key] = time.monotonic()
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
            with self._lock:
                if not self._held:
                    self._thread = None  # the next step held starts another
                    return
                now = time.monotonic()
                for key, since in list(self._held.items()):
                    if now - since >= self.max_hold_seconds:
                        del self._held[key]  # not renewed again
                        log.warning(
                            "task %s: its step (%s) has run %.0f s; its lease is renewed no more",
                            *key,
                            now - since,
                        )
                renewed = list(self._held)
            try:
                self.renew(renewed)
            except Exception:
                log.exception("task leases: renewal failed; tried again in %.1f s", self.interval)

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
