"""Compute quotas: defaults, per-project overrides (admin), usage counted from the servers."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Forbidden, QuotaExceeded
from interstack.services.compute.records import QuotaUsage
from interstack.services.context import RequestContext
from interstack.store import Database
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
    # deprecated network quotas, shown before 2.36 (-1: proxied, unlimited here)
    "fixed_ips": -1,
    "floating_ips": 10,
    "security_groups": 10,
    "security_group_rules": 20,
}


class QuotaService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _check_reader(self, ctx: RequestContext, project_id: str) -> None:
        if not ctx.is_admin and ctx.project_id != project_id:
            raise Forbidden(
                "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed."
            )

    def limits(self, project_id: str, session: Session | None = None) -> dict[str, int]:
        if session is None:
            with self.db.session() as own:
                return self.limits(project_id, own)
        limits = dict(DEFAULTS)
        for row in session.scalars(select(QuotaLimit).where(QuotaLimit.project_id == project_id)):
            limits[row.resource] = row.hard_limit
        return limits

    def usage(
        self, project_id: str, session: Session, user_id: str | None = None
    ) -> dict[str, int]:
        servers = list(
            session.scalars(
                select(Server.flavor).where(
                    Server.project_id == project_id, Server.deleted_at.is_(None)
                )
            )
        )
        keypairs = 0
        if user_id is not None:
            keypairs = (
                session.scalar(
                    select(func.count()).select_from(Keypair).where(Keypair.user_id == user_id)
                )
                or 0
            )
        groups = (
            session.scalar(
                select(func.count())
                .select_from(ServerGroup)
                .where(ServerGroup.project_id == project_id)
            )
            or 0
        )
        return {
            "instances": len(servers),
            "cores": sum(int(f.get("vcpus", 0)) for f in servers),
            "ram": sum(int(f.get("ram", 0)) for f in servers),
            "key_pairs": keypairs,
            "server_groups": groups,
        }

    def show(
        self, ctx: RequestContext, project_id: str, user_id: str | None = None
    ) -> dict[str, QuotaUsage]:
        self._check_reader(ctx, project_id)
        with self.db.session() as session:
            limits = self.limits(project_id, session)
            used = self.usage(project_id, session, user_id or ctx.user_id)
        return {k: QuotaUsage(limit=v, in_use=used.get(k, 0)) for k, v in limits.items()}

    def update(self, ctx: RequestContext, project_id: str, changes: Mapping[str, int]) -> None:
        if not ctx.is_admin:
            raise Forbidden(
                "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed."
            )
        for key, value in changes.items():
            if key not in DEFAULTS:
                raise BadRequest(f"Bad key(s) {key} in quota_set")
            if value < -1:
                raise BadRequest(f"Quota limit {value} for {key} must be -1 or greater.")
        with self.db.session() as session:
            for key, value in changes.items():
                row = session.get(QuotaLimit, (project_id, key))
                if row is None:
                    session.add(QuotaLimit(project_id=project_id, resource=key, hard_limit=value))
                else:
                    row.hard_limit = value

    def revert(self, ctx: RequestContext, project_id: str) -> None:
        if not ctx.is_admin:
            raise Forbidden(
                "Policy doesn't allow os_compute_api:os-quota-sets:delete to be performed."
            )
        with self.db.session() as session:
            for row in session.scalars(
                select(QuotaLimit).where(QuotaLimit.project_id == project_id)
            ):
                session.delete(row)

    def check_servers(
        self, session: Session, project_id: str, count: int, vcpus: int, ram_mb: int
    ) -> None:
        """403 with Nova's message if ``count`` more servers of this size exceed the quota."""
        limits = self.limits(project_id, session)
        used = self.usage(project_id, session)
        wanted = {"instances": count, "cores": vcpus * count, "ram": ram_mb * count}
        over = [k for k, v in wanted.items() if limits[k] >= 0 and used[k] + v > limits[k]]
        if over:
            names = ", ".join(over)
            raise QuotaExceeded(
                f"Quota exceeded for {names}: Requested "
                f"{', '.join(str(wanted[k]) for k in over)}, but already used "
                f"{', '.join(str(used[k]) for k in over)} of "
                f"{', '.join(str(limits[k]) for k in over)} {names}"
            )
