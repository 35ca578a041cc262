"""What the volume modules share: visible rows, records with their types and attachments,
metadata checks."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, NotFound
from interstack.services.context import RequestContext
from interstack.services.tasks import utcnow
from interstack.services.volume.records import Volume, volume_record
from interstack.services.volume.state import AttachStatus
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeAttachment as AttachmentRow
from interstack.store.models import VolumeSnapshot as SnapshotRow
from interstack.store.models import VolumeType as TypeRow

#: Cinder's ``storage_availability_zone`` default: every region has one zone of this name
AVAILABILITY_ZONE = "nova"


def volume_not_found(volume_id: str) -> NotFound:
    return NotFound(f"Volume {volume_id} could not be found.")


def snapshot_not_found(snapshot_id: str) -> NotFound:
    return NotFound(f"Snapshot {snapshot_id} could not be found.")


def visible(ctx: RequestContext, project_id: str) -> bool:
    """Whether the caller sees a project's block storage: its own, or any for an admin."""
    return ctx.is_admin or project_id == ctx.project_id


Row = TypeVar("Row", VolumeRow, SnapshotRow)


def _visible(
    session: Session,
    model: type[Row],
    ctx: RequestContext,
    region: str,
    row_id: str,
    missing: Callable[[str], NotFound],
) -> Row:
    row = session.get(model, row_id)
    if row is None or row.region != region or not visible(ctx, row.project_id):
        raise missing(row_id)
    return row


def visible_volume(session: Session, ctx: RequestContext, region: str, volume_id: str) -> VolumeRow:
    """The volume if the caller may see it; another project's is a 404, as in Cinder."""
    return _visible(session, VolumeRow, ctx, region, volume_id, volume_not_found)


def visible_snapshot(
    session: Session, ctx: RequestContext, region: str, snapshot_id: str
) -> SnapshotRow:
    """The snapshot if the caller may see it; another project's is a 404."""
    return _visible(session, SnapshotRow, ctx, region, snapshot_id, snapshot_not_found)


def live_attachments(session: Session, volume_ids: Sequence[str]) -> dict[str, list[AttachmentRow]]:
    """The attachments of each volume that are not detached, oldest first."""
    found: dict[str, list[AttachmentRow]] = {v: [] for v in volume_ids}
    if not volume_ids:
        return found
    rows = session.scalars(
        select(AttachmentRow)
        .where(
            AttachmentRow.volume_id.in_(volume_ids),
            AttachmentRow.status != AttachStatus.DETACHED,
        )
        .order_by(AttachmentRow.created_at)
    )
    for row in rows:
        found[row.volume_id].append(row)
    return found


def server_attachments(
    session: Session, server_id: str, status: AttachStatus | None = None
) -> list[AttachmentRow]:
    """The server's attachments that are not detached (or those in ``status``: a boot's
    ``attaching`` ones), oldest first.

    Attachments made at the same instant (one boot's volumes) come by device name, then
    id, as the boot and migration 0007 order them, so every reader sees one order.
    """
    wanted = (
        AttachmentRow.status != AttachStatus.DETACHED
        if status is None
        else AttachmentRow.status == status
    )
    return list(
        session.scalars(
            select(AttachmentRow)
            .where(AttachmentRow.server_id == server_id, wanted)
            .order_by(AttachmentRow.created_at, AttachmentRow.mountpoint, AttachmentRow.id)
        )
    )


def new_attachment(
    region: str,
    volume: VolumeRow,
    server_id: str | None,
    *,
    mountpoint: str | None,
    mode: str,
    status: AttachStatus,
    delete_on_termination: bool = False,
    tag: str | None = None,
    boot_index: int | None = None,
) -> AttachmentRow:
    """A new attachment row of ``volume`` to a server (the caller adds it to its session);
    ``boot_index`` 0 marks the root disk the server boots from."""
    stamp = utcnow()
    return AttachmentRow(
        id=str(uuid.uuid4()),
        region=region,
        project_id=volume.project_id,
        volume_id=volume.id,
        server_id=server_id,
        mountpoint=mountpoint,
        attach_mode=mode,
        status=status,
        connector={},
        delete_on_termination=delete_on_termination,
        tag=tag,
        boot_index=boot_index,
        created_at=stamp,
        updated_at=stamp,
    )


def records(session: Session, rows: Sequence[VolumeRow]) -> list[Volume]:
    """Volumes with their types and attachments, in two queries for any number of rows."""
    type_ids = {r.volume_type_id for r in rows if r.volume_type_id}
    types = (
        {t.id: t for t in session.scalars(select(TypeRow).where(TypeRow.id.in_(type_ids)))}
        if type_ids
        else {}
    )
    attachments = live_attachments(session, [r.id for r in rows])
    return [volume_record(r, types.get(r.volume_type_id or ""), attachments[r.id]) for r in rows]


def touch(row: VolumeRow | SnapshotRow) -> None:
    row.updated_at = utcnow()


def write_metadata(
    row: VolumeRow | SnapshotRow, checked: Mapping[str, str], *, replace: bool
) -> dict[str, str]:
    """Merge checked items into the row's metadata (POST) or make them all of it (PUT);
    returns the metadata it has now."""
    row.metadata_items = dict(checked) if replace else {**row.metadata_items, **checked}
    touch(row)
    return {str(k): str(v) for k, v in row.metadata_items.items()}


def delete_metadata_item(row: VolumeRow | SnapshotRow, key: str, noun: str) -> None:
    """Drop one metadata item; 404 naming the ``noun`` ("Volume") when the row has no such key."""
    if key not in row.metadata_items:
        raise NotFound(f"{noun} {row.id} has no metadata with key {key}.")
    row.metadata_items = {k: v for k, v in row.metadata_items.items() if k != key}
    touch(row)


def check_metadata(metadata: Mapping[str, object], what: str = "metadata") -> dict[str, str]:
    """Cinder's metadata rules: string keys of 1-255 characters, string values up to 255."""
    checked: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise BadRequest(
                f"Invalid input received: {what} keys must be 1 to 255 characters long."
            )
        if not isinstance(value, str):
            raise BadRequest(
                f"Invalid input received: the value of {what} {key!r} must be a string."
            )
        if len(value) > 255:
            raise BadRequest(
                f"Invalid input received: the value of {what} {key!r} is longer than 255 "
                "characters."
            )
        checked[key] = value
    return checked
