"""The persisted tasks of a region's snapshots: create and delete. A snapshot the backend made
so lately that its reads may not show it yet is looked at again (the volume tasks know how
lately: the ``lately`` they give), and one discarded meanwhile (the request that made it
failed) goes, in the backend too; a failed task puts the snapshot into ``error`` or
``error_deleting``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from interstack.backends.contract import BlockStorageDriver, NativeRef, SnapshotSpec
from interstack.backends.contract import VolumeStatus as Native
from interstack.errors import BackendError, BackendUnavailable, NotFound
from interstack.services.regions import Regions
from interstack.services.tasks import RetryAfter, Task, TaskHandler, utcnow
from interstack.services.volume.common import touch
from interstack.services.volume.message_events import (
    SNAPSHOT_CREATE_FAILED,
    SNAPSHOT_DELETE_FAILED,
    MessageEvent,
)
from interstack.services.volume.messages import UserMessages
from interstack.services.volume.state import SnapshotStatus
from interstack.services.volume.task_steps import look_again, shown, started
from interstack.store import Database, rowcount
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeSnapshot as SnapshotRow

SNAPSHOT_CREATE = "volume.snapshot.create"
SNAPSHOT_DELETE = "volume.snapshot.delete"


class SnapshotTasks:
    """The handlers of the snapshot task kinds."""

    def __init__(
        self,
        db: Database,
        regions: Regions,
        messages: UserMessages,
        lately: Callable[[Task], bool],
    ) -> None:
        self.db = db
        self.regions = regions
        self.messages = messages
        #: whether the backend made the task's resource too lately for its reads to show it
        self.lately = lately

    def handlers(self) -> dict[str, TaskHandler]:
        return {
            SNAPSHOT_CREATE: TaskHandler(
                self.create_snapshot, self.failed(SnapshotStatus.ERROR, SNAPSHOT_CREATE_FAILED)
            ),
            SNAPSHOT_DELETE: TaskHandler(
                self.delete_snapshot,
                self.failed(SnapshotStatus.ERROR_DELETING, SNAPSHOT_DELETE_FAILED),
            ),
        }

    def _driver(self, task: Task) -> BlockStorageDriver:
        return self.regions.backend(task.region).block_storage

    def _again(self, task: Task) -> RetryAfter:
        return look_again(task, self.regions.backend(task.region).polling)

    def failed(self, status: SnapshotStatus, message: MessageEvent) -> Any:
        """The snapshot in ``status``, the error its fault, ``message`` for its owner; one
        discarded before the backend made it just goes."""

        def failed_to(task: Task, error: str) -> None:
            with self.db.session() as session:
                row = session.get(SnapshotRow, task.resource_id)
                if row is None:
                    return
                if row.status == SnapshotStatus.DELETING and row.native_ref is None:
                    session.delete(row)  # discarded, and the backend never made it
                    return
                row.status = status
                row.fault = error
                touch(row)
                self.messages.record_for_task(session, message, task, row.project_id)

        return failed_to

    def create_snapshot(self, task: Task) -> RetryAfter | None:
        driver = self._driver(task)
        if task.payload.get("phase") == "wait":
            return self._create_snapshot_wait(task, driver)
        with self.db.session() as session:
            row = session.get(SnapshotRow, task.resource_id)
            if row is not None and row.status == SnapshotStatus.DELETING:
                session.delete(row)  # discarded before the backend was asked for it
                return None
            volume = session.get(VolumeRow, row.volume_id) if row is not None else None
            if row is None or volume is None or volume.native_ref is None:
                raise BackendError("the snapshot's volume is gone")
            spec = SnapshotSpec(
                gateway_id=row.id, name=row.name or "", volume=NativeRef(volume.native_ref)
            )
        info = driver.create_snapshot(spec)
        with self.db.session() as session:
            row = session.get(SnapshotRow, task.resource_id)
            if row is not None:
                row.native_ref = info.ref
        waiting = started(task)
        try:  # the first look: a backend that made it at once is done in this step
            return self._create_snapshot_wait(waiting, driver)
        except BackendUnavailable:  # the snapshot is made: only the look is to be made again
            return self._again(waiting)

    def _create_snapshot_wait(self, task: Task, driver: BlockStorageDriver) -> RetryAfter | None:
        """Look once: the settled snapshot is ``available``, or it goes if it was discarded
        meanwhile (nothing the failed request made is left). One session per look, committed
        before each backend call so that no transaction waits on the backend."""
        snapshot_id = task.resource_id
        with self.db.session() as session:
            native_ref = session.scalar(
                select(SnapshotRow.native_ref).where(SnapshotRow.id == snapshot_id)
            )
            if native_ref is None:
                return None
            ref = NativeRef(native_ref)
            session.commit()
            try:
                info = driver.get_snapshot(ref)
            except NotFound:
                if self.lately(task):  # the backend does not show it yet
                    return self._again(task)
                raise
            if info.status not in {Native.AVAILABLE, Native.ERROR}:
                return self._again(task)
            if info.status is Native.AVAILABLE and _snapshot_made(session, snapshot_id):
                return None
            if _snapshot_discarded(session, snapshot_id):
                session.commit()
                driver.delete_snapshot(ref)
                session.execute(delete(SnapshotRow).where(SnapshotRow.id == snapshot_id))
                return None
        if info.status is Native.ERROR:
            raise BackendError(info.fault or "the snapshot failed in the backend")
        return None

    def delete_snapshot(self, task: Task) -> RetryAfter | None:
        with self.db.session() as session:
            row = session.get(SnapshotRow, task.resource_id)
            if row is None:
                return None
            ref = NativeRef(row.native_ref) if row.native_ref else None
        if ref is not None:
            driver = self._driver(task)
            if self.lately(task) and not shown(driver.get_snapshot, ref):
                return self._again(task)  # made, not shown yet: deleted once it is
            driver.delete_snapshot(ref)
        with self.db.session() as session:
            row = session.get(SnapshotRow, task.resource_id)
            if row is not None:
                session.delete(row)
        return None


def _snapshot_made(session: Session, snapshot_id: str) -> bool:
    """``creating`` -> ``available``, unless a discard (or an admin) changed it first."""
    made = session.execute(
        update(SnapshotRow)
        .where(SnapshotRow.id == snapshot_id, SnapshotRow.status == SnapshotStatus.CREATING)
        .values(status=SnapshotStatus.AVAILABLE, updated_at=utcnow())
    )
    return rowcount(made) == 1


def _snapshot_discarded(session: Session, snapshot_id: str) -> bool:
    """The request that made the snapshot failed meanwhile (``SnapshotService.discard``)."""
    status = session.scalar(select(SnapshotRow.status).where(SnapshotRow.id == snapshot_id))
    return status == SnapshotStatus.DELETING
