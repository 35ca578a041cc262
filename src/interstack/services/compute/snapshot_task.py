"""The persisted task of ``createImage``: the backend captures the server's disk into the image
the request registered, and the image becomes active. A backend still producing the image is
asked again later; no worker waits for it."""

from __future__ import annotations

from collections.abc import Callable

from interstack.backends.contract import NativeRef
from interstack.errors import BackendError
from interstack.services.compute.common import touch
from interstack.services.compute.server_statements import finish_action
from interstack.services.compute.state import TaskState
from interstack.services.interfaces import ServerSnapshots
from interstack.services.regions import Regions
from interstack.services.tasks import RetryAfter, Task, TaskHandler
from interstack.store import Database
from interstack.store.models import Server as ServerRow

SNAPSHOT = "compute.server.snapshot"

#: the longest wait between looks at an image the backend is still capturing (the first ones
#: as the region's backend declares), and how many looks it gets (about half an hour: an AMI
#: of a large disk takes many minutes)
SNAPSHOT_POLL_SECONDS = 5.0
MAX_SNAPSHOT_LOOKS = 400


class SnapshotTask:
    """The handler of the snapshot task kind. The server's backend ref and the failure of a
    server action (the server goes on as it was) are the server tasks' own."""

    def __init__(
        self,
        db: Database,
        regions: Regions,
        snapshots: ServerSnapshots,
        native_ref: Callable[[Task], NativeRef | None],
        action_failed: Callable[[Task, str], None],
    ) -> None:
        self.db = db
        self.regions = regions
        self.snapshots = snapshots
        self._native_ref = native_ref
        self._action_failed = action_failed

    def handler(self) -> TaskHandler:
        return TaskHandler(self.snapshot, self.snapshot_failed)

    def snapshot(self, task: Task) -> RetryAfter | None:
        """Capture the disk into the image ``createImage`` registered, then activate it."""
        image_id = str(task.payload["image_id"])
        ref = self._native_ref(task)
        if ref is None:
            raise BackendError("the server is gone from the backend; no image was taken")
        stored = self.regions.backend(task.region).compute.snapshot_server(ref, image_id)
        if not stored.ready:
            looks = int(task.payload.get("looks", 0))
            if looks > MAX_SNAPSHOT_LOOKS:
                raise BackendError("the backend did not finish the image in time")
            polling = self.regions.backend(task.region).polling
            delay = polling.delay(looks, SNAPSHOT_POLL_SECONDS)
            return RetryAfter(delay, {**task.payload, "looks": looks + 1})
        self.snapshots.finish_snapshot(task.region, image_id, stored)
        with self.db.session() as session:
            row = session.get(ServerRow, task.resource_id)
            if row is not None and row.task_state == TaskState.IMAGE_SNAPSHOT:
                row.task_state = None
                touch(row)
            finish_action(session, task.payload.get("action_id"), "Success")
        return None

    def snapshot_failed(self, task: Task, error: str) -> None:
        """No image is left of a failed snapshot; the server goes on as it was."""
        self.snapshots.abandon_snapshot(task.region, str(task.payload["image_id"]))
        self._action_failed(task, error)
