"""A task runner whose steps a test takes itself, on a fake clock: what start-up queued is run
as the runner's workers would run it, without threads or waiting."""

from __future__ import annotations

from collections.abc import Mapping

from interstack.services.task_runner import TaskRunner
from interstack.services.tasks import TaskHandler, TaskQueue
from interstack.store import Database
from tests.support.clock import FakeClock


class Steps:
    """A queue on ``clock`` (give it to what queues) and, once :meth:`handle` named the
    handlers, a runner of its tasks."""

    def __init__(self, db: Database, clock: FakeClock) -> None:
        self.db = db
        self.clock = clock
        self.queue = TaskQueue(db, clock)
        self.runner: TaskRunner | None = None

    def handle(self, handlers: Mapping[str, TaskHandler]) -> None:
        self.runner = TaskRunner(self.db, dict(handlers), clock=self.clock, queue=self.queue)

    def run_due(self) -> None:
        """Every step due now, as the runner's workers would take them."""
        assert self.runner is not None, "no handlers named"
        while self.runner.run_one():
            pass
