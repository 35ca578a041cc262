"""Store access for object storage: account, container and object rows, and their totals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from interstack.services.object.model import (
    AccountView,
    ContainerView,
    LargeKind,
    ObjectView,
    Versioning,
    VersionsMode,
)
from interstack.store.models import ObjectAccount, ObjectContainer, StoredObject


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def live(now: float) -> ColumnElement[bool]:
    """Objects not yet expired (``X-Delete-At`` in the future, or none)."""
    return or_(StoredObject.delete_at.is_(None), StoredObject.delete_at > int(now))


def account_row(session: Session, region: str, project_id: str) -> ObjectAccount | None:
    return session.scalars(
        select(ObjectAccount).where(
            ObjectAccount.region == region, ObjectAccount.project_id == project_id
        )
    ).first()


def ensure_account(session: Session, region: str, project_id: str) -> ObjectAccount:
    row = account_row(session, region, project_id)
    if row is None:
        now = utcnow()
        row = ObjectAccount(
            region=region, project_id=project_id, meta={}, created_at=now, updated_at=now
        )
        session.add(row)
        session.flush()
    return row


def container_row(
    session: Session, region: str, project_id: str, name: str
) -> ObjectContainer | None:
    return session.scalars(
        select(ObjectContainer).where(
            ObjectContainer.region == region,
            ObjectContainer.project_id == project_id,
            ObjectContainer.name == name,
        )
    ).first()


def object_row(session: Session, container_id: str, name: str, now: float) -> StoredObject | None:
    """The live object of that name; an expired one is left for the reaper and is not found."""
    return session.scalars(
        select(StoredObject).where(
            StoredObject.container_id == container_id, StoredObject.name == name, live(now)
        )
    ).first()


def container_totals(
    session: Session, container_ids: Sequence[str], now: float
) -> dict[str, tuple[int, int]]:
    """Live object count and bytes per container id."""
    if not container_ids:
        return {}
    rows = session.execute(
        select(
            StoredObject.container_id,
            func.count(StoredObject.id),
            func.coalesce(func.sum(StoredObject.size), 0),
        )
        .where(StoredObject.container_id.in_(container_ids), live(now))
        .group_by(StoredObject.container_id)
    ).all()
    return {cid: (int(count), int(size)) for cid, count, size in rows}


def account_totals(
    session: Session, region: str, project_id: str, now: float
) -> tuple[int, int, int]:
    """Containers, live objects and bytes of an account."""
    containers = session.scalar(
        select(func.count(ObjectContainer.id)).where(
            ObjectContainer.region == region, ObjectContainer.project_id == project_id
        )
    )
    objects, size = session.execute(
        select(func.count(StoredObject.id), func.coalesce(func.sum(StoredObject.size), 0))
        .join(ObjectContainer, ObjectContainer.id == StoredObject.container_id)
        .where(
            ObjectContainer.region == region,
            ObjectContainer.project_id == project_id,
            live(now),
        )
    ).one()
    return int(containers or 0), int(objects), int(size)


def account_view(session: Session, region: str, project_id: str, now: float) -> AccountView:
    row = account_row(session, region, project_id)
    containers, objects, size = account_totals(session, region, project_id, now)
    return AccountView(
        project_id=project_id,
        meta=dict(row.meta) if row is not None else {},
        container_count=containers,
        object_count=objects,
        bytes_used=size,
        created_at=row.created_at if row is not None else None,
    )


def container_view(session: Session, row: ObjectContainer, now: float) -> ContainerView:
    count, size = container_totals(session, [row.id], now).get(row.id, (0, 0))
    return ContainerView(
        name=row.name,
        meta=dict(row.meta),
        read_acl=row.read_acl,
        write_acl=row.write_acl,
        object_count=count,
        bytes_used=size,
        created_at=row.created_at,
        updated_at=row.updated_at,
        versioning=versioning_of(row),
    )


def versioning_of(row: ObjectContainer) -> Versioning | None:
    if not row.versions_location or not row.versions_mode:
        return None
    return Versioning(row.versions_location, VersionsMode(row.versions_mode))


def object_view(row: StoredObject) -> ObjectView:
    return ObjectView(
        name=row.name,
        size=row.size,
        etag=row.etag,
        content_type=row.content_type,
        meta=dict(row.meta),
        headers=dict(row.headers),
        modified_at=row.modified_at,
        delete_at=row.delete_at,
        large=LargeKind(row.large) if row.large else None,
        manifest=row.manifest,
    )
