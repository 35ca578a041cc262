"""Block storage JSON: volumes, snapshots, types, attachments, quotas, limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from interstack.api.microversions import APIVersion
from interstack.services.volume.records import (
    Attachment,
    QuotaUsage,
    Snapshot,
    UserMessage,
    Volume,
    VolumeType,
)

V3_13 = APIVersion(3, 13)  # volumes' group_id
V3_41 = APIVersion(3, 41)  # snapshots' user_id
V3_48 = APIVersion(3, 48)  # volumes' shared_targets, service_uuid


def timestamp(when: datetime | None) -> str | None:
    return when.isoformat(timespec="microseconds") if when is not None else None


def links(root: str, project_id: str, collection: str, item_id: str) -> list[dict[str, str]]:
    """``root`` is the unversioned endpoint (``.../<region>/volume``)."""
    return [
        {"rel": "self", "href": f"{root}/v3/{project_id}/{collection}/{item_id}"},
        {"rel": "bookmark", "href": f"{root}/{project_id}/{collection}/{item_id}"},
    ]


def next_links(href: str, query: QueryParams, ids: Sequence[str], limit: int | None) -> Any:
    if not ids or limit is None or len(ids) < limit:
        return []
    params = [(k, v) for k, v in query.multi_items() if k != "marker"]
    params.append(("marker", ids[-1]))
    return [{"rel": "next", "href": f"{href}?{urlencode(params)}"}]


def attachment_in_volume(attachment: Attachment) -> dict[str, Any]:
    """An entry of a volume's ``attachments``."""
    return {
        "id": attachment.volume_id,
        "attachment_id": attachment.id,
        "volume_id": attachment.volume_id,
        "server_id": attachment.server_id,
        "host_name": None,
        "device": attachment.mountpoint,
        "attached_at": timestamp(attachment.created_at),
    }


def attachment(found: Attachment) -> dict[str, Any]:
    """An attachment of the attachments API (without its connection info)."""
    return {
        "id": found.id,
        "status": found.status,
        "instance": found.server_id,
        "volume_id": found.volume_id,
        "attach_mode": found.attach_mode,
        "attached_at": timestamp(found.updated_at) if found.status == "attached" else None,
        "detached_at": None,
    }


def volume_summary(volume: Volume, root: str, project_id: str) -> dict[str, Any]:
    return {
        "id": volume.id,
        "name": volume.name,
        "links": links(root, project_id, "volumes", volume.id),
    }


def volume_detail(
    volume: Volume, root: str, project_id: str, version: APIVersion, *, admin: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        **volume_summary(volume, root, project_id),
        "status": volume.status,
        "size": volume.size,
        "availability_zone": volume.availability_zone,
        "created_at": timestamp(volume.created_at),
        "updated_at": timestamp(volume.updated_at),
        "attachments": [attachment_in_volume(a) for a in volume.attachments],
        "description": volume.description,
        "volume_type": volume.volume_type.name if volume.volume_type else None,
        "snapshot_id": volume.snapshot_id,
        "source_volid": volume.source_volid,
        "metadata": volume.metadata,
        "user_id": volume.user_id,
        "bootable": "true" if volume.bootable else "false",
        "encrypted": False,
        "replication_status": None,
        "consistencygroup_id": None,
        "multiattach": volume.multiattach,
        "os-vol-tenant-attr:tenant_id": volume.project_id,
    }
    if volume.image_metadata:
        body["volume_image_metadata"] = volume.image_metadata
    if admin:
        body["os-vol-host-attr:host"] = f"{volume.region}@interstack#{volume.region}"
        body["os-vol-mig-status-attr:migstat"] = None
        body["os-vol-mig-status-attr:name_id"] = None
    if version >= V3_13:
        body["group_id"] = None
    if version >= V3_48:
        body["shared_targets"] = False
        body["service_uuid"] = None
    return body


