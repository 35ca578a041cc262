"""Flavors: the sizes servers boot with; public, or private with per-project access."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict, Forbidden, NotFound
from interstack.services.compute.records import Flavor
from interstack.services.context import RequestContext
from interstack.services.tasks import utcnow
from interstack.store import Database
from interstack.store.models import Flavor as FlavorRow
from interstack.store.models import FlavorAccess

#: seeded at the first start: (id, name, vcpus, ram MB, disk GB)
DEFAULT_FLAVORS = (
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
    ("42", "m1.nano", 1, 128, 0),
    ("84", "m1.micro", 1, 192, 0),
)


def record(row: FlavorRow) -> Flavor:
    return Flavor(
        id=row.id,
        name=row.name,
        vcpus=row.vcpus,
        ram_mb=row.ram_mb,
        disk_gb=row.disk_gb,
        ephemeral_gb=row.ephemeral_gb,
        swap_mb=row.swap_mb,
        rxtx_factor=float(row.rxtx_factor),
        is_public=row.is_public,
        description=row.description,
        extra_specs=dict(row.extra_specs),
    )


def require_admin(ctx: RequestContext, rule: str) -> None:
    if not ctx.is_admin:
        raise Forbidden(f"Policy doesn't allow {rule} to be performed.")


class FlavorService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def seed(self) -> None:
        """Create the default flavors once (an operator may delete them later)."""
        with self.db.session() as session:
            if session.scalars(select(FlavorRow.id).limit(1)).first() is not None:
                return
            for flavor_id, name, vcpus, ram, disk in DEFAULT_FLAVORS:
                session.add(
                    FlavorRow(
                        id=flavor_id,
                        name=name,
                        vcpus=vcpus,
                        ram_mb=ram,
                        disk_gb=disk,
                        ephemeral_gb=0,
                        swap_mb=0,
                        rxtx_factor="1.0",
                        is_public=True,
                        description=None,
                        extra_specs={},
                        created_at=utcnow(),
                    )
                )

    def _visible(self, session: Session, ctx: RequestContext, row: FlavorRow) -> bool:
        if row.is_public or ctx.is_admin:
            return True
        return session.get(FlavorAccess, (row.id, ctx.project_id or "")) is not None

    def _row(self, session: Session, ctx: RequestContext, flavor_id: str) -> FlavorRow:
        row = session.get(FlavorRow, flavor_id)
        if row is None or not self._visible(session, ctx, row):
            raise NotFound(f"Flavor {flavor_id} could not be found.")
        return row

    def get(self, ctx: RequestContext, flavor_id: str) -> Flavor:
        with self.db.session() as session:
            return record(self._row(session, ctx, flavor_id))

    def list(
        self,
        ctx: RequestContext,
        *,
        is_public: bool | None = True,
        min_disk: int | None = None,
        min_ram: int | None = None,
        limit: int | None = None,
        marker: str | None = None,
        sort_key: str = "id",
        sort_dir: str = "asc",
    ) -> list[Flavor]:
        columns = {
            "id": FlavorRow.id,
            "name": FlavorRow.name,
            "memory_mb": FlavorRow.ram_mb,
            "vcpus": FlavorRow.vcpus,
            "root_gb": FlavorRow.disk_gb,
            "flavorid": FlavorRow.id,
            "ephemeral_gb": FlavorRow.ephemeral_gb,
            "swap": FlavorRow.swap_mb,
        }
        column = columns.get(sort_key)
        if column is None or sort_dir not in ("asc", "desc"):
            raise BadRequest(f"Invalid sort key or direction: {sort_key} {sort_dir}.")
        with self.db.session() as session:
            stmt = select(FlavorRow)
            if min_disk is not None:
                stmt = stmt.where(FlavorRow.disk_gb >= min_disk)
            if min_ram is not None:
                stmt = stmt.where(FlavorRow.ram_mb >= min_ram)
            rows = list(session.scalars(stmt))
            if ctx.is_admin:
                if is_public is not None:
                    rows = [r for r in rows if r.is_public == is_public]
            else:
                allowed = set(
                    session.scalars(
                        select(FlavorAccess.flavor_id).where(
                            FlavorAccess.project_id == (ctx.project_id or "")
                        )
                    )
                )
                rows = [r for r in rows if r.is_public or r.id in allowed]
        attr = column.key
        rows.sort(key=lambda r: (getattr(r, attr), r.id), reverse=sort_dir == "desc")
        if marker is not None:
            ids = [r.id for r in rows]
            if marker not in ids:
                raise BadRequest(f"marker [{marker}] not found")
            rows = rows[ids.index(marker) + 1 :]
        if limit is not None:
            rows = rows[:limit]
        return [record(r) for r in rows]

    def create(
        self,
        ctx: RequestContext,
        *,
        name: str,
        flavor_id: str | None,
        vcpus: int,
        ram_mb: int,
        disk_gb: int,
        ephemeral_gb: int = 0,
        swap_mb: int = 0,
        rxtx_factor: float = 1.0,
        is_public: bool = True,
        description: str | None = None,
    ) -> Flavor:
        require_admin(ctx, "os_compute_api:os-flavor-manage:create")
        new_id = flavor_id if flavor_id and flavor_id != "auto" else str(uuid.uuid4())
        with self.db.session() as session:
            if session.scalars(select(FlavorRow).where(FlavorRow.name == name)).first():
                raise Conflict(f"Flavor with name {name} already exists.")
            if session.get(FlavorRow, new_id) is not None:
                raise Conflict(f"Flavor with ID {new_id} already exists.")
            row = FlavorRow(
                id=new_id,
                name=name,
                vcpus=vcpus,
                ram_mb=ram_mb,
                disk_gb=disk_gb,
                ephemeral_gb=ephemeral_gb,
                swap_mb=swap_mb,
                rxtx_factor=str(rxtx_factor),
                is_public=is_public,
                description=description,
                extra_specs={},
                created_at=utcnow(),
            )
            session.add(row)
            return record(row)

    def update(self, ctx: RequestContext, flavor_id: str, description: str | None) -> Flavor:
        require_admin(ctx, "os_compute_api:os-flavor-manage:update")
        with self.db.session() as session:
            row = self._row(session, ctx, flavor_id)
            row.description = description
            return record(row)

    def delete(self, ctx: RequestContext, flavor_id: str) -> None:
        require_admin(ctx, "os_compute_api:os-flavor-manage:delete")
        with self.db.session() as session:
            row = self._row(session, ctx, flavor_id)
            session.execute(delete(FlavorAccess).where(FlavorAccess.flavor_id == row.id))
            session.delete(row)

    # -- extra specs -------------------------------------------------------------------------

    def extra_specs(self, ctx: RequestContext, flavor_id: str) -> dict[str, str]:
        return dict(self.get(ctx, flavor_id).extra_specs)

    def set_extra_specs(
        self, ctx: RequestContext, flavor_id: str, specs: Mapping[str, str]
    ) -> dict[str, str]:
        require_admin(ctx, "os_compute_api:os-flavor-extra-specs:create")
        with self.db.session() as session:
            row = self._row(session, ctx, flavor_id)
            row.extra_specs = {**row.extra_specs, **specs}
            return dict(specs)

    def delete_extra_spec(self, ctx: RequestContext, flavor_id: str, key: str) -> None:
        require_admin(ctx, "os_compute_api:os-flavor-extra-specs:delete")
        with self.db.session() as session:
            row = self._row(session, ctx, flavor_id)
            if key not in row.extra_specs:
                raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
            row.extra_specs = {k: v for k, v in row.extra_specs.items() if k != key}

    # -- access ------------------------------------------------------------------------------

    def access(self, ctx: RequestContext, flavor_id: str) -> builtins.list[str]:
        require_admin(ctx, "os_compute_api:os-flavor-access")
        with self.db.session() as session:
            row = self._row(session, ctx, flavor_id)
            if row.is_public:
                raise NotFound("Access list not available for public flavors.")
            return list(
                session.scalars(
                    select(FlavorAccess.project_id)
                    .where(FlavorAccess.flavor_id == flavor_id)
                    .order_by(FlavorAccess.project_id)
                )
            )

    def add_access(
        self, ctx: RequestContext, flavor_id: str, project_id: str
    ) -> builtins.list[str]:
        require_admin(ctx, "os_compute_api:os-flavor-access:add_tenant_access")
        with self.db.session() as session:
            row = self._row(session, ctx, flavor_id)
            if row.is_public:
                raise Conflict(f"Can not add access to a public flavor {flavor_id}.")
            if session.get(FlavorAccess, (flavor_id, project_id)) is not None:
                raise Conflict(
                    f"Flavor access already exists for flavor {flavor_id} "
                    f"and project {project_id} combination."
                )
            session.add(FlavorAccess(flavor_id=flavor_id, project_id=project_id))
        return self.access(ctx, flavor_id)

    def remove_access(
        self, ctx: RequestContext, flavor_id: str, project_id: str
    ) -> builtins.list[str]:
        require_admin(ctx, "os_compute_api:os-flavor-access:remove_tenant_access")
        with self.db.session() as session:
            self._row(session, ctx, flavor_id)
            found = session.get(FlavorAccess, (flavor_id, project_id))
            if found is None:
                raise NotFound(
                    f"Flavor access not found for {flavor_id} / {project_id} combination."
                )
            session.delete(found)
        return self.access(ctx, flavor_id)
