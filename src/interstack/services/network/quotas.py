"""Network quotas: Neutron's defaults, per-project overrides by admins, usage counted from rows.

Limits are checked when a resource is created, inside the unit of work that adds it; -1 means
unlimited. Exceeding one is 409 ``OverQuota``, as Neutron answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import BindParameter, Select, Table, bindparam, delete, func, select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict, Forbidden
from interstack.services.context import RequestContext
from interstack.store import Database, run_core, table_of, take_turns
from interstack.store.models import (
    FloatingIp,
    Network,
    NetworkQuota,
    Port,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    SubnetPool,
)

DEFAULTS: dict[str, int] = {
    "network": 100,
    "subnet": 100,
    "subnetpool": -1,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
}

_COUNTED: dict[str, Any] = {
    "network": Network,
    "subnet": Subnet,
    "subnetpool": SubnetPool,
    "port": Port,
    "router": Router,
    "floatingip": FloatingIp,
    "security_group": SecurityGroup,
    "security_group_rule": SecurityGroupRule,
}


def limits(session: Session, region: str, project_id: str) -> dict[str, int]:
    found = dict(DEFAULTS)
    for row in session.scalars(
        select(NetworkQuota).where(
            NetworkQuota.region == region, NetworkQuota.project_id == project_id
        )
    ):
        found[row.resource] = row.hard_limit
    return found


def used(session: Session, region: str, project_id: str, resource: str) -> int:
    model = _COUNTED[resource]
    count = session.scalar(
        select(func.count())
        .select_from(model)
        .where(model.region == region, model.project_id == project_id)
    )
    return int(count or 0)


def _limit_and_use(table: Table) -> Select[int | None, int]:
    """A project's limit of one resource (None: the default) and its rows of ``table``, in one
    statement built once (:func:`run_core`)."""
    quota = table_of(NetworkQuota).c
    region: BindParameter[str] = bindparam("region")
    project_id: BindParameter[str] = bindparam("project_id")
    limit = select(quota.hard_limit).where(
        quota.region == region,
        quota.project_id == project_id,
        quota.resource == bindparam("resource"),
    )
    used = (
        select(func.count())
        .select_from(table)
        .where(table.c.region == region, table.c.project_id == project_id)
    )
    return select(limit.scalar_subquery(), used.scalar_subquery())


_LIMIT_AND_USE = {resource: _limit_and_use(table_of(m)) for resource, m in _COUNTED.items()}


def check(session: Session, region: str, project_id: str, resource: str, adding: int = 1) -> None:
    """409 ``OverQuota`` if ``adding`` more of ``resource`` would pass the project's limit
    (the unit of work's own rows counted: :func:`run_core` flushes first)."""
    params = {"region": region, "project_id": project_id, "resource": resource}
    limit, used_now = run_core(session, _LIMIT_AND_USE[resource], params).one()
    if limit is None:
        limit = DEFAULTS[resource]
    if limit < 0:
        return
    if used_now + adding > limit:
        raise Conflict(
            f"Quota exceeded for resources: ['{resource}'].",
            kind="OverQuota",
        )


def check_added(session: Session, region: str, project_id: str, resource: str) -> None:
    """409 ``OverQuota`` if the row just added (flushed) passes the project's limit.

    Counted inside the unit of work that adds the row, so that concurrent creates cannot all
    pass: SQLite has one writer at a time, and on PostgreSQL the units of work of one project
    and resource queue on an advisory lock held until they end, so each count sees the rows of
    every create before it.
    """
    take_turns(session, f"quota/{region}/{project_id}/{resource}")
    check(session, region, project_id, resource, adding=0)


class NetworkQuotaService:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _may_read(ctx: RequestContext, project_id: str) -> None:
        if not ctx.is_admin and ctx.project_id != project_id:
            raise Forbidden("Only an admin may read another project's quotas.")

    def show(self, ctx: RequestContext, region: str, project_id: str) -> dict[str, int]:
        self._may_read(ctx, project_id)
        with self.db.session() as session:
            return limits(session, region, project_id)

    def details(
        self, ctx: RequestContext, region: str, project_id: str
    ) -> dict[str, dict[str, int]]:
        """Limit, usage and reservations (always 0 here) of each resource."""
        self._may_read(ctx, project_id)
        with self.db.session() as session:
            return {
                resource: {
                    "limit": limit,
                    "used": used(session, region, project_id, resource),
                    "reserved": 0,
                }
                for resource, limit in limits(session, region, project_id).items()
            }

    def defaults(self) -> dict[str, int]:
        return dict(DEFAULTS)

    def list_overridden(self, ctx: RequestContext, region: str) -> dict[str, dict[str, int]]:
        """Every project with an override, with its effective limits (admin only)."""
        if not ctx.is_admin:
            raise Forbidden("Only an admin may list quotas of every project.")
        with self.db.session() as session:
            projects = session.scalars(
                select(NetworkQuota.project_id).where(NetworkQuota.region == region).distinct()
            ).all()
            return {p: limits(session, region, p) for p in sorted(projects)}

    def update(
        self, ctx: RequestContext, region: str, project_id: str, values: Mapping[str, int]
    ) -> dict[str, int]:
        if not ctx.is_admin:
            raise Forbidden("Only an admin may change quotas.")
        unknown = sorted(set(values) - set(DEFAULTS))
        if unknown:
            raise BadRequest(f"Unrecognized quota resource(s): {', '.join(unknown)}.")
        for resource, limit in values.items():
            if limit < -1:
                raise BadRequest(f"Invalid quota for {resource}: {limit} is below -1.")
        with self.db.session() as session:
            for resource, limit in values.items():
                row = session.get(NetworkQuota, (region, project_id, resource))
                if row is None:
                    session.add(
                        NetworkQuota(
                            region=region,
                            project_id=project_id,
                            resource=resource,
                            hard_limit=limit,
                        )
                    )
                else:
                    row.hard_limit = limit
            session.flush()
            return limits(session, region, project_id)

    def reset(self, ctx: RequestContext, region: str, project_id: str) -> None:
        if not ctx.is_admin:
            raise Forbidden("Only an admin may change quotas.")
        with self.db.session() as session:
            session.execute(
                delete(NetworkQuota).where(
                    NetworkQuota.region == region, NetworkQuota.project_id == project_id
                )
            )
