"""Block storage quotas: defaults, per-project overrides (admin), usage counted from the rows.

Usage is never stored: volumes and snapshots are counted, and ``gigabytes`` adds up the sizes of
both (Cinder counts snapshots against ``gigabytes`` by default). A project's quota spans every
region, as its identity does. ``-1`` means unlimited. Going over a quota is Cinder's 413.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Forbidden, QuotaExceeded
from interstack.services.context import RequestContext
from interstack.services.volume.records import QuotaUsage
from interstack.store import Database
from interstack.store.models import Volume, VolumeQuota, VolumeSnapshot

DEFAULTS: dict[str, int] = {
    "volumes": 10,
    "snapshots": 10,
    "gigabytes": 1000,
    "backups": 10,
    "backup_gigabytes": 1000,
    "groups": 10,
    "per_volume_gigabytes": -1,
}


def over_limit(message: str) -> QuotaExceeded:
    """Cinder answers an exceeded quota with 413 (``overLimit``)."""
    error = QuotaExceeded(message)
    error.status = 413
    error.title = "Request Entity Too Large"
    return error


def _policy(rule: str) -> Forbidden:
    return Forbidden(f"Policy doesn't allow volume_extension:quotas:{rule} to be performed.")


class VolumeQuotaService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def defaults(self) -> dict[str, int]:
        return dict(DEFAULTS)

    def limits(self, session: Session, project_id: str) -> dict[str, int]:
        limits = dict(DEFAULTS)
        for row in session.scalars(select(VolumeQuota).where(VolumeQuota.project_id == project_id)):
            limits[row.resource] = row.hard_limit
        return limits

    def usage(self, session: Session, project_id: str) -> dict[str, int]:
        volumes, volume_gb = session.execute(
            select(func.count(), func.coalesce(func.sum(Volume.size), 0)).where(
                Volume.project_id == project_id
            )
        ).one()
        snapshots, snapshot_gb = session.execute(
            select(func.count(), func.coalesce(func.sum(VolumeSnapshot.size), 0)).where(
                VolumeSnapshot.project_id == project_id
            )
        ).one()
        return {
            "volumes": int(volumes),
            "snapshots": int(snapshots),
            "gigabytes": int(volume_gb) + int(snapshot_gb),
        }

    def show(self, ctx: RequestContext, project_id: str) -> dict[str, QuotaUsage]:
        """Limits with usage; admins see any project, others only their own (403)."""
        if not ctx.is_admin and ctx.project_id != project_id:
            raise _policy("show")
        with self.db.session() as session:
            limits = self.limits(session, project_id)
            used = self.usage(session, project_id)
        return {k: QuotaUsage(limit=v, in_use=used.get(k, 0)) for k, v in limits.items()}

    def update(
        self, ctx: RequestContext, project_id: str, changes: Mapping[str, int]
    ) -> dict[str, int]:
        """Set limits (admin); never below what is in use. Returns every limit."""
        if not ctx.is_admin:
            raise _policy("update")
        for key, value in changes.items():
            if key not in DEFAULTS:
                raise BadRequest(f"Bad key(s) in quota set: {key}")
            if value < -1:
                raise BadRequest(f"Quota limit {value} for {key} must be -1 or greater.")
        with self.db.session() as session:
            used = self.usage(session, project_id)
            for key, value in changes.items():
                in_use = used.get(key, 0)
                if value != -1 and value < in_use:
                    raise BadRequest(
                        f"Quota limit {value} for {key} must be greater than or equal to "
                        f"already used and reserved {in_use}."
                    )
            for key, value in changes.items():
                row = session.get(VolumeQuota, (project_id, key))
                if row is None:
                    session.add(VolumeQuota(project_id=project_id, resource=key, hard_limit=value))
                else:
                    row.hard_limit = value
            session.flush()
            return self.limits(session, project_id)

    def revert(self, ctx: RequestContext, project_id: str) -> None:
        if not ctx.is_admin:
            raise _policy("delete")
        with self.db.session() as session:
            for row in session.scalars(
                select(VolumeQuota).where(VolumeQuota.project_id == project_id)
            ):
                session.delete(row)

    # -- checks, in the session that then adds the resource --------------------------------

    def check_volume(self, session: Session, project_id: str, size: int, count: int = 1) -> None:
        """413 if one more volume of ``size`` GiB (``count=0``: ``size`` more GiB) is too much."""
        limits = self.limits(session, project_id)
        per_volume = limits["per_volume_gigabytes"]
        if count and 0 <= per_volume < size:
            raise over_limit(
                f"VolumeSizeExceedsLimit: Requested volume size {size}G is larger than maximum "
                f"allowed limit {per_volume}G."
            )
        used = self.usage(session, project_id)
        if count and 0 <= limits["volumes"] < used["volumes"] + count:
            raise over_limit(
                f"VolumeLimitExceeded: Maximum number of volumes allowed ({limits['volumes']}) "
                "exceeded for quota 'volumes'."
            )
        self._check_gigabytes(limits, used, size)

    def check_snapshot(self, session: Session, project_id: str, size: int) -> None:
        limits = self.limits(session, project_id)
        used = self.usage(session, project_id)
        if 0 <= limits["snapshots"] < used["snapshots"] + 1:
            raise over_limit(
                f"SnapshotLimitExceeded: Maximum number of snapshots allowed "
                f"({limits['snapshots']}) exceeded for quota 'snapshots'."
            )
        self._check_gigabytes(limits, used, size)

    @staticmethod
    def _check_gigabytes(limits: Mapping[str, int], used: Mapping[str, int], size: int) -> None:
        if 0 <= limits["gigabytes"] < used["gigabytes"] + size:
            raise over_limit(
                "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
                f"gigabytes quota. Requested {size}G, quota is {limits['gigabytes']}G and "
                f"{used['gigabytes']}G has been consumed."
            )
