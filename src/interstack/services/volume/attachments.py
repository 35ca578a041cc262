"""The attachments API (Cinder 3.27+): how a compute service reserves, connects and completes
an attachment of a volume to a server, and ends it.

An attachment without a connector only reserves the volume (``reserved``); giving the connector
(at create or with an update) makes it ``attaching`` and returns the connection info; ``complete``
makes it ``attached`` and the volume ``in-use``. Deleting the last live attachment makes the
volume ``available`` again.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, NotFound
from interstack.services.context import RequestContext
from interstack.services.tasks import utcnow
from interstack.services.volume.common import (
    live_attachments,
    new_attachment,
    touch,
    visible,
    visible_volume,
)
from interstack.services.volume.records import Attachment, attachment_record
from interstack.services.volume.state import AttachStatus, VolumeStatus, check_volume
from interstack.store import Database
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeAttachment as AttachmentRow

V = VolumeStatus
ATTACHABLE = frozenset({V.AVAILABLE, V.RESERVED})
ATTACHABLE_MULTI = frozenset({V.AVAILABLE, V.RESERVED, V.IN_USE, V.ATTACHING})


def connection_info(row: AttachmentRow) -> dict[str, Any]:
    """What a compute host needs to connect the volume; the gateway's backend does the real
    connecting, so this names the volume and the mode only."""
    return {
        "driver_volume_type": "interstack",
        "data": {"volume_id": row.volume_id, "access_mode": row.attach_mode},
    }


class AttachmentService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _visible(
        self, session: Session, ctx: RequestContext, region: str, attachment_id: str
    ) -> AttachmentRow:
        row = session.get(AttachmentRow, attachment_id)
        if (
            row is None
            or row.region != region
            or row.status == AttachStatus.DETACHED
            or not visible(ctx, row.project_id)
        ):
            raise NotFound(f"Volume attachment {attachment_id} could not be found.")
        return row

    def create(
        self,
        ctx: RequestContext,
        region: str,
        volume_id: str,
        server_id: str | None,
        connector: Mapping[str, Any] | None,
        mode: str | None,
    ) -> tuple[Attachment, dict[str, Any] | None]:
        with self.db.session() as session:
            volume = visible_volume(session, ctx, region, volume_id)
            allowed = ATTACHABLE_MULTI if volume.multiattach else ATTACHABLE
            check_volume(volume.id, volume.status, allowed, "be attached")
            if not volume.multiattach and live_attachments(session, [volume.id])[volume.id]:
                raise BadRequest(
                    f"Invalid volume: Volume {volume.id} is already attached or reserved and is "
                    "not multiattach."
                )
            chosen = "ro" if volume.readonly else (mode or "rw")
            if mode == "rw" and volume.readonly:
                raise BadRequest(f"Invalid volume: Volume {volume.id} is read-only; use mode 'ro'.")
            row = new_attachment(
                region,
                volume,
                server_id,
                mountpoint=None,
                mode=chosen,
                status=AttachStatus.RESERVED,
            )
            session.add(row)
            volume.status = V.RESERVED if volume.status == V.AVAILABLE else volume.status
            touch(volume)
            info = None
            if connector:
                info = self._connect(row, volume, connector)
            session.flush()
            return attachment_record(row), info

    @staticmethod
    def _connect(
        row: AttachmentRow, volume: VolumeRow, connector: Mapping[str, Any]
    ) -> dict[str, Any]:
        row.connector = dict(connector)
        row.mountpoint = str(connector.get("mountpoint") or "") or row.mountpoint
        row.status = AttachStatus.ATTACHING
        row.updated_at = utcnow()
        if volume.status in (V.AVAILABLE, V.RESERVED):
            volume.status = V.ATTACHING
            touch(volume)
        return connection_info(row)

    def update(
        self, ctx: RequestContext, region: str, attachment_id: str, connector: Mapping[str, Any]
    ) -> tuple[Attachment, dict[str, Any]]:
        if not connector:
            raise BadRequest("Invalid input received: an attachment update needs a connector.")
        with self.db.session() as session:
            row = self._visible(session, ctx, region, attachment_id)
            if row.status == AttachStatus.ATTACHED:
                raise BadRequest(f"Invalid volume: attachment {row.id} is already attached.")
            volume = session.get(VolumeRow, row.volume_id)
            assert volume is not None
            info = self._connect(row, volume, connector)
            return attachment_record(row), info

    def complete(self, ctx: RequestContext, region: str, attachment_id: str) -> None:
        with self.db.session() as session:
            row = self._visible(session, ctx, region, attachment_id)
            if row.status not in (AttachStatus.ATTACHING, AttachStatus.ATTACHED):
                raise BadRequest(
                    f"Invalid volume: attachment {row.id} has no connector yet; update it with "
                    "the host's connector before completing it."
                )
            row.status = AttachStatus.ATTACHED
            row.updated_at = utcnow()
            volume = session.get(VolumeRow, row.volume_id)
            assert volume is not None
            volume.status = V.IN_USE
            touch(volume)

    def delete(self, ctx: RequestContext, region: str, attachment_id: str) -> None:
        with self.db.session() as session:
            row = self._visible(session, ctx, region, attachment_id)
            row.status = AttachStatus.DETACHED
            row.updated_at = utcnow()
            session.flush()
            volume = session.get(VolumeRow, row.volume_id)
            if volume is not None:
                left = live_attachments(session, [volume.id])[volume.id]
                attached = any(a.status == AttachStatus.ATTACHED for a in left)
                volume.status = V.IN_USE if attached else (V.RESERVED if left else V.AVAILABLE)
                touch(volume)

    def get(
        self, ctx: RequestContext, region: str, attachment_id: str
    ) -> tuple[Attachment, dict[str, Any] | None]:
        with self.db.session() as session:
            row = self._visible(session, ctx, region, attachment_id)
            info = connection_info(row) if row.status != AttachStatus.RESERVED else None
            return attachment_record(row), info

    def list(
        self, ctx: RequestContext, region: str, *, volume_id: str | None, server_id: str | None
    ) -> builtins.list[Attachment]:
        stmt = select(AttachmentRow).where(
            AttachmentRow.region == region, AttachmentRow.status != AttachStatus.DETACHED
        )
        if not ctx.is_admin:
            stmt = stmt.where(AttachmentRow.project_id == (ctx.project_id or ""))
        if volume_id is not None:
            stmt = stmt.where(AttachmentRow.volume_id == volume_id)
        if server_id is not None:
            stmt = stmt.where(AttachmentRow.server_id == server_id)
        with self.db.session() as session:
            return [
                attachment_record(r)
                for r in session.scalars(stmt.order_by(AttachmentRow.created_at))
            ]
