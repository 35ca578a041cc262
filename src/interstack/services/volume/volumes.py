"""Volumes: create (empty, from an image, a snapshot or another volume), show, list with
Cinder's filters and paging, update, delete, metadata.

A create writes the volume (``creating``) and its task in one transaction and answers at once;
the task runner drives the backend. Quotas are checked in the same transaction that adds the
volume, so two creates cannot both take the last slot.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from interstack.errors import BadRequest, NotFound
from interstack.services.context import RequestContext
from interstack.services.interfaces import VolumeImages
from interstack.services.listing import Page, paginate
from interstack.services.regions import Regions
from interstack.services.tasks import TaskQueue, utcnow
from interstack.services.volume.common import (
    AVAILABILITY_ZONE,
    check_metadata,
    delete_metadata_item,
    records,
    touch,
    visible_snapshot,
    visible_volume,
    write_metadata,
)
from interstack.services.volume.listing import (
    DEFAULT_SORT,
    marker_row,
    page_limit,
    page_rows,
    scoped,
)
from interstack.services.volume.messages import started_by
from interstack.services.volume.quotas import VolumeQuotaService
from interstack.services.volume.records import Volume
from interstack.services.volume.snapshot_tasks import SNAPSHOT_DELETE
from interstack.services.volume.state import (
    DELETABLE,
    SnapshotStatus,
    VolumeStatus,
    check_volume,
)
from interstack.services.volume.volume_tasks import CREATE, DELETE
from interstack.services.volume.volume_types import VolumeTypeService
from interstack.store import Database
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeAttachment as AttachmentRow
from interstack.store.models import VolumeSnapshot as SnapshotRow

SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": VolumeRow.id,
    "name": VolumeRow.name,
    "display_name": VolumeRow.name,
    "size": VolumeRow.size,
    "status": VolumeRow.status,
    "availability_zone": VolumeRow.availability_zone,
    "bootable": VolumeRow.bootable,
    "created_at": VolumeRow.created_at,
    "updated_at": VolumeRow.updated_at,
    "volume_type_id": VolumeRow.volume_type_id,
    "project_id": VolumeRow.project_id,
    "user_id": VolumeRow.user_id,
}
#: volumes in these statuses have a source that may be copied
SOURCE_STATUSES = frozenset({VolumeStatus.AVAILABLE, VolumeStatus.IN_USE})


@dataclass(frozen=True)
class NewVolume:
    """The body of a volume create, validated by the API layer."""

    size: int | None = None
    name: str | None = None
    description: str | None = None
    volume_type: str | None = None
    availability_zone: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    snapshot_id: str | None = None
    source_volid: str | None = None
    image_id: str | None = None
    multiattach: bool = False


@dataclass(frozen=True)
class VolumeFilters:
    name: str | None = None
    status: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    bootable: bool | None = None
    availability_zone: str | None = None
    all_tenants: bool = False
    project_id: str | None = None


@dataclass(frozen=True)
class VolumePage:
    volumes: list[Volume]
    next_marker: str | None


@dataclass
class _Source:
    """Where a new volume's data comes from, resolved in the create's session."""

    size: int | None = None
    bootable: bool = False
    image_metadata: dict[str, Any] = field(default_factory=dict)
    volume_type_id: str | None = None
    payload: dict[str, str] = field(default_factory=dict)


def _invalid_size(size: object) -> BadRequest:
    return BadRequest(
        f"Invalid input received: Volume size '{size}' must be an integer and greater than 0."
    )


class VolumeService:
    def __init__(
        self,
        db: Database,
        regions: Regions,
        tasks: TaskQueue,
        quotas: VolumeQuotaService,
        types: VolumeTypeService,
        images: VolumeImages,
    ) -> None:
        self.db = db
        self.regions = regions
        self.tasks = tasks
        self.quotas = quotas
        self.types = types
        self.images = images

    # -- create ------------------------------------------------------------------------------

    def create(self, ctx: RequestContext, region: str, new: NewVolume) -> Volume:
        with self.db.session() as session:
            row = self.add(session, ctx, region, new)
            return records(session, [row])[0]

    def add(self, session: Session, ctx: RequestContext, region: str, new: NewVolume) -> VolumeRow:
        """Write a new volume (``creating``) and its create task in the caller's ``session``:
        the quota check and the row are in one transaction, with whatever else it holds."""
        if ctx.project_id is None:
            raise BadRequest("Volumes belong to projects; use a project-scoped token.")
        if new.availability_zone not in (None, AVAILABILITY_ZONE):
            raise BadRequest(
                f"Invalid input received: Availability zone '{new.availability_zone}' is invalid."
            )
        metadata = check_metadata(new.metadata)
        self.regions.require(region, "volumes")
        source = self._source(session, ctx, region, new)
        size = new.size if new.size is not None else source.size
        if size is None or size <= 0:
            raise _invalid_size(size)
        self._check_size(new, source, size)
        type_row = (
            self.types.find(session, ctx, new.volume_type) if new.volume_type is not None else None
        )
        if type_row is None and source.volume_type_id is not None:
            type_id: str | None = source.volume_type_id
        else:
            type_id = (type_row or self.types.default_row(session)).id
        self.quotas.check_volume(session, ctx.project_id, size)
        stamp = utcnow()
        row = VolumeRow(
            id=str(uuid.uuid4()),
            region=region,
            project_id=ctx.project_id,
            user_id=ctx.user_id,
            name=new.name,
            description=new.description,
            size=size,
            status=VolumeStatus.CREATING,
            volume_type_id=type_id,
            availability_zone=AVAILABILITY_ZONE,
            bootable=source.bootable,
            readonly=False,
            multiattach=new.multiattach,
            metadata_items=metadata,
            image_metadata=source.image_metadata,
            snapshot_id=new.snapshot_id,
            source_volid=new.source_volid,
            created_at=stamp,
            updated_at=stamp,
        )
        session.add(row)
        session.flush()
        payload = {**source.payload, **started_by(ctx)}
        self.tasks.enqueue(CREATE, region, row.id, payload, session=session)
        return row

    def _source(
        self, session: Session, ctx: RequestContext, region: str, new: NewVolume
    ) -> _Source:
        given = [x for x in (new.snapshot_id, new.source_volid, new.image_id) if x]
        if len(given) > 1:
            raise BadRequest(
                "Invalid input received: give at most one of snapshot_id, source_volid and "
                "imageRef."
            )
        if new.snapshot_id:
            try:
                snap = visible_snapshot(session, ctx, region, new.snapshot_id)
            except NotFound:
                raise NotFound(f"Snapshot {new.snapshot_id} could not be found.") from None
            if snap.status != SnapshotStatus.AVAILABLE:
                raise BadRequest(
                    "Invalid snapshot: Originating snapshot status must be 'available' to "
                    f"create a volume, but it is {snap.status}."
                )
            parent = session.get(VolumeRow, snap.volume_id)
            return _Source(
                size=snap.size,
                bootable=parent.bootable if parent else False,
                image_metadata=dict(parent.image_metadata) if parent else {},
                volume_type_id=parent.volume_type_id if parent else None,
                payload={"snapshot_ref": snap.native_ref or ""},
            )
        if new.source_volid:
            src = visible_volume(session, ctx, region, new.source_volid)
            if src.status not in SOURCE_STATUSES:
                raise BadRequest(
                    f"Invalid volume: Source volume {src.id} status must be available or in-use "
                    f"to be cloned, but it is {src.status}."
                )
            return _Source(
                size=src.size,
                bootable=src.bootable,
                image_metadata=dict(src.image_metadata),
                volume_type_id=src.volume_type_id,
                payload={"source_ref": src.native_ref or ""},
            )
        if new.image_id:
            try:
                image = self.images.image_for_boot(ctx, region, new.image_id)
            except (NotFound, BadRequest) as exc:
                raise BadRequest(
                    f"Invalid image identifier or unable to access requested image "
                    f"{new.image_id}: {exc.message}"
                ) from exc
            if image.native_ref is None:
                raise BadRequest(f"Image {image.id} has no data in this region.")
            gib = -(-(image.size_bytes or 0) // 2**30)
            # the image's properties too, under its own fields, as Cinder keeps them (its
            # checksum among them; not Glance's owner, visibility or status)
            metadata: dict[str, Any] = {
                **{str(k): str(v) for k, v in image.properties.items()},
                "image_id": image.id,
                "image_name": image.name,
                "min_disk": str(image.min_disk_gb),
                "min_ram": str(image.min_ram_mb),
                "size": str(image.size_bytes or 0),
                "disk_format": image.disk_format or "",
                "container_format": image.container_format or "",
                **({"checksum": image.checksum} if image.checksum else {}),
            }
            return _Source(
                size=None,
                bootable=True,
                image_metadata=metadata,
                payload={"image_ref": image.native_ref, "image_gib": str(gib)},
            )
        return _Source()

    @staticmethod
    def _check_size(new: NewVolume, source: _Source, size: int) -> None:
        if new.snapshot_id and source.size is not None and size < source.size:
            raise BadRequest(
                f"Invalid input received: Volume size '{size}'GB cannot be smaller than the "
                f"snapshot size {source.size}GB. They must be >= original snapshot size."
            )
        if new.source_volid and source.size is not None and size < source.size:
            raise BadRequest(
                f"Invalid input received: Volume size '{size}'GB cannot be smaller than the "
                f"source volume size {source.size}GB. They must be >= original volume size."
            )
        if new.image_id:
            image_gib = int(source.payload.get("image_gib", "0"))
            if image_gib > size:
                raise BadRequest(
                    f"Invalid input received: Size of specified image {image_gib}GB is larger "
                    f"than volume size {size}GB."
                )
            min_disk = int(source.image_metadata.get("min_disk", "0"))
            if min_disk > size:
                raise BadRequest(
                    f"Invalid input received: Volume size {size}GB cannot be smaller than the "
                    f"image minDisk size {min_disk}GB."
                )

    # -- read --------------------------------------------------------------------------------

    def get(self, ctx: RequestContext, region: str, volume_id: str) -> Volume:
        with self.db.session() as session:
            return records(session, [visible_volume(session, ctx, region, volume_id)])[0]

    def _scope(self, ctx: RequestContext, region: str, f: VolumeFilters) -> Select[Any]:
        stmt = scoped(VolumeRow, ctx, region, f)
        if f.bootable is not None:
            stmt = stmt.where(VolumeRow.bootable.is_(f.bootable))
        if f.availability_zone is not None:
            stmt = stmt.where(VolumeRow.availability_zone == f.availability_zone)
        return stmt

    def list(
        self, ctx: RequestContext, region: str, filters: VolumeFilters, page: Page
    ) -> VolumePage:
        limit = page_limit(page)
        with self.db.session() as session:
            stmt = self._scope(ctx, region, filters)
            if filters.metadata:
                rows = self._with_metadata(session, stmt, region, filters.metadata, page)
            else:
                rows = page_rows(session, stmt, VolumeRow, region, page, SORT_COLUMNS)
            found = records(session, rows)
        next_marker = found[-1].id if found and len(found) == limit else None
        return VolumePage(found, next_marker)

    @staticmethod
    def _with_metadata(
        session: Session,
        stmt: Select[Any],
        region: str,
        metadata: Mapping[str, str],
        page: Page,
    ) -> builtins.list[VolumeRow]:
        """A page of the volumes whose metadata holds ``metadata``: filtered and paged in
        Python, since metadata lives in a JSON column."""
        after = marker_row(session, VolumeRow, region, page.marker)
        ordered = paginate(
            stmt, Page(sort=page.sort), SORT_COLUMNS, VolumeRow.id, None, DEFAULT_SORT
        )
        rows = [
            r
            for r in session.scalars(ordered)
            if all(r.metadata_items.get(k) == v for k, v in metadata.items())
        ]
        if after is not None:
            ids = [r.id for r in rows]
            rows = rows[ids.index(after.id) + 1 :] if after.id in ids else []
        return rows[: page_limit(page)]

    def count(self, ctx: RequestContext, region: str, filters: VolumeFilters) -> int:
        with self.db.session() as session:
            stmt = self._scope(ctx, region, filters).with_only_columns(func.count())
            return int(session.scalar(stmt) or 0)

    # -- update, delete ----------------------------------------------------------------------

    def update(
        self,
        ctx: RequestContext,
        region: str,
        volume_id: str,
        *,
        changes: Mapping[str, str | None],
        metadata: Mapping[str, str] | None = None,
    ) -> Volume:
        """``changes`` holds ``name`` and/or ``description``; ``metadata`` replaces all."""
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            if "name" in changes:
                row.name = changes["name"]
            if "description" in changes:
                row.description = changes["description"]
            if metadata is not None:
                row.metadata_items = check_metadata(metadata)
            touch(row)
            return records(session, [row])[0]

    def delete(
        self,
        ctx: RequestContext,
        region: str,
        volume_id: str,
        *,
        cascade: bool = False,
        force: bool = False,
    ) -> None:
        """Start deleting; 400 (Cinder's "Invalid volume") when attached, busy or snapshotted."""
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            if force and not ctx.is_admin:
                raise BadRequest("Only an administrator may force a volume's deletion.")
            attached = session.scalar(
                select(func.count())
                .select_from(AttachmentRow)
                .where(AttachmentRow.volume_id == row.id, AttachmentRow.status != "detached")
            )
            if attached:
                raise BadRequest(
                    f"Invalid volume: Volume {row.id} is attached to a server; detach it first."
                )
            if not force:
                check_volume(row.id, row.status, DELETABLE, "be deleted")
            snapshots = builtins.list(
                session.scalars(select(SnapshotRow).where(SnapshotRow.volume_id == row.id))
            )
            if snapshots and not cascade:
                raise BadRequest(
                    f"Invalid volume: Volume {row.id} still has {len(snapshots)} dependent "
                    "snapshot(s); delete them first or ask for cascade=true."
                )
            snapshot_ids = [s.id for s in snapshots]
            for snap in snapshots:
                snap.status = SnapshotStatus.DELETING
                touch(snap)
            row.status = VolumeStatus.DELETING
            touch(row)
            # the volume's task waits until its snapshots' tasks removed them
            for snap_id in snapshot_ids:
                self.tasks.enqueue(SNAPSHOT_DELETE, region, snap_id, session=session)
            self.tasks.enqueue(DELETE, region, row.id, session=session)

    # -- metadata ----------------------------------------------------------------------------

    def metadata(self, ctx: RequestContext, region: str, volume_id: str) -> dict[str, str]:
        """The user's metadata (the volume's ``metadata`` adds the admin keys Cinder shows)."""
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            return {str(k): str(v) for k, v in row.metadata_items.items()}

    def set_metadata(
        self,
        ctx: RequestContext,
        region: str,
        volume_id: str,
        items: Mapping[str, str],
        *,
        replace: bool,
    ) -> dict[str, str]:
        """Merge ``items`` into the metadata (POST) or make them all of it (PUT)."""
        checked = check_metadata(items)
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            self._check_not_deleting(row)
            return write_metadata(row, checked, replace=replace)

    def delete_metadata(self, ctx: RequestContext, region: str, volume_id: str, key: str) -> None:
        with self.db.session() as session:
            row = visible_volume(session, ctx, region, volume_id)
            self._check_not_deleting(row)
            delete_metadata_item(row, key, "Volume")

    @staticmethod
    def _check_not_deleting(row: VolumeRow) -> None:
        if row.status == VolumeStatus.DELETING:
            raise BadRequest(f"Invalid volume: Volume {row.id} is being deleted.")
