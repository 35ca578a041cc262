"""A server's metadata (key/value pairs), tags, and its ``os-instance-actions`` history.

A change of the metadata is shown to the server's backend before it is committed (the aws
backend mirrors it in the instance's tags): a backend refusing it leaves it as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.backends.contract import NativeRef
from interstack.errors import BadRequest, Conflict, NotFound, QuotaExceeded
from interstack.services.compute.common import check_unlocked, not_found, touch, visible_row
from interstack.services.compute.quotas import QuotaService
from interstack.services.compute.records import InstanceAction
from interstack.services.compute.state import VmState
from interstack.services.context import RequestContext
from interstack.services.regions import Regions
from interstack.store import Database
from interstack.store.models import InstanceAction as ActionRow
from interstack.store.models import Server as ServerRow

MAX_TAGS = 50
#: vm_states in which tags and metadata may change (Nova: not while building or in error)
TAGGABLE = frozenset({VmState.ACTIVE, VmState.PAUSED, VmState.SUSPENDED, VmState.STOPPED})


def check_tags(tags: Sequence[str]) -> None:
    if len(set(tags)) > MAX_TAGS:
        raise BadRequest(f"The number of tags exceeded the per-server limit {MAX_TAGS}")


class ServerMetadata:
    def __init__(self, db: Database, quotas: QuotaService, regions: Regions) -> None:
        self.db = db
        self.quotas = quotas
        self.regions = regions

    # -- metadata ----------------------------------------------------------------------------

    def get(self, ctx: RequestContext, region: str, server_id: str) -> dict[str, str]:
        with self.db.session() as session:
            return dict(visible_row(session, ctx, region, server_id).metadata_items)

    def get_item(self, ctx: RequestContext, region: str, server_id: str, key: str) -> str:
        items = self.get(ctx, region, server_id)
        if key not in items:
            raise NotFound("Metadata item was not found")
        return str(items[key])

    def update(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        items: Mapping[str, str],
        *,
        replace: bool,
    ) -> dict[str, str]:
        """Merge ``items`` into the metadata (or replace it all); returns the whole metadata."""
        with self.db.session() as session:
            row = self._changeable(session, ctx, region, server_id)
            merged = dict(items) if replace else {**row.metadata_items, **items}
            self._check_count(row.project_id, len(merged))
            self._show(region, row, merged)
            row.metadata_items = merged
            touch(row)
            return dict(merged)

    def delete_item(self, ctx: RequestContext, region: str, server_id: str, key: str) -> None:
        with self.db.session() as session:
            row = self._changeable(session, ctx, region, server_id)
            if key not in row.metadata_items:
                raise NotFound("Metadata item was not found")
            left = {k: v for k, v in row.metadata_items.items() if k != key}
            self._show(region, row, left)
            row.metadata_items = left
            touch(row)

    def _show(self, region: str, row: ServerRow, metadata: Mapping[str, str]) -> None:
        """Tell the server's backend the metadata it is to show (in the session, uncommitted:
        a refusal leaves the store's as it was)."""
        if row.native_ref is not None:
            compute = self.regions.backend(region).compute
            compute.set_server_metadata(NativeRef(row.native_ref), metadata)

    def _changeable(
        self, session: Session, ctx: RequestContext, region: str, server_id: str
    ) -> ServerRow:
        row = self._taggable(session, ctx, region, server_id, "update_metadata")
        check_unlocked(ctx, row)
        return row

    def _check_count(self, project_id: str, count: int) -> None:
        allowed = self.quotas.limits(project_id).get("metadata_items", -1)
        if allowed >= 0 and count > allowed:
            raise QuotaExceeded(f"Maximum number of metadata items exceeds {allowed}")

    # -- tags --------------------------------------------------------------------------------

    def tags(self, ctx: RequestContext, region: str, server_id: str) -> list[str]:
        with self.db.session() as session:
            return list(visible_row(session, ctx, region, server_id).tags)

    def has_tag(self, ctx: RequestContext, region: str, server_id: str, tag: str) -> None:
        if tag not in self.tags(ctx, region, server_id):
            raise NotFound(f"Tag {tag} could not be found.")

    def replace_tags(
        self, ctx: RequestContext, region: str, server_id: str, tags: Sequence[str]
    ) -> list[str]:
        check_tags(tags)
        with self.db.session() as session:
            row = self._taggable(session, ctx, region, server_id, "update tags")
            row.tags = list(dict.fromkeys(tags))
            touch(row)
            return list(row.tags)

    def add_tag(self, ctx: RequestContext, region: str, server_id: str, tag: str) -> bool:
        """Add ``tag``; returns whether it is new."""
        with self.db.session() as session:
            row = self._taggable(session, ctx, region, server_id, "update tag")
            if tag in row.tags:
                return False
            check_tags([*row.tags, tag])
            row.tags = [*row.tags, tag]
            touch(row)
            return True

    def delete_tag(self, ctx: RequestContext, region: str, server_id: str, tag: str) -> None:
        with self.db.session() as session:
            row = self._taggable(session, ctx, region, server_id, "delete tag")
            if tag not in row.tags:
                raise NotFound(f"Tag {tag} could not be found.")
            row.tags = [t for t in row.tags if t != tag]
            touch(row)

    def delete_tags(self, ctx: RequestContext, region: str, server_id: str) -> None:
        with self.db.session() as session:
            row = self._taggable(session, ctx, region, server_id, "delete tags")
            row.tags = []
            touch(row)

    def _taggable(
        self, session: Session, ctx: RequestContext, region: str, server_id: str, action: str
    ) -> ServerRow:
        row = visible_row(session, ctx, region, server_id)
        if row.task_state is not None:
            raise Conflict(
                f"Cannot '{action}' instance {row.id} while it is in task_state {row.task_state}"
            )
        if VmState(row.vm_state) not in TAGGABLE:
            raise Conflict(
                f"Cannot '{action}' instance {row.id} while it is in vm_state {row.vm_state}"
            )
        return row

    # -- instance actions --------------------------------------------------------------------

    def _any_row(self, session: Session, ctx: RequestContext, region: str, server_id: str) -> None:
        """Actions stay readable after the server is deleted (as from Nova 2.21)."""
        row = session.get(ServerRow, server_id)
        if row is None or row.region != region:
            raise not_found(server_id)
        if not ctx.is_admin and row.project_id != ctx.project_id:
            raise not_found(server_id)

    def actions(self, ctx: RequestContext, region: str, server_id: str) -> list[InstanceAction]:
        with self.db.session() as session:
            self._any_row(session, ctx, region, server_id)
            rows = session.scalars(
                select(ActionRow)
                .where(ActionRow.server_id == server_id)
                .order_by(ActionRow.start_time.desc(), ActionRow.id.desc())
            )
            return [_action(r) for r in rows]

    def action(
        self, ctx: RequestContext, region: str, server_id: str, request_id: str
    ) -> InstanceAction:
        with self.db.session() as session:
            self._any_row(session, ctx, region, server_id)
            row = session.scalars(
                select(ActionRow).where(
                    ActionRow.server_id == server_id, ActionRow.request_id == request_id
                )
            ).first()
            if row is None:
                raise NotFound(
                    f"Action for request_id {request_id} on instance {server_id} not found"
                )
            return _action(row)


def _action(row: ActionRow) -> InstanceAction:
    return InstanceAction(
        id=row.id,
        server_id=row.server_id,
        project_id=row.project_id,
        user_id=row.user_id,
        request_id=row.request_id,
        action=row.action,
        message=row.message,
        events=[dict(e) for e in row.events],
        start_time=row.start_time,
        updated_at=row.updated_at,
    )
