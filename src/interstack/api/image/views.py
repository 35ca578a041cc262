"""The wire JSON of Glance v2: images (custom properties at the top level) and members.

Links are relative to the image endpoint (``/v2/images/<id>``), as Glance writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from interstack.services.image.model import ImageInfo, MemberInfo


def timestamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def image(info: ImageInfo) -> dict[str, Any]:
    body: dict[str, Any] = dict(info.properties)
    body.update(
        {
            "id": info.id,
            "name": info.name,
            "status": info.status.value,
            "visibility": info.visibility.value,
            "protected": info.protected,
            "os_hidden": info.os_hidden,
            "owner": info.owner,
            "container_format": info.container_format,
            "disk_format": info.disk_format,
            "size": info.size,
            "virtual_size": info.virtual_size,
            "checksum": info.checksum,
            "os_hash_algo": info.os_hash_algo,
            "os_hash_value": info.os_hash_value,
            "min_disk": info.min_disk,
            "min_ram": info.min_ram,
            "tags": list(info.tags),
            "created_at": timestamp(info.created_at),
            "updated_at": timestamp(info.updated_at),
            "self": f"/v2/images/{info.id}",
            "file": f"/v2/images/{info.id}/file",
            "schema": "/v2/schemas/image",
        }
    )
    return body


def images(
    found: Sequence[ImageInfo], query: Sequence[tuple[str, str]], limit: int
) -> dict[str, Any]:
    """A page of images with ``first`` and, when the page is full, ``next`` (same query)."""
    kept = [(k, v) for k, v in query if k != "marker"]
    first = "/v2/images" + (f"?{urlencode(kept)}" if kept else "")
    body: dict[str, Any] = {
        "images": [image(i) for i in found],
        "first": first,
        "schema": "/v2/schemas/images",
    }
    if found and len(found) >= limit:
        following = [(k, v) for k, v in kept if k != "limit"]
        following += [("marker", found[-1].id), ("limit", str(limit))]
        body["next"] = f"/v2/images?{urlencode(following)}"
    return body


def member(info: MemberInfo) -> dict[str, Any]:
    return {
        "image_id": info.image_id,
        "member_id": info.member_id,
        "status": info.status.value,
        "created_at": timestamp(info.created_at),
        "updated_at": timestamp(info.updated_at),
        "schema": "/v2/schemas/member",
    }


def members(found: Sequence[MemberInfo]) -> dict[str, Any]:
    return {"members": [member(m) for m in found], "schema": "/v2/schemas/members"}
