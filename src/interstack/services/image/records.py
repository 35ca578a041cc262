"""Rows to records, and the store queries every part of the image service shares."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.services.image.model import (
    ImageInfo,
    ImageStatus,
    MemberInfo,
    MemberStatus,
    Visibility,
)
from interstack.store.models import Image, ImageMember, ImageTag


def now() -> datetime:
    """Timestamps are stored as naive UTC, to the second (as Glance shows them)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def tags_of(session: Session, image_ids: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {i: [] for i in image_ids}
    if not image_ids:
        return found
    rows = session.execute(
        select(ImageTag.image_id, ImageTag.value)
        .where(ImageTag.image_id.in_(image_ids))
        .order_by(ImageTag.id)
    )
    for image_id, value in rows:
        found[image_id].append(value)
    return found


def image_info(row: Image, tags: Sequence[str]) -> ImageInfo:
    return ImageInfo(
        id=row.id,
        region=row.region,
        name=row.name,
        owner=row.owner,
        status=ImageStatus(row.status),
        visibility=Visibility(row.visibility),
        protected=row.protected,
        os_hidden=row.os_hidden,
        container_format=row.container_format,
        disk_format=row.disk_format,
        size=row.size,
        virtual_size=row.virtual_size,
        checksum=row.checksum,
        os_hash_algo=row.os_hash_algo,
        os_hash_value=row.os_hash_value,
        min_disk=row.min_disk,
        min_ram=row.min_ram,
        tags=tuple(tags),
        properties=dict(row.properties or {}),
        created_at=row.created_at,
        updated_at=row.updated_at,
        has_data=row.native_ref is not None,
    )


def info_of(session: Session, row: Image) -> ImageInfo:
    return image_info(row, tags_of(session, [row.id])[row.id])


def member_info(row: ImageMember) -> MemberInfo:
    return MemberInfo(
        image_id=row.image_id,
        member_id=row.member_id,
        status=MemberStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
