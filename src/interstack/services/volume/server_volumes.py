"""Volumes on servers (Nova's ``os-volume_attachments``): attach at a requested or the next free
device, list, show, detach. The backend attaches in a task; the volume moves
``available`` -> ``attaching`` -> ``in-use`` -> ``detaching`` -> ``available``.

Nova refuses a server in the wrong state with 409 and a volume that is not available (or not
attached to that server) with 400/404, as these methods do.

Each request is recorded as Nova records it (``os-instance-actions``: ``attach_volume`` /
``detach_volume``, their ``compute_…`` event finished by the task). A backend that has not
attached or detached the volume :data:`ATTACHMENT_WAIT_SECONDS` after it was asked (since when:
recorded in the task, so a restarted gateway keeps counting) is stuck, and the task fails
then, not after :data:`~interstack.services.volume.task_steps.MAX_POLLS` looks (over an
hour and a half at EC2's pace): a failed attach leaves no attachment and the volume
``available`` once the backend let go of it (:mod:`let_go`: ``detaching`` until then), a
failed detach leaves it attached and ``in-use``, as Nova and Cinder leave them; the event's
error says what happened and what to do.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from interstack.backends.contract import AttachState, NativeRef
from interstack.errors import BackendError, BadRequest, Conflict, NotFound
from interstack.services.compute.common import record_action, started_event, visible_row
from interstack.services.compute.device_names import is_under_dev, next_device_name
from interstack.services.compute.server_statements import finish_action
from interstack.services.context import RequestContext
from interstack.services.interfaces import VolumeSnapshotForImage
from interstack.services.regions import Regions
from interstack.services.tasks import RetryAfter, Task, TaskHandler, TaskQueue, utcnow
from interstack.services.volume.common import (
    new_attachment,
    server_attachments,
    touch,
    visible_volume,
)
from interstack.services.volume.let_go import LetGo
from interstack.services.volume.message_events import ATTACH_FAILED
from interstack.services.volume.messages import UserMessages, started_by
from interstack.services.volume.records import Attachment, attachment_record
from interstack.services.volume.snapshots import SnapshotService
from interstack.services.volume.state import AttachStatus, VolumeStatus
from interstack.services.volume.task_steps import look_again, settled, started
from interstack.services.volume.volume_tasks import DELETE as VOLUME_DELETE
from interstack.store import Database
from interstack.store.models import Server as ServerRow
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeAttachment as AttachmentRow
from interstack.store.models import VolumeSnapshot as SnapshotRow

ATTACH = "volume.server_attach"
DETACH = "volume.server_detach"
#: how long an attach or a detach waits for the backend once asked: a cloud attaches and
#: detaches in seconds to a minute or two (EBS), so one still at it after this is stuck
ATTACHMENT_WAIT_SECONDS = 600.0

#: the vm_states a volume may be attached in or detached from (Nova's ``check_instance_state``)
USABLE = frozenset({"active", "stopped", "paused", "suspended", "resized"})
ROOT_DEVICE = "/dev/vda"


def _server(
    session: Session, ctx: RequestContext, region: str, server_id: str, doing: str
) -> ServerRow:
    row = visible_row(session, ctx, region, server_id)
    if row.task_state is not None:
        raise Conflict(
            f"Cannot '{doing}' instance {server_id} while it is in task_state {row.task_state}"
        )
    if row.vm_state not in USABLE:
        raise Conflict(
            f"Cannot '{doing}' instance {server_id} while it is in vm_state {row.vm_state}"
        )
    return row


def _has_snapshots(session: Session, volume_id: str) -> bool:
    found = session.scalar(
        select(func.count()).select_from(SnapshotRow).where(SnapshotRow.volume_id == volume_id)
    )
    return bool(found)


def next_device(taken: set[str], requested: str | None, root_device: str = ROOT_DEVICE) -> str:
    """The requested device if free, else the next free name with the prefix of
    ``root_device`` (the server's, Nova's ``root_device_name``: ``/dev/sdb`` after a root at
    ``/dev/sda``, ``/dev/vdc`` after one at ``/dev/vdb``), never ``/dev/vda``; the root
    device is never free, as Nova counts it among the used devices."""
    taken = taken | {root_device}
    if requested is not None:
        if not requested.startswith("/dev/") or not is_under_dev(requested):
            raise BadRequest(f"The supplied device path ({requested}) is invalid.")
        if requested in taken:
            raise BadRequest(f"The supplied device path ({requested}) is in use.")
        return requested
    device = next_device_name(root_device, taken)
    if device is None:
        raise BadRequest("No free device name is left on this server.")
    return device


class ServerVolumes:
    def __init__(
        self,
        db: Database,
        regions: Regions,
        tasks: TaskQueue,
        snapshots: SnapshotService,
        messages: UserMessages,
    ) -> None:
        self.db = db
        self.regions = regions
        self.tasks = tasks
        self.snapshots = snapshots
        self.let_go = LetGo(db, regions, tasks, ATTACHMENT_WAIT_SECONDS)
        self.messages = messages

    def handlers(self) -> dict[str, TaskHandler]:
        return {
            ATTACH: TaskHandler(self._attach_step, self._attach_failed),
            DETACH: TaskHandler(self._detach_step, self._detach_failed),
            **self.let_go.handlers(),
        }

    # -- requests ----------------------------------------------------------------------------

    def attach(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        volume_id: str,
        device: str | None,
        *,
        delete_on_termination: bool = False,
        tag: str | None = None,
    ) -> Attachment:
        self.regions.require(region, "volumes")
        with self.db.session() as session:
            server = _server(session, ctx, region, server_id, "attach_volume")
            try:
                volume = visible_volume(session, ctx, region, volume_id)
            except NotFound:
                raise NotFound(f"Volume {volume_id} could not be found.") from None
            if volume.status != VolumeStatus.AVAILABLE:
                raise BadRequest(
                    f"Invalid volume: volume {volume.id} status must be 'available', "
                    f"but it is {volume.status}."
                )
            taken = {a.mountpoint for a in server_attachments(session, server.id) if a.mountpoint}
            # the server's ephemeral and swap disks hold their devices too (Nova's names them)
            taken |= {str(d["device"]) for d in server.local_disks or () if isinstance(d, dict)}
            chosen = next_device(taken, device, server.root_device_name or ROOT_DEVICE)
            refusal = self.regions.backend(region).compute.device_name_refusal(chosen)
            if refusal is not None:
                raise BadRequest(f"The supplied device path ({chosen}) is invalid. {refusal}")
            row = new_attachment(
                region,
                volume,
                server.id,
                mountpoint=chosen,
                mode="ro" if volume.readonly else "rw",
                status=AttachStatus.ATTACHING,
                delete_on_termination=delete_on_termination,
                tag=tag,
            )
            session.add(row)
            volume.status = VolumeStatus.ATTACHING
            touch(volume)
            session.flush()
            event = started_event("compute_attach_volume")
            action_id = record_action(session, ctx, server, "attach_volume", [event])
            payload = {"action_id": action_id, **started_by(ctx)}
            self.tasks.enqueue(ATTACH, region, row.id, payload, session=session)
            return attachment_record(row)

    def list(self, ctx: RequestContext, region: str, server_id: str) -> list[Attachment]:
        with self.db.session() as session:
            visible_row(session, ctx, region, server_id)
            return [attachment_record(a) for a in server_attachments(session, server_id)]

    def get(self, ctx: RequestContext, region: str, server_id: str, volume_id: str) -> Attachment:
        with self.db.session() as session:
            return attachment_record(self._attachment(session, ctx, region, server_id, volume_id))

    def _attachment(
        self, session: Session, ctx: RequestContext, region: str, server_id: str, volume_id: str
    ) -> AttachmentRow:
        visible_row(session, ctx, region, server_id)
        for row in server_attachments(session, server_id):
            if row.volume_id == volume_id:
                return row
        raise NotFound(f"volume_id not found: {volume_id}")

    def detach(self, ctx: RequestContext, region: str, server_id: str, volume_id: str) -> None:
        with self.db.session() as session:
            server = _server(session, ctx, region, server_id, "detach_volume")
            row = self._attachment(session, ctx, region, server_id, volume_id)
            if row.boot_index == 0:  # the server boots from this volume
                raise BadRequest("Cannot detach a root device volume")
            if row.status != AttachStatus.ATTACHED:
                raise BadRequest(
                    f"Invalid volume: volume {volume_id} is {row.status}, not attached; try again "
                    "once it is."
                )
            volume = session.get(VolumeRow, volume_id)
            assert volume is not None
            row.status = AttachStatus.DETACHING
            row.updated_at = utcnow()
            volume.status = VolumeStatus.DETACHING
            touch(volume)
            event = started_event("compute_detach_volume")
            action_id = record_action(session, ctx, server, "detach_volume", [event])
            self.tasks.enqueue(DETACH, region, row.id, {"action_id": action_id}, session=session)

    def snapshot_for_image(
        self, ctx: RequestContext, region: str, server_id: str, image_name: str
    ) -> builtins.list[VolumeSnapshotForImage]:
        """``ServerVolumeSnapshots``: one forced snapshot per attached volume, in one
        transaction, each described as its volume is (as Nova asks Cinder)."""
        taken: builtins.list[VolumeSnapshotForImage] = []
        with self.db.session() as session:
            server = visible_row(session, ctx, region, server_id)
            attachments = sorted(
                server_attachments(session, server.id), key=lambda a: a.boot_index != 0
            )
            for attachment in attachments:
                volume = session.get(VolumeRow, attachment.volume_id)
                if volume is None:
                    continue
                snapshot = self.snapshots.add(
                    session,
                    ctx,
                    region,
                    volume.id,
                    name=f"snapshot for {image_name}"[:255],  # Cinder's longest name
                    description=volume.description,
                    metadata={},
                    force=True,
                )
                root = attachment.boot_index == 0
                taken.append(
                    VolumeSnapshotForImage(
                        snapshot_id=snapshot.id,
                        device=attachment.mountpoint,
                        size_gb=volume.size,
                        boot_index=0 if root else None,
                        delete_on_termination=bool(attachment.delete_on_termination),
                    )
                )
        return taken

    def boots_from_volume(self, region: str, server_id: str) -> bool:
        with self.db.session() as session:
            found = session.scalar(
                select(func.count())
                .select_from(AttachmentRow)
                .where(
                    AttachmentRow.region == region,
                    AttachmentRow.server_id == server_id,
                    AttachmentRow.status != AttachStatus.DETACHED,
                    AttachmentRow.boot_index == 0,
                )
            )
            return bool(found)

    def discard_for_image(self, region: str, snapshot_ids: builtins.list[str]) -> None:
        self.snapshots.discard(region, snapshot_ids)

    def release_for_server(self, region: str, server_id: str) -> None:
        """The server is gone and the backend detached its volumes: drop its attachments, make
        its volumes ``available``, and delete those marked ``delete_on_termination`` (unless
        snapshots still hang on them, as Cinder would refuse). Idempotent."""
        with self.db.session() as session:
            for row in server_attachments(session, server_id):
                session.delete(row)
                volume = session.get(VolumeRow, row.volume_id)
                if volume is None or volume.status == VolumeStatus.DELETING:
                    continue
                if row.delete_on_termination and not _has_snapshots(session, volume.id):
                    volume.status = VolumeStatus.DELETING
                    self.tasks.enqueue(VOLUME_DELETE, region, volume.id, session=session)
                elif volume.status != VolumeStatus.CREATING:  # its create task settles it
                    volume.status = VolumeStatus.AVAILABLE
                touch(volume)

    # -- task steps --------------------------------------------------------------------------

    def _refs(self, task: Task) -> _Refs | None:
        with self.db.session() as session:
            row = session.get(AttachmentRow, task.resource_id)
            if row is None or row.server_id is None:
                return None
            volume = session.get(VolumeRow, row.volume_id)
            server = session.get(ServerRow, row.server_id)
            if volume is None or server is None or not volume.native_ref or not server.native_ref:
                raise BadRequest("the volume or the server has no backend resource yet")
            return _Refs(
                row.volume_id,
                row.server_id,
                NativeRef(volume.native_ref),
                NativeRef(server.native_ref),
                row.mountpoint,
            )

    def _attach_step(self, task: Task) -> RetryAfter | None:
        """Ask the backend to attach (first step), then look (this step and the next ones,
        at the region's polling) until it has: no step waits for the cloud; one that has not
        after :data:`ATTACHMENT_WAIT_SECONDS` fails the attach."""
        refs = self._refs(task)
        if refs is None:
            return None
        backend = self.regions.backend(task.region)
        storage = backend.block_storage
        if task.payload.get("phase") != "wait":
            made = storage.attach_volume(refs.volume, refs.server, refs.device)
            task = started(task, device=made.device)
        state = storage.attachment(refs.volume, refs.server)
        if state is AttachState.ATTACHED:
            device = str(task.payload["device"])
            self._finish(task, AttachStatus.ATTACHED, VolumeStatus.IN_USE, device)
            return None
        if state is AttachState.DETACHED and settled(task, backend.polling):
            raise BackendError("the backend gave up attaching the volume")
        minutes = _stuck_minutes(task)
        if minutes is not None:
            raise BackendError(
                f"the backend has not attached volume {refs.volume_id} to server "
                f"{refs.server_id} after {minutes} minutes (the attachment is still {state}), "
                "so the attach was given up: the volume is detaching until the backend has let "
                "go of it, then available. Attach it again then; if it sticks again, attach it at "
                "another device, or ask an administrator to look at the volume in the backend"
            )
        return look_again(task, backend.polling)

    def _detach_step(self, task: Task) -> RetryAfter | None:
        """Ask the backend to detach (first step), then look until it has; one that has not
        after :data:`ATTACHMENT_WAIT_SECONDS` fails the detach."""
        refs = self._refs(task)
        if refs is None:
            return None
        backend = self.regions.backend(task.region)
        storage = backend.block_storage
        if task.payload.get("phase") != "wait":
            storage.detach_volume(refs.volume, refs.server)
            task = started(task)
        state = storage.attachment(refs.volume, refs.server)
        if state is AttachState.DETACHED:
            self._finish(task, AttachStatus.DETACHED, VolumeStatus.AVAILABLE, None)
            return None
        if state is AttachState.ATTACHED and settled(task, backend.polling):
            raise BackendError("the backend did not detach the volume")
        minutes = _stuck_minutes(task)
        if minutes is not None:
            raise BackendError(
                f"the backend has not detached volume {refs.volume_id} from server "
                f"{refs.server_id} after {minutes} minutes (the attachment is still {state}), "
                "so the detach was given up: the volume stays attached (in-use). The guest may "
                "still use the device: unmount it in the server and detach again, or stop the "
                "server and detach it then"
            )
        return look_again(task, backend.polling)

    def _finish(
        self,
        task: Task,
        status: AttachStatus,
        volume_status: VolumeStatus,
        device: str | None,
        error: str | None = None,
    ) -> None:
        """The attachment and its volume as the task leaves them, and its action's event
        finished (with ``error``: failed)."""
        with self.db.session() as session:
            row = session.get(AttachmentRow, task.resource_id)
            if row is None:
                return
            row.status = status
            if device is not None:
                row.mountpoint = device
            row.updated_at = utcnow()
            volume = session.get(VolumeRow, row.volume_id)
            if volume is not None:
                volume.status = volume_status
                touch(volume)
            result = "Success" if error is None else "Error"
            finish_action(session, task.payload.get("action_id"), result, error or "")

    def _attach_failed(self, task: Task, error: str) -> None:
        """The backend did not attach: the attachment goes and the action's event is the
        error (Nova deletes the attachment). A volume the backend was asked to attach is
        ``detaching`` until the backend let go of it (an attach stuck may yet finish there,
        and the backend may refuse to let go meanwhile: :mod:`let_go`), then ``available``,
        as Cinder's is once its driver let go; one it was not asked for is at once. The
        volume's owner has a user message saying the attach failed."""
        refs = self._asked_refs(task)
        with self.db.session() as session:
            finish_action(session, task.payload.get("action_id"), "Error", error)
            row = session.get(AttachmentRow, task.resource_id)
            if row is None:
                return
            volume = session.get(VolumeRow, row.volume_id)
            session.delete(row)
            if volume is None:
                return
            volume.fault = error
            touch(volume)
            self.messages.record_for_task(
                session, ATTACH_FAILED, task, volume.project_id, resource_uuid=volume.id
            )
            if refs is None:
                volume.status = VolumeStatus.AVAILABLE
            else:
                self.let_go.queue(
                    session, task.region, volume, refs.server_id, (refs.volume, refs.server)
                )

    def _asked_refs(self, task: Task) -> _Refs | None:
        """The refs of an attach the backend was asked for; None if it was not (or its
        volume or server has none: nothing for the backend to let go of)."""
        if task.payload.get("phase") != "wait":
            return None
        try:
            return self._refs(task)
        except BadRequest:
            return None

    def _detach_failed(self, task: Task, error: str) -> None:
        """The backend did not detach: the volume stays attached (``in-use``), as Nova rolls
        a failed detach back, and the action's event is the error."""
        self._finish(task, AttachStatus.ATTACHED, VolumeStatus.IN_USE, None, error)


class _Refs(NamedTuple):
    """An attachment's volume and server: their ids and backend refs, its device."""

    volume_id: str
    server_id: str
    volume: NativeRef
    server: NativeRef
    device: str | None


def _stuck_minutes(task: Task) -> int | None:
    """The minutes since the task asked the backend (``since``, :func:`started`), once they
    reach :data:`ATTACHMENT_WAIT_SECONDS`; None before."""
    since = task.payload.get("since")
    if since is None:
        return None
    waited = (utcnow() - datetime.fromisoformat(str(since))).total_seconds()
    return round(waited / 60) if waited >= ATTACHMENT_WAIT_SECONDS else None
