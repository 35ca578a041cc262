"""Snapshots: create (of an available volume, or an in-use one with ``force``), show, list,
update, delete, metadata. Like volumes, the backend work runs as tasks."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import InstrumentedAttribute, Session

from interstack.errors import BadRequest, Forbidden, NotFound
from interstack.services.context import RequestContext
from interstack.services.listing import Page
from interstack.services.regions import Regions
from interstack.services.tasks import TaskQueue, utcnow
from interstack.services.volume.common import (
    check_metadata,
    delete_metadata_item,
    touch,
    visible_snapshot,
    visible_volume,
    write_metadata,
)
from interstack.services.volume.listing import page_rows, scoped
from interstack.services.volume.messages import started_by
from interstack.services.volume.quotas import VolumeQuotaService
from interstack.services.volume.records import Snapshot, snapshot_record
from interstack.services.volume.snapshot_tasks import SNAPSHOT_CREATE, SNAPSHOT_DELETE
from interstack.services.volume.state import SnapshotStatus, VolumeStatus, check_volume
from interstack.store import Database, rowcount
from interstack.store.models import VolumeSnapshot as SnapshotRow

SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": SnapshotRow.id,
    "name": SnapshotRow.name,
    "size": SnapshotRow.size,
    "status": SnapshotRow.status,
    "created_at": SnapshotRow.created_at,
    "updated_at": SnapshotRow.updated_at,
    "volume_id": SnapshotRow.volume_id,
    "project_id": SnapshotRow.project_id,
}
DELETABLE = frozenset({SnapshotStatus.AVAILABLE, SnapshotStatus.ERROR})


@dataclass(frozen=True)
class SnapshotFilters:
    name: str | None = None
    status: str | None = None
    volume_id: str | None = None
    all_tenants: bool = False
    project_id: str | None = None


class SnapshotService:
    def __init__(
        self, db: Database, regions: Regions, tasks: TaskQueue, quotas: VolumeQuotaService
    ) -> None:
        self.db = db
        self.regions = regions
        self.tasks = tasks
        self.quotas = quotas

    def create(
        self,
        ctx: RequestContext,
        region: str,
        volume_id: str,
        *,
        name: str | None,
        description: str | None,
        metadata: Mapping[str, str],
        force: bool,
    ) -> Snapshot:
        with self.db.session() as session:
            row = self.add(
                session,
                ctx,
                region,
                volume_id,
                name=name,
                description=description,
                metadata=metadata,
                force=force,
            )
            return snapshot_record(row)

    def add(
        self,
        session: Session,
        ctx: RequestContext,
        region: str,
        volume_id: str,
        *,
        name: str | None,
        description: str | None,
        metadata: Mapping[str, str],
        force: bool,
    ) -> SnapshotRow:
        """:meth:`create` in the caller's transaction (several snapshots made all or none)."""
        checked = check_metadata(metadata)
        self.regions.require(region, "snapshots")
        try:
            volume = visible_volume(session, ctx, region, volume_id)
        except NotFound:
            raise NotFound(f"Volume {volume_id} could not be found.") from None
        allowed = {VolumeStatus.AVAILABLE}
        if force:
            allowed.add(VolumeStatus.IN_USE)
        elif volume.status == VolumeStatus.IN_USE:
            raise BadRequest(
                f"Invalid volume: Volume {volume.id} is in-use; snapshot it with force=true "
                "(crash-consistent) or detach it first."
            )
        check_volume(volume.id, volume.status, frozenset(allowed), "be snapshotted")
        self.quotas.check_snapshot(session, volume.project_id, volume.size)
        stamp = utcnow()
        row = SnapshotRow(
            id=str(uuid.uuid4()),
            region=region,
            project_id=volume.project_id,
            user_id=ctx.user_id,
            volume_id=volume.id,
            name=name,
            description=description,
            size=volume.size,
            status=SnapshotStatus.CREATING,
            metadata_items=checked,
            created_at=stamp,
            updated_at=stamp,
        )
        session.add(row)
        session.flush()
        self.tasks.enqueue(SNAPSHOT_CREATE, region, row.id, started_by(ctx), session=session)
        return row

    def get(self, ctx: RequestContext, region: str, snapshot_id: str) -> Snapshot:
        with self.db.session() as session:
            return snapshot_record(visible_snapshot(session, ctx, region, snapshot_id))

    def list(
        self, ctx: RequestContext, region: str, filters: SnapshotFilters, page: Page
    ) -> builtins.list[Snapshot]:
        stmt = scoped(SnapshotRow, ctx, region, filters)
        if filters.volume_id is not None:
            stmt = stmt.where(SnapshotRow.volume_id == filters.volume_id)
        with self.db.session() as session:
            rows = page_rows(session, stmt, SnapshotRow, region, page, SORT_COLUMNS)
            return [snapshot_record(r) for r in rows]

    def update(
        self, ctx: RequestContext, region: str, snapshot_id: str, changes: Mapping[str, str | None]
    ) -> Snapshot:
        with self.db.session() as session:
            row = visible_snapshot(session, ctx, region, snapshot_id)
            if "name" in changes:
                row.name = changes["name"]
            if "description" in changes:
                row.description = changes["description"]
            touch(row)
            return snapshot_record(row)

    def delete(self, ctx: RequestContext, region: str, snapshot_id: str) -> None:
        with self.db.session() as session:
            row = visible_snapshot(session, ctx, region, snapshot_id)
            if row.status not in DELETABLE:
                raise BadRequest(
                    f"Invalid snapshot: Snapshot {row.id} status must be available or error to "
                    f"be deleted, but it is {row.status}."
                )
            row.status = SnapshotStatus.DELETING
            touch(row)
            self.tasks.enqueue(SNAPSHOT_DELETE, region, row.id, started_by(ctx), session=session)

    def discard(self, region: str, snapshot_ids: builtins.list[str]) -> None:
        """Undo snapshots a failed request made (nothing it made stays): each goes
        ``deleting``; one still being created is removed by its create task once the backend
        settles it (:meth:`VolumeTasks.create_snapshot`), a settled one by a delete task."""
        with self.db.session() as session:
            for snapshot_id in snapshot_ids:
                creating = session.execute(
                    update(SnapshotRow)
                    .where(
                        SnapshotRow.id == snapshot_id,
                        SnapshotRow.region == region,
                        SnapshotRow.status == SnapshotStatus.CREATING,
                    )
                    .values(status=SnapshotStatus.DELETING, updated_at=utcnow())
                )
                if rowcount(creating) == 1:
                    continue
                row = session.get(SnapshotRow, snapshot_id)
                if row is None or row.region != region or row.status not in DELETABLE:
                    continue
                row.status = SnapshotStatus.DELETING
                touch(row)
                self.tasks.enqueue(SNAPSHOT_DELETE, region, row.id, session=session)

    def reset_status(self, ctx: RequestContext, region: str, snapshot_id: str, status: str) -> None:
        if not ctx.is_admin:
            raise Forbidden(
                "Policy doesn't allow volume_extension:snapshot_admin_actions:reset_status to be "
                "performed."
            )
        if status not in {s.value for s in SnapshotStatus}:
            raise BadRequest(f"Invalid input received: {status!r} is not a snapshot status.")
        with self.db.session() as session:
            row = visible_snapshot(session, ctx, region, snapshot_id)
            row.status = status
            touch(row)

    # -- metadata ----------------------------------------------------------------------------

    def metadata(self, ctx: RequestContext, region: str, snapshot_id: str) -> dict[str, str]:
        return self.get(ctx, region, snapshot_id).metadata

    def set_metadata(
        self,
        ctx: RequestContext,
        region: str,
        snapshot_id: str,
        items: Mapping[str, str],
        *,
        replace: bool,
    ) -> dict[str, str]:
        checked = check_metadata(items)
        with self.db.session() as session:
            row = visible_snapshot(session, ctx, region, snapshot_id)
            return write_metadata(row, checked, replace=replace)

    def delete_metadata(self, ctx: RequestContext, region: str, snapshot_id: str, key: str) -> None:
        with self.db.session() as session:
            row = visible_snapshot(session, ctx, region, snapshot_id)
            delete_metadata_item(row, key, "Snapshot")
