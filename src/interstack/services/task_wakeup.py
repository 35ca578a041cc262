"""Waking idle task workers when there is work, instead of letting them sleep out an interval.

A worker that found nothing due waits on a :class:`TaskWakeup` until the next task is due, or
until this process commits a new task or reschedules one, or at most the runner's
``poll_seconds`` (tasks written by another replica sharing the database are only seen then).
The database stays the only record of what is to be done: a wake-up carries no task, it only
says "look again now", so a lost or spurious one costs a query, never a task.
"""

from __future__ import annotations

import threading

from sqlalchemy import event
from sqlalchemy.orm import Session


class TaskWakeup:
    """A counter of "something changed" that idle workers wait on.

    A worker reads :attr:`generation` *before* it looks for due tasks and waits for a newer one,
    so a task committed between its look and its wait still wakes it.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generation = 0
        #: resources a backend said changed, for the step of theirs that was running then
        self._hurried: set[str] = set()

    @property
    def generation(self) -> int:
        with self._changed:
            return self._generation

    def notify(self) -> None:
        """Wake every waiting worker."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def hurry(self, resource_id: str) -> None:
        """Remember that ``resource_id`` changed (a step of it running now would otherwise
        reschedule itself for later) and wake every waiting worker."""
        with self._changed:
            self._hurried.add(resource_id)
            self._generation += 1
            self._changed.notify_all()

    def hurried(self, resource_id: str) -> bool:
        """Whether ``resource_id`` was hurried since this was last asked; forgets it."""
        with self._changed:
            if resource_id not in self._hurried:
                return False
            self._hurried.discard(resource_id)
            return True

    def notify_after_commit(self, session: Session) -> None:
        """Wake the workers once ``session`` commits (a task row is visible only then)."""
        event.listen(session, "after_commit", lambda _session: self.notify(), once=True)

    def wait(self, seen: int, timeout: float) -> None:
        """Block until the generation differs from ``seen`` or ``timeout`` seconds pass."""
        if timeout <= 0:
            return
        with self._changed:
            self._changed.wait_for(lambda: self._generation != seen, timeout)
