"""The persisted tasks that drive a region's volumes: create, delete, extend, upload to an
image (the snapshots' are :mod:`snapshot_tasks`, whose handlers these include).

Each step is one backend call and one store write, safe to run again after a crash; the step to
run next is ``payload["phase"]``. A step that asked the backend for a change looks at once (a
backend that settles at once, as an emulator does, is done in that step), then again as the
region's backend declares (:class:`~interstack.backends.contract.Polling`: a local cloud within
half a second, a public cloud that throttles its API every few seconds); after
:data:`~interstack.services.volume.task_steps.MAX_POLLS` looks (minutes at a local cloud's
pace, over an hour at a public cloud's, where a first snapshot of a large volume takes that
long) the task fails. A failed task puts
its resource into Cinder's error status for that operation (``error``, ``error_deleting``,
``error_extending``), or back where it was when nothing changed (an upload that failed, an
extend the backend had no room for).

A volume the backend makes from a preparation (``BlockStorageDriver.prepare_volume``: EBS
copies a volume through a snapshot of it) is created in phase ``prepare``: the first step
starts the preparation and records it, later steps look at it, and the step that finds it
ready makes the volume; a create that fails lets every preparation made for it go, the
recorded one and any a step stopped before recording (:mod:`copy_preparations`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from interstack.backends.contract import (
    NO_VALID_BACKEND,
    BlockStorageDriver,
    NativeRef,
    VolumeSpec,
)
from interstack.backends.contract import VolumeStatus as Native
from interstack.errors import (
    BackendError,
    BackendUnavailable,
    Conflict,
    NotFound,
)
from interstack.services.interfaces import VolumeImages
from interstack.services.regions import Regions
from interstack.services.tasks import RetryAfter, Task, TaskHandler, TaskQueue, utcnow
from interstack.services.volume.common import live_attachments, touch
from interstack.services.volume.copy_preparations import CopyPreparations
from interstack.services.volume.message_events import (
    EXTEND_FAILED,
    EXTEND_NO_ROOM,
    UPLOAD_FAILED,
    MessageEvent,
    create_failure,
)
from interstack.services.volume.messages import UserMessages
from interstack.services.volume.snapshot_tasks import SNAPSHOT_CREATE, SnapshotTasks
from interstack.services.volume.state import VolumeStatus
from interstack.services.volume.task_steps import look_again, settled, shown, started
from interstack.services.volume.volume_types import unserved_specs
from interstack.store import Database
from interstack.store.models import Task as TaskRow
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeAttachment as AttachmentRow
from interstack.store.models import VolumeSnapshot as SnapshotRow
from interstack.store.models import VolumeType as TypeRow

log = logging.getLogger(__name__)

CREATE = "volume.create"
DELETE = "volume.delete"
EXTEND = "volume.extend"
UPLOAD = "volume.upload_image"

#: how long a delete waits for the backend to finish detaching a volume the store let go of
#: (a cloud detaches in seconds to a minute or two; one still at it after this is stuck, and
#: the person deleting learns so instead of waiting for
#: :data:`~interstack.services.volume.task_steps.MAX_POLLS` looks)
DETACHING_WAIT_SECONDS = 600.0


class VolumeTasks:
    """The handlers of the volume task kinds, for the app's explicit handler table."""

    def __init__(
        self,
        db: Database,
        regions: Regions,
        images: VolumeImages,
        queue: TaskQueue,
        messages: UserMessages,
    ) -> None:
        self.db = db
        self.regions = regions
        self.images = images
        self.messages = messages
        self.preparations = CopyPreparations(regions, queue)
        self.snapshots = SnapshotTasks(db, regions, messages, self._lately)

    def handlers(self) -> dict[str, TaskHandler]:
        return {
            CREATE: TaskHandler(self.create, self._create_failed),
            DELETE: TaskHandler(self.delete, self._volume_failed(VolumeStatus.ERROR_DELETING)),
            EXTEND: TaskHandler(self.extend, self.extend_failed),
            UPLOAD: TaskHandler(self.upload, self.upload_failed),
            **self.snapshots.handlers(),
            **self.preparations.handlers(),
            **self.messages.handlers(),
        }

    def _driver(self, task: Task) -> BlockStorageDriver:
        return self.regions.backend(task.region).block_storage

    def _again(self, task: Task, **changes: Any) -> RetryAfter:
        return look_again(task, self.regions.backend(task.region).polling, **changes)

    def _create_failed(self, task: Task, error: str) -> None:
        self._volume_failed(VolumeStatus.ERROR, create_failure(error, task.payload))(task, error)

    def _volume_failed(self, status: VolumeStatus, message: MessageEvent | None = None) -> Any:
        """The volume in ``status``, the error its fault, and ``message`` for its owner (none
        for a delete, as in Cinder)."""

        def failed(task: Task, error: str) -> None:
            with self.db.session() as session:
                row = session.get(VolumeRow, task.resource_id)
                copy = _spec(row, task.payload) if row is not None else None
                if row is not None:
                    row.status = status
                    row.fault = error
                    touch(row)
                    if message is not None:
                        self.messages.record_for_task(session, message, task, row.project_id)
            if task.kind == CREATE and copy is not None and copy.source_volume is not None:
                self.preparations.discard(task, copy)

        return failed

    def _settle(
        self, task: Task, status: str, message: MessageEvent | None = None, **columns: Any
    ) -> None:
        with self.db.session() as session:
            row = session.get(VolumeRow, task.resource_id)
            if row is not None:
                row.status = status
                row.fault = None
                for name, value in columns.items():
                    setattr(row, name, value)
                touch(row)
                if message is not None:
                    self.messages.record_for_task(session, message, task, row.project_id)

    # -- create ------------------------------------------------------------------------------

    def create(self, task: Task) -> RetryAfter | None:
        if task.payload.get("phase") == "wait":
            return self._create_wait(task)
        with self.db.session() as session:
            row = session.get(VolumeRow, task.resource_id)
            if row is None:
                return None
            spec = _spec(row, task.payload)
            type_row = session.get(TypeRow, row.volume_type_id) if row.volume_type_id else None
            specs = dict(type_row.extra_specs or {}) if type_row is not None else {}
        driver = self._driver(task)
        unserved = unserved_specs(specs, driver.reported_capabilities)
        if unserved:  # as Cinder's scheduler: no backend to place it on, the volume in error
            log.info(
                "volume %s: its type asks for %s, not its backend's", task.resource_id, unserved
            )
            raise BackendError(NO_VALID_BACKEND)
        if task.payload.get("phase") != "prepare":
            prepared = driver.prepare_volume(spec)
            if prepared is not None:  # recorded: a step run again looks, it does not start it
                task = started(task, "prepare", prepared=prepared)
                spec = replace(spec, prepared=prepared)
        if spec.prepared is not None and not self._ready(task, driver, spec.prepared):
            return self._again(task)
        info = driver.create_volume(spec)  # failed: the task's failure lets its preparation go
        with self.db.session() as session:
            row = session.get(VolumeRow, task.resource_id)
            if row is not None:
                row.native_ref = info.ref
        waiting = started(task)
        try:  # the first look: a backend that made it at once is done in this step
            return self._create_wait(waiting)
        except BackendUnavailable:  # the volume is made: only the look is to be made again
            return self._again(waiting)

    def _ready(self, task: Task, driver: BlockStorageDriver, prepared: NativeRef) -> bool:
        """Whether the preparation is ready; not yet while the backend may not know it yet."""
        try:
            return driver.preparation_ready(prepared)
        except NotFound:
            if self._lately(task):
                return False
            raise

    def _detaching(self, task: Task, driver: BlockStorageDriver, ref: NativeRef) -> bool:
        """Whether the backend still holds the volume on a server the store has let it go
        from: a detach the backend goes on with after its call returned (a failed boot's,
        a deleted server's), not an attachment to refuse the delete for."""
        with self.db.session() as session:
            if live_attachments(session, [task.resource_id])[task.resource_id]:
                return False
        return driver.get_volume(ref).status is Native.IN_USE

    def _lately(self, task: Task) -> bool:
        """Whether the backend made the task's resource so lately that its reads may not show
        it yet (``Polling.settling_seconds`` since the create step that made it, as its task
        recorded: a restarted gateway knows it too, where the backend's memory is gone)."""
        polling = self.regions.backend(task.region).polling
        if polling.settling_seconds <= 0:
            return False
        made: Task | None = task
        if task.kind not in (CREATE, SNAPSHOT_CREATE):
            with self.db.session() as session:
                row = session.scalars(
                    select(TaskRow)
                    .where(
                        TaskRow.resource_id == task.resource_id,
                        TaskRow.kind.in_((CREATE, SNAPSHOT_CREATE)),
                    )
                    .order_by(TaskRow.created_at.desc())
                    .limit(1)
                ).first()
                made = None if row is None else Task.from_row(row)
        return made is not None and "since" in made.payload and not settled(made, polling)

    def _native(self, task: Task) -> NativeRef | None:
        with self.db.session() as session:
            row = session.get(VolumeRow, task.resource_id)
            return NativeRef(row.native_ref) if row is not None and row.native_ref else None

    def _create_wait(self, task: Task) -> RetryAfter | None:
        ref = self._native(task)
        if ref is None:
            return None
        try:
            info = self._driver(task).get_volume(ref)
        except NotFound:
            if self._lately(task):  # the backend does not show it yet
                return self._again(task)
            raise
        if info.status is Native.ERROR:
            raise BackendError(info.fault or "the volume failed in the backend")
        if info.status is not Native.AVAILABLE:
            return self._again(task)
        self._settle(task, self._created_status(task.resource_id))
        return None

    def _created_status(self, volume_id: str) -> VolumeStatus:
        """``reserved`` for a volume made for a server's boot (it has that server's attachment
        from the request on), so no one can take it before the boot task attaches it;
        ``available`` otherwise."""
        with self.db.session() as session:
            reserved = live_attachments(session, [volume_id])[volume_id]
        return VolumeStatus.RESERVED if reserved else VolumeStatus.AVAILABLE

    # -- delete ------------------------------------------------------------------------------

    def delete(self, task: Task) -> RetryAfter | None:
        with self.db.session() as session:
            snapshots = session.scalar(
                select(func.count())
                .select_from(SnapshotRow)
                .where(SnapshotRow.volume_id == task.resource_id)
            )
        if snapshots:
            return self._again(task)  # a cascade: the snapshots' own tasks remove them
        ref = self._native(task)
        if ref is not None:
            driver = self._driver(task)
            if task.payload.get("phase") != "wait":
                if self._lately(task) and not shown(driver.get_volume, ref):
                    return self._again(task)  # made, not shown yet: deleted once it is
                try:
                    driver.delete_volume(ref)
                except Conflict:
                    if not self._detaching(task, driver, ref):
                        raise
                    return self._wait_detached(task)  # deleted once the backend detached it
            try:
                driver.get_volume(ref)
            except NotFound:
                pass
            else:
                return self._again(task, phase="wait")
        with self.db.session() as session:
            session.execute(
                delete(AttachmentRow).where(AttachmentRow.volume_id == task.resource_id)
            )
            row = session.get(VolumeRow, task.resource_id)
            if row is not None:
                session.delete(row)
        return None

    def _wait_detached(self, task: Task) -> RetryAfter:
        """Look again while the backend detaches the volume, for at most
        :data:`DETACHING_WAIT_SECONDS` since the first look found it detaching (recorded in
        the payload: a restarted gateway keeps counting); then the delete fails, saying why."""
        since = task.payload.get("detaching_since")
        if since is None:
            return self._again(task, detaching_since=utcnow().isoformat())
        waited = (utcnow() - datetime.fromisoformat(str(since))).total_seconds()
        if waited >= DETACHING_WAIT_SECONDS:
            raise Conflict(
                f"the backend has still not detached volume {task.resource_id} from a server "
                f"after {waited / 60:.0f} minutes, so it was not deleted; an administrator can "
                "delete it with os-force_delete once the backend has detached it"
            )
        return self._again(task)

    # -- extend ------------------------------------------------------------------------------

    def extend(self, task: Task) -> RetryAfter | None:
        ref = self._native(task)
        if ref is None:
            return None
        size = int(task.payload["size"])
        driver = self._driver(task)
        if task.payload.get("phase") != "wait":
            driver.extend_volume(ref, size)
        info = driver.get_volume(ref)
        if info.status is Native.ERROR:
            raise BackendError(info.fault or "the volume failed in the backend")
        if info.size_gb < size:
            return self._again(task, phase="wait")
        self._settle(task, str(task.payload["previous_status"]), size=size)
        return None

    def extend_failed(self, task: Task, error: str) -> None:
        """An extend the backend had no room for (:data:`NO_VALID_BACKEND`, refused before the
        volume changed) leaves the volume as it was, its status before the extend, as Cinder's
        scheduler restores it; the refusal stays as the volume's fault, where Cinder keeps a
        user message. Any other failure is ``error_extending``, as Cinder's volume manager
        leaves a volume whose driver failed to grow it."""
        if error != NO_VALID_BACKEND:
            self._volume_failed(VolumeStatus.ERROR_EXTENDING, EXTEND_FAILED)(task, error)
            return
        log.warning("volume %s: extend refused: %s", task.resource_id, error)
        with self.db.session() as session:
            row = session.get(VolumeRow, task.resource_id)
            if row is not None:
                row.status = str(task.payload["previous_status"])
                row.fault = error
                touch(row)
                self.messages.record_for_task(session, EXTEND_NO_ROOM, task, row.project_id)

    # -- upload to an image ------------------------------------------------------------------

    def upload(self, task: Task) -> RetryAfter | None:
        ref = self._native(task)
        image_id = str(task.payload["image_id"])
        if ref is None:
            self.images.abandon_snapshot(task.region, image_id)
            return None
        stored = self._driver(task).copy_volume_to_image(ref, image_id)
        self.images.finish_snapshot(task.region, image_id, stored)
        self._settle(task, str(task.payload["previous_status"]))
        return None

    def upload_failed(self, task: Task, error: str) -> None:
        """The image goes; the volume is as it was (its data never changed)."""
        self.images.abandon_snapshot(task.region, str(task.payload["image_id"]))
        self._settle(task, str(task.payload["previous_status"]), message=UPLOAD_FAILED)


def _ref(value: object) -> NativeRef | None:
    return NativeRef(str(value)) if value else None


def _spec(row: VolumeRow, payload: Mapping[str, Any]) -> VolumeSpec:
    """The volume as its create task asks the backend for it (``prepared``: the preparation
    the task recorded, if any)."""
    return VolumeSpec(
        gateway_id=row.id,
        name=row.name or "",
        project_id=row.project_id,
        size_gb=row.size,
        snapshot=_ref(payload.get("snapshot_ref")),
        image=_ref(payload.get("image_ref")),
        source_volume=_ref(payload.get("source_ref")),
        prepared=_ref(payload.get("prepared")),
    )
