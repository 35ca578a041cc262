"""Volume actions (``POST /volumes/{id}/action``): extend, bootable and read-only flags, an
admin's status reset, upload to an image, and the reserve/attach/detach steps a compute service
takes (Cinder's pre-3.27 attach flow).

Each checks the volume's status as Cinder does (400 "Invalid volume" otherwise); the long ones
(extend, upload) move the volume into a transient status and hand the work to a task.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Forbidden, NotFound
from interstack.services.context import RequestContext
from interstack.services.interfaces import VolumeImages, VolumeUpload
from interstack.services.regions import Regions
from interstack.services.tasks import TaskQueue, utcnow
from interstack.services.volume.common import new_attachment, touch, visible_volume
from interstack.services.volume.messages import started_by
from interstack.services.volume.quotas import VolumeQuotaService
from interstack.services.volume.state import (
    RESETTABLE,
    AttachStatus,
    VolumeStatus,
    check_volume,
)
from interstack.services.volume.volume_tasks import EXTEND, UPLOAD
from interstack.store import Database
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeAttachment as AttachmentRow

V = VolumeStatus
EXTENDABLE = frozenset({V.AVAILABLE, V.IN_USE})
UPLOADABLE = frozenset({V.AVAILABLE})
UPLOADABLE_FORCED = frozenset({V.AVAILABLE, V.IN_USE})
RESET_ATTACH = frozenset({"attached", "detached"})


def _admin(ctx: RequestContext, action: str) -> None:
    if not ctx.is_admin:
        raise Forbidden(
            f"Policy doesn't allow volume_extension:volume_admin_actions:{action} to be performed."
        )


class VolumeActions:
    def __init__(
        self,
        db: Database,
        regions: Regions,
        tasks: TaskQueue,
        quotas: VolumeQuotaService,
        images: VolumeImages,
    ) -> None:
        self.db = db
        self.regions = regions
        self.tasks = tasks
        self.quotas = quotas
        self.images = images

    def extend(self, ctx: RequestContext, region: str, volume_id: str, new_size: int) -> None:
        self.regions.require(region, "volume_extend")
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            check_volume(row.id, row.status, EXTENDABLE, "be extended")
            if new_size <= row.size:
                raise BadRequest(
                    "Invalid input received: New size for extend must be greater than current "
                    f"size. (current: {row.size}, extended: {new_size})."
                )
            self.quotas.check_volume(session, row.project_id, new_size - row.size, count=0)
            payload = {"size": new_size, "previous_status": row.status, **started_by(ctx)}
            row.status = V.EXTENDING
            touch(row)
            self.tasks.enqueue(EXTEND, region, row.id, payload, session=session)

    def set_bootable(self, ctx: RequestContext, region: str, volume_id: str, value: bool) -> None:
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            row.bootable = value
            touch(row)

    def set_readonly(self, ctx: RequestContext, region: str, volume_id: str, value: bool) -> None:
        """Future attachments are read-only (``attach_mode`` ``ro``); existing ones keep theirs."""
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            if row.status in (V.DELETING, V.ERROR_DELETING):
                raise BadRequest(f"Invalid volume: Volume {row.id} is being deleted.")
            row.readonly = value
            # Cinder keeps the flag as admin metadata, which GET shows as "True"/"False"
            row.admin_metadata = {**row.admin_metadata, "readonly": str(value)}
            touch(row)

    def reset_status(
        self,
        ctx: RequestContext,
        region: str,
        volume_id: str,
        status: str | None,
        attach_status: str | None,
    ) -> None:
        """Admins only: set the status a stuck volume shows (nothing runs in the backend)."""
        _admin(ctx, "reset_status")
        if status is None and attach_status is None:
            raise BadRequest("Must specify 'status', 'attach_status' or 'migration_status'.")
        if status is not None and status.lower() not in RESETTABLE:
            raise BadRequest(f"Invalid input received: status {status!r} is not a volume status.")
        if attach_status is not None and attach_status.lower() not in RESET_ATTACH:
            raise BadRequest(
                f"Invalid input received: attach_status {attach_status!r} must be attached or "
                "detached."
            )
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            if status is not None:
                row.status = status.lower()
            if attach_status == "detached":
                for attachment in self._attachments(session, row.id):
                    attachment.status = AttachStatus.DETACHED
                    attachment.updated_at = utcnow()
            touch(row)

    def upload_to_image(
        self,
        ctx: RequestContext,
        region: str,
        volume_id: str,
        upload: VolumeUpload,
        *,
        force: bool,
    ) -> tuple[VolumeRow, str]:
        """Start copying the volume into a new image; returns the volume and the image id."""
        self.regions.require(region, "volume_to_image")
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            check_volume(
                row.id,
                row.status,
                UPLOADABLE_FORCED if force else UPLOADABLE,
                "be uploaded to an image",
            )
            if row.native_ref is None:
                raise BadRequest(f"Invalid volume: Volume {row.id} has no data yet.")
        image = self.images.begin_upload(ctx, region, upload)
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            payload = {"image_id": image.id, "previous_status": row.status, **started_by(ctx)}
            row.status = V.UPLOADING
            touch(row)
            self.tasks.enqueue(UPLOAD, region, row.id, payload, session=session)
            session.flush()
            session.expunge(row)
        return row, image.id

    # -- the pre-3.27 attach flow ------------------------------------------------------------

    @staticmethod
    def _attachments(session: Session, volume_id: str) -> list[AttachmentRow]:
        return list(
            session.scalars(
                select(AttachmentRow).where(
                    AttachmentRow.volume_id == volume_id,
                    AttachmentRow.status != AttachStatus.DETACHED,
                )
            )
        )

    def _move(
        self,
        ctx: RequestContext,
        region: str,
        volume_id: str,
        allowed: frozenset[VolumeStatus],
        target: VolumeStatus,
        doing: str,
    ) -> None:
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            check_volume(row.id, row.status, allowed, doing)
            row.status = target
            touch(row)

    def reserve(self, ctx: RequestContext, region: str, volume_id: str) -> None:
        self._move(ctx, region, volume_id, frozenset({V.AVAILABLE}), V.ATTACHING, "be reserved")

    def unreserve(self, ctx: RequestContext, region: str, volume_id: str) -> None:
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            check_volume(row.id, row.status, frozenset({V.ATTACHING, V.RESERVED}), "be unreserved")
            row.status = V.IN_USE if self._attachments(session, row.id) else V.AVAILABLE
            touch(row)

    def begin_detaching(self, ctx: RequestContext, region: str, volume_id: str) -> None:
        self._move(ctx, region, volume_id, frozenset({V.IN_USE}), V.DETACHING, "begin detaching")

    def roll_detaching(self, ctx: RequestContext, region: str, volume_id: str) -> None:
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            if row.status == V.DETACHING:
                row.status = V.IN_USE
                touch(row)

    def attach(
        self,
        ctx: RequestContext,
        region: str,
        volume_id: str,
        *,
        server_id: str | None,
        mountpoint: str,
        mode: str,
    ) -> str:
        """Record the attachment a compute service made; the volume is ``in-use``."""
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            allowed = frozenset({V.AVAILABLE, V.ATTACHING, V.RESERVED})
            if row.multiattach:
                allowed = allowed | {V.IN_USE}
            check_volume(row.id, row.status, allowed, "be attached")
            if row.readonly and mode != "ro":
                raise BadRequest(
                    f"Invalid volume: Volume {row.id} is read-only; attach it with mode 'ro'."
                )
            attachment = new_attachment(
                region,
                row,
                server_id,
                mountpoint=mountpoint,
                mode=mode,
                status=AttachStatus.ATTACHED,
            )
            session.add(attachment)
            row.status = V.IN_USE
            touch(row)
            return attachment.id

    def detach(
        self, ctx: RequestContext, region: str, volume_id: str, attachment_id: str | None
    ) -> None:
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            check_volume(row.id, row.status, frozenset({V.IN_USE, V.DETACHING}), "be detached")
            live = self._attachments(session, row.id)
            if attachment_id is not None:
                live = [a for a in live if a.id == attachment_id]
                if not live:
                    raise NotFound(f"Volume attachment {attachment_id} could not be found.")
            elif len(live) > 1:
                raise BadRequest(
                    f"Invalid volume: Volume {row.id} has several attachments; name the "
                    "attachment_id to detach."
                )
            for attachment in live:
                attachment.status = AttachStatus.DETACHED
                attachment.updated_at = utcnow()
            session.flush()
            remaining = len(self._attachments(session, row.id))
            row.status = V.IN_USE if remaining > 0 else V.AVAILABLE
            touch(row)
