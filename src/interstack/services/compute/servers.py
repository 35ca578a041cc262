"""Servers: show, list with Nova's filters and paging, update, delete.

``addresses`` are never stored with the server: they are read from the network service at the
time of the request, so they always agree with Neutron's ports and floating IPs.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from interstack.errors import BadRequest, Forbidden
from interstack.services.compute.common import (
    check_unlocked,
    record,
    record_action,
    started_event,
    touch,
    visible_row,
    visible_server,
)
from interstack.services.compute.records import Server
from interstack.services.compute.server_statements import START_DELETE, action_payload
from interstack.services.compute.server_tasks import DELETE, found
from interstack.services.compute.state import (
    STATUSES,
    task_states_for_status,
    vm_states_for_status,
)
from interstack.services.context import RequestContext
from interstack.services.interfaces import (
    ServerBootVolumes,
    ServerNetworking,
    ServerSecurityGroup,
)
from interstack.services.listing import Page, SortDir, paginate
from interstack.services.regions import Regions
from interstack.services.tasks import TaskQueue, utcnow
from interstack.store import Database, run_core, table_of
from interstack.store.models import Server as ServerRow

#: Nova's ``max_limit``: a list never answers more servers than this at once
MAX_LIMIT = 1000

#: sort keys clients may use (Nova's names) -> columns
SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "access_ip_v4": ServerRow.access_ipv4,
    "access_ip_v6": ServerRow.access_ipv6,
    "availability_zone": ServerRow.availability_zone,
    "config_drive": ServerRow.config_drive,
    "created_at": ServerRow.created_at,
    "display_description": ServerRow.description,
    "display_name": ServerRow.name,
    "image_ref": ServerRow.image_id,
    "instance_type_id": ServerRow.flavor_id,
    "key_name": ServerRow.key_name,
    "launch_index": ServerRow.launch_index,
    "launched_at": ServerRow.launched_at,
    "locked_by": ServerRow.locked_by,
    "power_state": ServerRow.power_state,
    "project_id": ServerRow.project_id,
    "task_state": ServerRow.task_state,
    "terminated_at": ServerRow.deleted_at,
    "updated_at": ServerRow.updated_at,
    "user_id": ServerRow.user_id,
    "uuid": ServerRow.id,
    "vm_state": ServerRow.vm_state,
}
#: accepted by Nova (admins only; ignored for others), meaningless without hypervisor hosts
ADMIN_SORT_KEYS = frozenset({"host", "node", "hostname"})


@dataclass(frozen=True)
class ServerFilters:
    """The list filters of ``GET /servers``; None means "not filtered"."""

    name: str | None = None
    status: str | None = None
    image: str | None = None
    flavor: str | None = None
    ip: str | None = None
    ip6: str | None = None
    changes_since: datetime | None = None
    changes_before: datetime | None = None
    tags: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    not_tags: tuple[str, ...] = ()
    not_tags_any: tuple[str, ...] = ()
    all_tenants: bool = False
    project_id: str | None = None
    user_id: str | None = None
    deleted: bool = False
    availability_zone: str | None = None
    key_name: str | None = None
    reservation_id: str | None = None
    locked: bool | None = None


@dataclass(frozen=True)
class ServerPage:
    servers: list[Server]
    #: the marker of the next page when this page is full, else None
    next_marker: str | None


def _regex(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise BadRequest(f"Invalid regular expression for {what}: {pattern}") from exc


class ServerService:
    def __init__(
        self,
        db: Database,
        regions: Regions,
        tasks: TaskQueue,
        networking: ServerNetworking,
        volumes: ServerBootVolumes | None = None,
    ) -> None:
        self.db = db
        self.regions = regions
        self.tasks = tasks
        self.networking = networking
        self.volumes = volumes

    def _addresses(
        self, session: Session, region: str, rows: Sequence[ServerRow | Row[Any]]
    ) -> list[Server]:
        """Records with what Neutron's ports say now (addresses and security groups) and the
        volumes block storage holds for them, read in the session that read the servers."""
        if not rows:
            return []
        ids = [r.id for r in rows]
        found, groups = self.networking.addresses_and_groups(region, ids, session)
        attached = self.volumes.volumes_attached(region, ids, session) if self.volumes else {}
        return [
            replace(
                record(r, found.get(r.id, ()), groups.get(r.id, ())),
                volumes_attached=tuple(attached.get(r.id, ())),
            )
            for r in rows
        ]

    def get(self, ctx: RequestContext, region: str, server_id: str) -> Server:
        with self.db.session() as session:
            row = visible_server(session, ctx, region, server_id)
            return self._addresses(session, region, [row])[0]

    def security_groups(
        self, ctx: RequestContext, region: str, server_id: str
    ) -> Sequence[ServerSecurityGroup]:
        """The groups on the server's ports (Nova answers from Neutron, not from the server)."""
        with self.db.session() as session:
            visible_server(session, ctx, region, server_id)
        return self.networking.security_groups(region, server_id)

    # -- list --------------------------------------------------------------------------------

    def _scope(self, ctx: RequestContext, region: str, filters: ServerFilters) -> Select[Any]:
        # the table's columns, not the entity: the page is read as plain rows (run_core)
        stmt = select(table_of(ServerRow)).where(ServerRow.region == region)
        if filters.all_tenants and not ctx.is_admin:
            raise Forbidden(
                "Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be performed."
            )
        if ctx.is_admin and (filters.all_tenants or filters.project_id):
            if filters.project_id:
                stmt = stmt.where(ServerRow.project_id == filters.project_id)
        else:
            stmt = stmt.where(ServerRow.project_id == (ctx.project_id or ""))
        if ctx.is_admin and filters.deleted:
            stmt = stmt.where(ServerRow.deleted_at.is_not(None))
        elif filters.changes_since is None and filters.changes_before is None:
            stmt = stmt.where(ServerRow.deleted_at.is_(None))
        return stmt

    def _filtered(self, stmt: Select[Any], ctx: RequestContext, f: ServerFilters) -> Select[Any]:
        if f.status is not None:
            status = f.status.upper()
            vm_states = vm_states_for_status(status)
            task_states = task_states_for_status(status)
            if status not in STATUSES or not (vm_states or task_states):
                return stmt.where(ServerRow.id.is_(None))  # Nova: an unknown status matches none
            special = task_states_showing_a_status()
            conditions: builtins.list[Any] = []
            if vm_states:
                conditions.append(
                    ServerRow.vm_state.in_(vm_states)
                    & or_(ServerRow.task_state.is_(None), ServerRow.task_state.not_in(special))
                )
            if task_states:
                conditions.append(ServerRow.task_state.in_(task_states))
            stmt = stmt.where(or_(*conditions))
        if f.image is not None:
            stmt = stmt.where(ServerRow.image_id == f.image.rstrip("/").rsplit("/", 1)[-1])
        if f.flavor is not None:
            stmt = stmt.where(ServerRow.flavor_id == f.flavor.rstrip("/").rsplit("/", 1)[-1])
        if f.changes_since is not None:
            stmt = stmt.where(ServerRow.updated_at >= f.changes_since)
        if f.changes_before is not None:
            stmt = stmt.where(ServerRow.updated_at <= f.changes_before)
        if f.availability_zone is not None:
            stmt = stmt.where(ServerRow.availability_zone == f.availability_zone)
        if f.key_name is not None:
            stmt = stmt.where(ServerRow.key_name == f.key_name)
        if f.reservation_id is not None:
            stmt = stmt.where(ServerRow.reservation_id == f.reservation_id)
        if f.locked is not None:
            locked = ServerRow.locked_by.is_not(None)
            stmt = stmt.where(locked if f.locked else ~locked)
        if f.user_id is not None and ctx.is_admin:
            stmt = stmt.where(ServerRow.user_id == f.user_id)
        return stmt

    @staticmethod
    def _in_python(f: ServerFilters) -> bool:
        return bool(f.name or f.ip or f.ip6 or f.tags or f.tags_any or f.not_tags or f.not_tags_any)

    def _keep(self, f: ServerFilters, row: Row[Any], addresses: Sequence[str]) -> bool:
        if f.name and not _regex(f.name, "name").search(row.name):
            return False
        if not _tags_match(f, set(row.tags)):
            return False
        for pattern, version_mark in ((f.ip, "."), (f.ip6, ":")):
            if pattern:
                regex = _regex(pattern, "ip")
                if not any(version_mark in a and regex.search(a) for a in addresses):
                    return False
        return True

    def list(
        self,
        ctx: RequestContext,
        region: str,
        filters: ServerFilters,
        page: Page,
        *,
        detail: bool,
    ) -> ServerPage:
        # no hosts to sort by here: Nova's host keys are accepted and ignored
        sort = [(k, d) for k, d in page.sort if k not in ADMIN_SORT_KEYS]
        limit = min(page.limit, MAX_LIMIT) if page.limit is not None else MAX_LIMIT
        default: builtins.list[tuple[str, SortDir]] = [("created_at", "desc")]
        with self.db.session() as session:
            stmt = self._filtered(self._scope(ctx, region, filters), ctx, filters)
            marker_row = self._marker(session, ctx, region, page.marker)
            if self._in_python(filters):
                rows = self._python_page(session, stmt, region, filters, page, sort, marker_row)
                rows = rows[:limit]
            else:
                paged = Page(limit=limit, marker=page.marker, sort=tuple(sort))
                stmt = paginate(stmt, paged, SORT_COLUMNS, ServerRow.id, marker_row, default)
                rows = run_core(session, stmt).all()
            servers = (
                self._addresses(session, region, rows) if detail else [record(r) for r in rows]
            )
        next_marker = servers[-1].id if servers and len(servers) == limit else None
        return ServerPage(servers, next_marker)

    def _marker(
        self, session: Session, ctx: RequestContext, region: str, marker: str | None
    ) -> ServerRow | None:
        if marker is None:
            return None
        row = session.get(ServerRow, marker)
        if (
            row is None
            or row.region != region
            or (not ctx.is_admin and row.project_id != ctx.project_id)
        ):
            raise BadRequest(f"marker [{marker}] not found")
        return row

    def _python_page(
        self,
        session: Session,
        stmt: Select[Any],
        region: str,
        filters: ServerFilters,
        page: Page,
        sort: Sequence[tuple[str, Any]],
        marker_row: ServerRow | None,
    ) -> Sequence[Row[Any]]:
        """Filters SQL cannot express (regexes, tag sets, addresses), then the page in Python."""
        stmt = paginate(
            stmt, Page(sort=tuple(sort)), SORT_COLUMNS, ServerRow.id, None, [("created_at", "desc")]
        )
        rows = run_core(session, stmt).all()
        addresses: dict[str, list[str]] = {}
        if filters.ip or filters.ip6:
            found = self.networking.addresses(region, [r.id for r in rows])
            addresses = {k: [a.address for a in v] for k, v in found.items()}
        kept = [r for r in rows if self._keep(filters, r, addresses.get(r.id, []))]
        if marker_row is not None:
            ids = [r.id for r in kept]
            kept = kept[ids.index(marker_row.id) + 1 :] if marker_row.id in ids else []
        return kept

    # -- update, delete ----------------------------------------------------------------------

    def update(
        self,
        ctx: RequestContext,
        region: str,
        server_id: str,
        changes: dict[str, str | None],
    ) -> Server:
        """Change ``name``, ``description``, ``access_ipv4``/``access_ipv6``."""
        with self.db.session() as session:
            row = visible_row(session, ctx, region, server_id)
            for key, value in changes.items():
                if key == "name" and value is not None:
                    row.name = value
                elif key == "description":
                    row.description = value
                elif key == "access_ipv4":
                    row.access_ipv4 = value or ""
                elif key == "access_ipv6":
                    row.access_ipv6 = value or ""
                else:
                    raise BadRequest(f"Server attribute {key} cannot be updated.")
            touch(row)
            session.flush()
            return self._addresses(session, region, [row])[0]

    def delete(self, ctx: RequestContext, region: str, server_id: str) -> None:
        """Start deleting: the delete task removes the backend server, then the ports (its
        first step made here, before the answer, where the backend answers at once)."""
        with self.db.session() as session:
            row = visible_server(session, ctx, region, server_id)
            check_unlocked(ctx, row)
            here = self.regions.capabilities(region).steps_in_request
            params = {"server_id": row.id, "now": utcnow()}
            started = run_core(session, START_DELETE, params).one_or_none()
            if started is None:  # being deleted already
                return
            events = [started_event("compute_terminate_instance")]
            action_id = record_action(session, ctx, row, "delete", events)
            payload = {**action_payload(action_id, events), "found": found(started)}
            task_id = self.tasks.enqueue(
                DELETE, region, row.id, payload, session=session, run_here=here
            )
        if here:
            self.tasks.run_now(task_id)


def _tags_match(f: ServerFilters, tags: set[str]) -> bool:
    """Nova's four tag filters: all of ``tags``, any of ``tags-any``, not all of ``not-tags``,
    none of ``not-tags-any``."""
    return (
        (not f.tags or set(f.tags) <= tags)
        and (not f.tags_any or bool(set(f.tags_any) & tags))
        and (not f.not_tags or not set(f.not_tags) <= tags)
        and (not f.not_tags_any or not set(f.not_tags_any) & tags)
    )


def task_states_showing_a_status() -> set[str]:
    """Every task_state that shows a status of its own (REBOOT, REBUILD, RESIZE...)."""
    return {t for s in STATUSES for t in task_states_for_status(s)}
