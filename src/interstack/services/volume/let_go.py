"""The backend's letting go of a volume whose attach was given up (stuck: still attaching after
:data:`~interstack.services.volume.server_volumes.ATTACHMENT_WAIT_SECONDS`).

Nova's failed attach deletes the attachment and Cinder's volume is ``available`` again — once
its driver has let go of it. The backend's attach may yet finish, and it may refuse the detach
while it attaches (EC2's ``IncorrectState``); a volume shown ``available`` meanwhile would be
one that the next attach or delete fails on, however long it stays so. So the attach's failure
leaves the volume ``detaching`` and queues a task: each step looks at the backend's attachment
and, while it is attaching or attached, asks the backend to let go (a refusal is logged and
asked again at the next look); the volume is ``available`` once the backend shows it detached.
A backend that has not let go after ``ATTACHMENT_WAIT_SECONDS`` since the task's first step
is stuck: the task fails then and the volume is ``error_detaching``, as Cinder's is when its
driver fails to detach it, its fault saying why and what to do. As on Cinder, nothing runs on
it then and its owner's delete is refused (the backend holds it): an administrator's
``os-reset_status`` (to ``available``) once the backend let go, or ``os-force_delete``. Its
attachment stays gone, as Nova's failed attach left it: Cinder's volume shows only attached
ones, and Nova no block device.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from interstack.backends.contract import AttachState, NativeRef
from interstack.errors import BackendError, InterstackError
from interstack.services.regions import Regions
from interstack.services.tasks import RetryAfter, Task, TaskHandler, TaskQueue, utcnow
from interstack.services.volume.common import touch
from interstack.services.volume.state import VolumeStatus
from interstack.services.volume.task_steps import look_again, started
from interstack.store import Database
from interstack.store.models import Volume as VolumeRow

log = logging.getLogger(__name__)

LET_GO = "volume.let_go"


class LetGo:
    """The task that has the backend let go of a volume whose attach was given up."""

    def __init__(self, db: Database, regions: Regions, tasks: TaskQueue, wait_seconds: float):
        self.db = db
        self.regions = regions
        self.tasks = tasks
        #: how long the backend may take to let go (the attach's own bound)
        self.wait_seconds = wait_seconds

    def handlers(self) -> dict[str, TaskHandler]:
        return {LET_GO: TaskHandler(self._step, self._given_up)}

    def queue(
        self,
        session: Session,
        region: str,
        volume: VolumeRow,
        server_id: str,
        refs: tuple[NativeRef, NativeRef],
    ) -> None:
        """In the failed attach's unit of work: the volume ``detaching`` until the backend
        let go of it (the caller has its attachment deleted), the task queued."""
        volume.status = VolumeStatus.DETACHING
        touch(volume)
        payload = {"server_id": server_id, "volume_ref": refs[0], "server_ref": refs[1]}
        self.tasks.enqueue(LET_GO, region, volume.id, payload, session=session)

    def _step(self, task: Task) -> RetryAfter | None:
        if not self._still_detaching(task):
            return None  # an administrator's reset or force-delete meanwhile: nothing to wait for
        backend = self.regions.backend(task.region)
        storage = backend.block_storage
        volume, server = (
            NativeRef(task.payload["volume_ref"]),
            NativeRef(task.payload["server_ref"]),
        )
        if task.payload.get("phase") != "wait":
            task = started(task)
        state = storage.attachment(volume, server)
        if state is AttachState.DETACHED:
            self._settle(task, VolumeStatus.AVAILABLE, None)
            return None
        waited = (utcnow() - datetime.fromisoformat(str(task.payload["since"]))).total_seconds()
        if waited >= self.wait_seconds:
            raise BackendError(
                f"the backend has not let go of volume {task.resource_id} after "
                f"{round(waited / 60)} minutes (its attachment to server "
                f"{task.payload['server_id']}, given up, is still {state}), so the volume is "
                "error_detaching: an administrator can reset its status to available once the "
                "backend has let go of it, or force-delete it"
            )
        if state is not AttachState.DETACHING:
            self._ask(task, lambda: storage.detach_volume(volume, server))
        return look_again(task, backend.polling)

    @staticmethod
    def _ask(task: Task, detach: Callable[[], None]) -> None:
        """Ask the backend to let go; a refusal (attaching still) is asked again later."""
        try:
            detach()
        except InterstackError as exc:
            log.warning(
                "volume %s: the backend refused to let go of it (asked again): %s",
                task.resource_id,
                exc.message,
            )

    def _still_detaching(self, task: Task) -> bool:
        """Whether the volume is still ``detaching``, as the task left it; one reset or
        force-deleted since ends the task at its next step, not at its bound."""
        with self.db.session() as session:
            volume = session.get(VolumeRow, task.resource_id)
            return volume is not None and volume.status == VolumeStatus.DETACHING

    def _given_up(self, task: Task, error: str) -> None:
        self._settle(task, VolumeStatus.ERROR_DETACHING, error)

    def _settle(self, task: Task, status: VolumeStatus, fault: str | None) -> None:
        """The volume ``status`` if it is still ``detaching`` (an administrator's reset or a
        force-delete meanwhile stays); ``fault``: what went wrong, else the attach's."""
        with self.db.session() as session:
            volume = session.get(VolumeRow, task.resource_id)
            if volume is None or volume.status != VolumeStatus.DETACHING:
                return
            volume.status = status
            if fault is not None:
                volume.fault = fault
            touch(volume)