#: what Cinder's API extensions add to GET answers only (create and update answer without them)
_GET_ONLY = (
    "os-vol-tenant-attr:tenant_id",
    "volume_image_metadata",
    "os-vol-host-attr:host",
    "os-vol-mig-status-attr:migstat",
    "os-vol-mig-status-attr:name_id",
)


def volume_written(
    volume: Volume, root: str, project_id: str, version: APIVersion, *, admin: bool
) -> dict[str, Any]:
    """The answer of a create or an update: the volume without the GET-only extension fields."""
    body = volume_detail(volume, root, project_id, version, admin=admin)
    for key in _GET_ONLY:
        body.pop(key, None)
    return body


def snapshot_detail(snapshot: Snapshot, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": snapshot.id,
        "name": snapshot.name,
        "description": snapshot.description,
        "volume_id": snapshot.volume_id,
        "status": snapshot.status,
        "size": snapshot.size,
        "metadata": snapshot.metadata,
        "created_at": timestamp(snapshot.created_at),
        "updated_at": timestamp(snapshot.updated_at),
        "os-extended-snapshot-attributes:project_id": snapshot.project_id,
        "os-extended-snapshot-attributes:progress": "100%"
        if snapshot.status == "available"
        else "0%",
    }
    if version >= V3_41:
        body["user_id"] = snapshot.user_id
    return body


def snapshot_written(snapshot: Snapshot, version: APIVersion) -> dict[str, Any]:
    """The answer of a create or an update: without the extended attributes GET adds."""
    body = snapshot_detail(snapshot, version)
    del body["os-extended-snapshot-attributes:project_id"]
    del body["os-extended-snapshot-attributes:progress"]
    return body


def volume_type(found: VolumeType) -> dict[str, Any]:
    return {
        "id": found.id,
        "name": found.name,
        "description": found.description,
        "is_public": found.is_public,
        "os-volume-type-access:is_public": found.is_public,
        "extra_specs": found.extra_specs,
        "qos_specs_id": None,
    }


def quota_set(project_id: str, limits: Mapping[str, int]) -> dict[str, Any]:
    return {"quota_set": {"id": project_id, **limits}}


def quota_set_usage(project_id: str, usage: Mapping[str, QuotaUsage]) -> dict[str, Any]:
    return {
        "quota_set": {
            "id": project_id,
            **{
                key: {"limit": u.limit, "in_use": u.in_use, "reserved": u.reserved}
                for key, u in usage.items()
            },
        }
    }


def absolute_limits(usage: Mapping[str, QuotaUsage]) -> dict[str, Any]:
    def limit(key: str) -> int:
        return usage[key].limit

    def used(key: str) -> int:
        return usage[key].in_use

    return {
        "limits": {
            "rate": [],
            "absolute": {
                "maxTotalVolumes": limit("volumes"),
                "maxTotalSnapshots": limit("snapshots"),
                "maxTotalVolumeGigabytes": limit("gigabytes"),
                "maxTotalBackups": limit("backups"),
                "maxTotalBackupGigabytes": limit("backup_gigabytes"),
                "totalVolumesUsed": used("volumes"),
                "totalSnapshotsUsed": used("snapshots"),
                "totalGigabytesUsed": used("gigabytes"),
                "totalBackupsUsed": used("backups"),
                "totalBackupGigabytesUsed": used("backup_gigabytes"),
            },
        }
    }


def message(found: UserMessage, root: str, project_id: str) -> dict[str, Any]:
    """A user message as Cinder shows it: its expiry as ``guaranteed_until``, its resource's
    type and id only when it has them."""
    shown: dict[str, Any] = {
        "id": found.id,
        "event_id": found.event_id,
        "user_message": found.user_message,
        "message_level": found.message_level,
        "created_at": timestamp(found.created_at),
        "guaranteed_until": timestamp(found.expires_at),
        "request_id": found.request_id,
        "links": links(root, project_id, "messages", found.id),
    }
    if found.resource_type:
        shown["resource_type"] = found.resource_type
    if found.resource_uuid:
        shown["resource_uuid"] = found.resource_uuid
    return shown
