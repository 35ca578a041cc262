"""Image JSON of Nova's image proxy (``/images``): a Glance image in Nova's older terms."""

from __future__ import annotations

from typing import Any

from interstack.api.compute.views.links import resource_links
from interstack.services.image.model import ImageInfo

#: Glance status -> Nova's image status and progress, as Nova's image view maps them
_STATUS = {
    "active": ("ACTIVE", 100),
    "queued": ("SAVING", 25),
    "saving": ("SAVING", 50),
    "uploading": ("SAVING", 50),
    "importing": ("SAVING", 50),
    "deleted": ("DELETED", 0),
    "pending_delete": ("DELETED", 0),
    "killed": ("ERROR", 0),
}


def _timestamp(image: ImageInfo, updated: bool) -> str:
    return (image.updated_at if updated else image.created_at).strftime("%Y-%m-%dT%H:%M:%SZ")


def image(found: ImageInfo, root: str) -> dict[str, Any]:
    status, progress = _STATUS.get(str(found.status), ("UNKNOWN", 0))
    body: dict[str, Any] = {
        "id": found.id,
        "name": found.name,
        "status": status,
        "progress": progress,
        "minDisk": found.min_disk,
        "minRam": found.min_ram,
        "metadata": dict(found.properties),
        "created": _timestamp(found, updated=False),
        "updated": _timestamp(found, updated=True),
        "links": resource_links(root, "images", found.id),
        "OS-EXT-IMG-SIZE:size": found.size,
    }
    server_id = found.properties.get("instance_uuid")
    if isinstance(server_id, str) and server_id:
        body["server"] = {"id": server_id, "links": resource_links(root, "servers", server_id)}
    return body
