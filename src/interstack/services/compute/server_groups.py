"""Server groups: a policy (affinity, anti-affinity, soft-*) for the servers booted into them.

A group belongs to a project and lives in one region. Members are added by server create (the
``group`` scheduler hint) and leave when their server is deleted; here a group is created, read
and deleted, within the project's ``server_groups`` quota.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, NotFound
from interstack.services.compute.quotas import QuotaService
from interstack.services.context import RequestContext
from interstack.services.tasks import utcnow
from interstack.store import Database
from interstack.store.models import ServerGroup as GroupRow

POLICIES = ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity")


@dataclass(frozen=True)
class ServerGroup:
    id: str
    region: str
    project_id: str
    user_id: str
    name: str
    policy: str
    rules: Mapping[str, Any]
    members: tuple[str, ...]


def record(row: GroupRow) -> ServerGroup:
    return ServerGroup(
        id=row.id,
        region=row.region,
        project_id=row.project_id,
        user_id=row.user_id,
        name=row.name,
        policy=row.policy,
        rules=dict(row.rules),
        members=tuple(row.members),
    )


def check_rules(policy: str, rules: Mapping[str, int]) -> None:
    """Only anti-affinity takes a rule: ``max_server_per_host``, a positive integer."""
    if not rules:
        return
    if policy != "anti-affinity":
        raise BadRequest(f"Only anti-affinity policy supports rules; {policy} does not.")
    unknown = set(rules) - {"max_server_per_host"}
    if unknown:
        raise BadRequest(f"Invalid server group rules: {', '.join(sorted(unknown))}.")
    if rules["max_server_per_host"] < 1:
        raise BadRequest("max_server_per_host must be a positive integer.")


class ServerGroupService:
    def __init__(self, db: Database, quotas: QuotaService) -> None:
        self.db = db
        self.quotas = quotas

    def create(
        self,
        ctx: RequestContext,
        region: str,
        name: str,
        policy: str,
        rules: Mapping[str, int] | None = None,
    ) -> ServerGroup:
        if policy not in POLICIES:
            raise BadRequest(f"Invalid server group policy {policy!r}; use one of {POLICIES}.")
        check_rules(policy, rules or {})
        project_id = ctx.project_id or ""
        with self.db.session() as session:
            self.quotas.check_server_groups(session, project_id)
            row = GroupRow(
                id=str(uuid.uuid4()),
                region=region,
                project_id=project_id,
                user_id=ctx.user_id,
                name=name,
                policy=policy,
                rules=dict(rules or {}),
                members=[],
                created_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return record(row)

    def list(
        self,
        ctx: RequestContext,
        region: str,
        *,
        all_projects: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[ServerGroup]:
        """The project's groups in the region (every project's for an admin who asks)."""
        stmt = select(GroupRow).where(GroupRow.region == region)
        if not (all_projects and ctx.is_admin):
            stmt = stmt.where(GroupRow.project_id == (ctx.project_id or ""))
        stmt = stmt.order_by(GroupRow.created_at, GroupRow.id).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.db.session() as session:
            return [record(r) for r in session.scalars(stmt)]

    def get(self, ctx: RequestContext, region: str, group_id: str) -> ServerGroup:
        with self.db.session() as session:
            return record(self._row(session, ctx, region, group_id))

    def delete(self, ctx: RequestContext, region: str, group_id: str) -> None:
        with self.db.session() as session:
            session.delete(self._row(session, ctx, region, group_id))

    def _row(self, session: Session, ctx: RequestContext, region: str, group_id: str) -> GroupRow:
        """The group if the caller may see it: in this region, its project's (or an admin)."""
        row = session.get(GroupRow, group_id)
        if (
            row is None
            or row.region != region
            or (not ctx.is_admin and row.project_id != ctx.project_id)
        ):
            raise NotFound(f"Instance group {group_id} could not be found.")
        return row
