"""The block storage domain objects the API builds its views from (no wire format here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from interstack.services.volume.state import AttachStatus
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeAttachment as AttachmentRow
from interstack.store.models import VolumeSnapshot as SnapshotRow
from interstack.store.models import VolumeType as TypeRow


@dataclass(frozen=True)
class Attachment:
    id: str
    volume_id: str
    server_id: str | None
    mountpoint: str | None
    attach_mode: str
    status: str
    connector: dict[str, Any]
    project_id: str
    created_at: datetime
    updated_at: datetime
    delete_on_termination: bool = False
    tag: str | None = None


@dataclass(frozen=True)
class VolumeType:
    id: str
    name: str
    description: str | None
    is_public: bool
    extra_specs: dict[str, str]


@dataclass(frozen=True)
class Volume:
    id: str
    region: str
    project_id: str
    user_id: str
    name: str | None
    description: str | None
    size: int
    status: str
    volume_type: VolumeType | None
    availability_zone: str
    bootable: bool
    readonly: bool
    multiattach: bool
    metadata: dict[str, str]
    image_metadata: dict[str, str]
    snapshot_id: str | None
    source_volid: str | None
    created_at: datetime
    updated_at: datetime
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Snapshot:
    id: str
    region: str
    project_id: str
    user_id: str
    volume_id: str
    name: str | None
    description: str | None
    size: int
    status: str
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class QuotaUsage:
    limit: int
    in_use: int
    reserved: int = 0


def type_record(row: TypeRow) -> VolumeType:
    return VolumeType(
        id=row.id,
        name=row.name,
        description=row.description,
        is_public=row.is_public,
        extra_specs={str(k): str(v) for k, v in row.extra_specs.items()},
    )


def attachment_record(row: AttachmentRow) -> Attachment:
    return Attachment(
        id=row.id,
        volume_id=row.volume_id,
        server_id=row.server_id,
        mountpoint=row.mountpoint,
        attach_mode=row.attach_mode,
        status=row.status,
        connector=dict(row.connector),
        project_id=row.project_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        delete_on_termination=row.delete_on_termination,
        tag=row.tag,
    )


#: the admin metadata keys Cinder shows in a volume's ``metadata``
VISIBLE_ADMIN_KEYS = frozenset({"readonly"})
#: the admin metadata key Cinder sets to an attachment's mode (``rw``/``ro``) once the attachment
#: is connected (a connector given, or attached) and drops when the last attachment goes;
#: derived here from the live attachments rather than stored
ATTACHED_MODE = "attached_mode"


def _visible_admin(admin: Mapping[str, Any], attachments: list[AttachmentRow]) -> dict[str, Any]:
    visible = {k: v for k, v in admin.items() if k in VISIBLE_ADMIN_KEYS}
    connected = (a for a in attachments if a.status == AttachStatus.ATTACHED or a.connector)
    attached = next(connected, None)
    if attached is not None:
        visible[ATTACHED_MODE] = attached.attach_mode
    return visible


def volume_record(
    row: VolumeRow, volume_type: TypeRow | None, attachments: list[AttachmentRow]
) -> Volume:
    return Volume(
        id=row.id,
        region=row.region,
        project_id=row.project_id,
        user_id=row.user_id,
        name=row.name,
        description=row.description,
        size=row.size,
        status=row.status,
        volume_type=type_record(volume_type) if volume_type is not None else None,
        availability_zone=row.availability_zone,
        bootable=row.bootable,
        readonly=row.readonly,
        multiattach=row.multiattach,
        metadata={
            str(k): str(v)
            for k, v in (
                row.metadata_items | _visible_admin(row.admin_metadata, attachments)
            ).items()
        },
        image_metadata={str(k): str(v) for k, v in row.image_metadata.items()},
        snapshot_id=row.snapshot_id,
        source_volid=row.source_volid,
        created_at=row.created_at,
        updated_at=row.updated_at,
        attachments=tuple(attachment_record(a) for a in attachments),
    )


def snapshot_record(row: SnapshotRow) -> Snapshot:
    return Snapshot(
        id=row.id,
        region=row.region,
        project_id=row.project_id,
        user_id=row.user_id,
        volume_id=row.volume_id,
        name=row.name,
        description=row.description,
        size=row.size,
        status=row.status,
        metadata={str(k): str(v) for k, v in row.metadata_items.items()},
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@dataclass(frozen=True)
class UserMessage:
    """A message as the API shows it (no wire format here)."""

    id: str
    project_id: str
    event_id: str
    user_message: str
    message_level: str
    resource_type: str
    resource_uuid: str | None
    request_id: str | None
    created_at: datetime
    expires_at: datetime
