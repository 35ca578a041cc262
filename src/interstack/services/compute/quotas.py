"""Compute quotas: defaults, per-project overrides (admin), usage counted where resources live.

Usage is never stored: instances, cores and RAM are counted from the servers (each keeps a copy
of its flavor with ``vcpus`` and ``ram``), key pairs from the user's key pairs, server groups
from the project's groups. A project's quota spans every region of the gateway, as its identity
does. ``-1`` means unlimited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Forbidden, QuotaExceeded
from interstack.services.compute.records import QuotaUsage
from interstack.services.context import RequestContext
from interstack.store import Database, run_core, table_of, take_turns
from interstack.store.models import Keypair, QuotaLimit, Server, ServerGroup

DEFAULTS: dict[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "key_pairs": 100,
    "metadata_items": 128,
    "injected_files": 5,
    "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255,
    "server_groups": 10,
    "server_group_members": 10,
    # network quotas Nova showed before 2.36 (Neutron owns them; -1: not enforced here)
    "fixed_ips": -1,
    "floating_ips": -1,
    "security_groups": -1,
    "security_group_rules": -1,
}


_QUOTAS = table_of(QuotaLimit).c
_SERVERS = table_of(Server).c
_KEYPAIRS = table_of(Keypair).c

# the hot counts, built once and run by run_core (plain rows: no ORM compile state, no objects)
#: the project's overrides of the defaults
_LIMITS: Select[Any] = select(_QUOTAS.resource, _QUOTAS.hard_limit).where(
    _QUOTAS.project_id == bindparam("project_id")
)
#: the flavors of the project's servers (their instances, cores and RAM)
_SERVER_FLAVORS: Select[Any] = select(_SERVERS.flavor).where(
    _SERVERS.project_id == bindparam("project_id"), _SERVERS.deleted_at.is_(None)
)
#: the project's key pair limit (None: the default) and the user's key pairs, in one statement
_KEYPAIR_LIMIT_AND_USE: Select[Any] = select(
    select(_QUOTAS.hard_limit)
    .where(_QUOTAS.project_id == bindparam("project_id"), _QUOTAS.resource == "key_pairs")
    .scalar_subquery(),
    select(func.count())
    .select_from(table_of(Keypair))
    .where(_KEYPAIRS.user_id == bindparam("user_id"))
    .scalar_subquery(),
)


def _policy(rule: str) -> Forbidden:
    return Forbidden(f"Policy doesn't allow os_compute_api:os-quota-sets:{rule} to be performed.")


class QuotaService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def defaults(self) -> dict[str, int]:
        return dict(DEFAULTS)

    def limits(self, project_id: str, session: Session | None = None) -> dict[str, int]:
        """The project's limits: its overrides on top of the defaults."""
        if session is None:
            with self.db.session() as own:
                return self.limits(project_id, own)
        limits = dict(DEFAULTS)
        for resource, hard_limit in run_core(session, _LIMITS, {"project_id": project_id}):
            limits[resource] = hard_limit
        return limits

    def usage(
        self, project_id: str, session: Session, user_id: str | None = None
    ) -> dict[str, int]:
        """What the project uses now; key pairs are the user's (Nova counts them per user)."""
        return {
            **self._server_usage(project_id, session),
            "key_pairs": self._keypairs(session, user_id) if user_id is not None else 0,
            "server_groups": self._server_groups(project_id, session),
        }

    def _server_usage(self, project_id: str, session: Session) -> dict[str, int]:
        """Instances, cores and RAM of the project's servers (a check of servers counts only
        these: one statement, not one per counted resource)."""
        flavors = run_core(session, _SERVER_FLAVORS, {"project_id": project_id}).scalars().all()
        return {
            "instances": len(flavors),
            "cores": sum(int(f.get("vcpus", 0)) for f in flavors),
            "ram": sum(int(f.get("ram", 0)) for f in flavors),
        }

    @staticmethod
    def _keypairs(session: Session, user_id: str) -> int:
        count = select(func.count()).select_from(Keypair).where(Keypair.user_id == user_id)
        return session.scalar(count) or 0

    @staticmethod
    def _server_groups(project_id: str, session: Session) -> int:
        count = (
            select(func.count())
            .select_from(ServerGroup)
            .where(ServerGroup.project_id == project_id)
        )
        return session.scalar(count) or 0

    def show(
        self, ctx: RequestContext, project_id: str, user_id: str | None = None
    ) -> dict[str, QuotaUsage]:
        """Limits with usage; admins see any project, others only their own (403)."""
        if not ctx.is_admin and ctx.project_id != project_id:
            raise _policy("show")
        with self.db.session() as session:
            limits = self.limits(project_id, session)
            used = self.usage(project_id, session, user_id or ctx.user_id)
        return {k: QuotaUsage(limit=v, in_use=used.get(k, 0)) for k, v in limits.items()}

    def update(
        self,
        ctx: RequestContext,
        project_id: str,
        changes: Mapping[str, int],
        *,
        force: bool = False,
    ) -> dict[str, int]:
        """Set limits (admin); below current usage only with ``force``. Returns all limits."""
        if not ctx.is_admin:
            raise _policy("update")
        for key, value in changes.items():
            if key not in DEFAULTS:
                raise BadRequest(f"Bad key(s) {key} in quota_set")
            if value < -1:
                raise BadRequest(f"Quota limit {value} for {key} must be -1 or greater.")
        with self.db.session() as session:
            used = self.usage(project_id, session, ctx.user_id)
            for key, value in changes.items():
                in_use = used.get(key, 0)
                if not force and value != -1 and value < in_use:
                    raise BadRequest(
                        f"Quota limit {value} for {key} must be greater than or equal to "
                        f"already used and reserved {in_use}."
                    )
            for key, value in changes.items():
                row = session.get(QuotaLimit, (project_id, key))
                if row is None:
                    session.add(QuotaLimit(project_id=project_id, resource=key, hard_limit=value))
                else:
                    row.hard_limit = value
            session.flush()
            return self.limits(project_id, session)

    def revert(self, ctx: RequestContext, project_id: str) -> None:
        """Back to the defaults (admin)."""
        if not ctx.is_admin:
            raise _policy("delete")
        with self.db.session() as session:
            for row in session.scalars(
                select(QuotaLimit).where(QuotaLimit.project_id == project_id)
            ):
                session.delete(row)

    def check_servers(
        self,
        session: Session,
        project_id: str,
        count: int,
        vcpus: int,
        ram_mb: int,
        *,
        added: bool = False,
        limits: Mapping[str, int] | None = None,
    ) -> None:
        """403 with Nova's message if ``count`` more servers of this size exceed the quota.

        ``added``: the servers are added (flushed) in this session already, and counted with
        the rows of every concurrent create that came first (Nova's recheck): creates that
        each counted before adding could all pass. ``limits``: the project's, when the
        request read them already (a boot checks twice; the recheck is about usage).
        """
        wanted = {"instances": count, "cores": vcpus * count, "ram": ram_mb * count}
        if added:
            take_turns(session, f"quota/compute/{project_id}")
        if limits is None:
            limits = self.limits(project_id, session)
        used = self._server_usage(project_id, session)
        if added:
            used = {k: v - wanted.get(k, 0) for k, v in used.items()}
        over = [k for k, v in wanted.items() if 0 <= limits[k] < used[k] + v]
        if over:
            names = ", ".join(over)
            raise QuotaExceeded(
                f"Quota exceeded for {names}: Requested "
                f"{', '.join(str(wanted[k]) for k in over)}, but already used "
                f"{', '.join(str(used[k]) for k in over)} of "
                f"{', '.join(str(limits[k]) for k in over)} {names}"
            )

    def check_server_groups(self, session: Session, project_id: str) -> None:
        """403 if the project may not create one more server group."""
        limit = self.limits(project_id, session)["server_groups"]
        if 0 <= limit <= self._server_groups(project_id, session):
            raise QuotaExceeded("Quota exceeded, too many server groups.")

    def check_keypairs(self, session: Session, project_id: str, user_id: str) -> None:
        """403 if the user may not create one more key pair (counted per user, as Nova does)."""
        params = {"project_id": project_id, "user_id": user_id}
        limit, used = run_core(session, _KEYPAIR_LIMIT_AND_USE, params).one()
        if limit is None:
            limit = DEFAULTS["key_pairs"]
        if 0 <= limit <= used:
            raise QuotaExceeded("Quota exceeded, too many key pairs.")
