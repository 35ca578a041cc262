"""Flavors: the sizes servers boot with; public, or private with per-project access.

Flavors are shared by every region of the gateway (Nova keeps them in its API database, above the
cells). A private flavor exists, for a project without access, as much as a missing one: 404.
A region whose backend has sizes of its own (``native_flavors``) has those as its flavors
instead (:mod:`.native_flavors`), read-only.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Row, Select, bindparam, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from interstack.backends.contract import NativeSize
from interstack.errors import BadRequest, Conflict, Forbidden, NotFound
from interstack.services.compute import native_flavors
from interstack.services.compute.records import Flavor
from interstack.services.context import RequestContext
from interstack.services.listing import Page, paginate
from interstack.services.regions import Regions
from interstack.services.tasks import utcnow
from interstack.store import Database, run_core, table_of
from interstack.store.models import Flavor as FlavorRow
from interstack.store.models import FlavorAccess

#: seeded at the first start: (id, name, vcpus, ram MB, disk GB)
DEFAULT_FLAVORS = (
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
    ("42", "m1.nano", 1, 128, 1),
    ("84", "m1.micro", 1, 192, 1),
)

#: Nova's sort keys of ``GET /flavors`` -> columns
SORT_COLUMNS: Mapping[str, InstrumentedAttribute[Any]] = {
    "flavorid": FlavorRow.id,
    "id": FlavorRow.id,
    "name": FlavorRow.name,
    "memory_mb": FlavorRow.ram_mb,
    "vcpus": FlavorRow.vcpus,
    "root_gb": FlavorRow.disk_gb,
    "ephemeral_gb": FlavorRow.ephemeral_gb,
    "swap": FlavorRow.swap_mb,
    "rxtx_factor": FlavorRow.rxtx_factor,
    "is_public": FlavorRow.is_public,
    "description": FlavorRow.description,
    "created_at": FlavorRow.created_at,
}


@dataclass(frozen=True)
class FlavorSpec:
    """A new flavor as an admin asks for it; ``id`` None means a generated UUID."""

    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    id: str | None = None
    ephemeral_gb: int = 0
    swap_mb: int = 0
    rxtx_factor: float = 1.0
    is_public: bool = True
    description: str | None = None


@dataclass(frozen=True)
class FlavorFilter:
    """``GET /flavors`` filters. ``is_public`` None lists public and private alike (admins)."""

    is_public: bool | None = True
    min_disk_gb: int | None = None
    min_ram_mb: int | None = None


def record(row: FlavorRow | Row[Any]) -> Flavor:
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


def not_found(flavor_id: str) -> NotFound:
    return NotFound(f"Flavor {flavor_id} could not be found.")


def _accessible(project_id: str | None) -> Any:
    """Public flavors, and the private ones ``project_id`` was given access to."""
    granted = select(FlavorAccess.flavor_id).where(FlavorAccess.project_id == (project_id or ""))
    return or_(FlavorRow.is_public.is_(True), FlavorRow.id.in_(granted))


_FLAVORS = table_of(FlavorRow)
_ACCESS = table_of(FlavorAccess).c
#: the flavor if the caller may use it (public, granted to its project, or an admin's): one
#: statement built once, run by run_core (a boot reads it; nothing changes it there)
_USABLE: Select[Any] = select(_FLAVORS).where(
    _FLAVORS.c.id == bindparam("flavor_id"),
    or_(
        _FLAVORS.c.is_public.is_(True),
        bindparam("is_admin", type_=Boolean()),
        exists().where(
            _ACCESS.flavor_id == _FLAVORS.c.id, _ACCESS.project_id == bindparam("project_id")
        ),
    ),
)


class FlavorService:
    def __init__(self, db: Database, regions: Regions) -> None:
        self.db = db
        self.regions = regions

    def _native(self, region: str) -> tuple[NativeSize, ...] | None:
        """The region's own sizes where they are its flavors; None where the shared are."""
        if not self.regions.capabilities(region).native_flavors:
            return None
        return self.regions.backend(region).compute.native_sizes()

    def _native_change(self, ctx: RequestContext, region: str, rule: str, what: str) -> None:
        """Policy first (as Nova), then a region whose flavors may not change refuses."""
        require_admin(ctx, rule)
        if self._native(region) is not None:
            raise native_flavors.refused(region, what)

    def seed(self) -> None:
        """Create the default flavors once (an operator may delete them later)."""
        with self.db.session() as session:
            if session.scalars(select(FlavorRow.id).limit(1)).first() is not None:
                return
            for flavor_id, name, vcpus, ram, disk in DEFAULT_FLAVORS:
                session.add(_new_row(FlavorSpec(name, vcpus, ram, disk, id=flavor_id), flavor_id))

    def _row(self, session: Session, ctx: RequestContext, flavor_id: str) -> FlavorRow:
        row = session.get(FlavorRow, flavor_id)
        if row is None:
            raise not_found(flavor_id)
        granted = row.is_public or ctx.is_admin
        if not granted and session.get(FlavorAccess, (row.id, ctx.project_id or "")) is None:
            raise not_found(flavor_id)
        return row

    def get(
        self, ctx: RequestContext, region: str, flavor_id: str, session: Session | None = None
    ) -> Flavor:
        """The region's flavor; read in ``session`` when the caller has one open (a boot's)."""
        sizes = self._native(region)
        if sizes is not None:
            return native_flavors.find(region, flavor_id, sizes)
        if session is None:
            with self.db.session() as own:
                return self.get(ctx, region, flavor_id, own)
        params = {
            "flavor_id": flavor_id,
            "is_admin": ctx.is_admin,
            "project_id": ctx.project_id or "",
        }
        row = run_core(session, _USABLE, params).one_or_none()
        if row is None:
            raise not_found(flavor_id)
        return record(row)

    def list(
        self, ctx: RequestContext, region: str, filters: FlavorFilter, page: Page
    ) -> list[Flavor]:
        """Flavors the caller may use, as Nova lists them: non-admins always get public ones and
        their project's private ones; an admin chooses with ``is_public``."""
        is_public = filters.is_public if ctx.is_admin else True
        sizes = self._native(region)
        if sizes is not None:
            return native_flavors.listed(
                sizes,
                is_public=is_public,
                min_disk_gb=filters.min_disk_gb,
                min_ram_mb=filters.min_ram_mb,
                page=page,
            )
        stmt: Select[Any] = select(FlavorRow)
        if is_public is True:
            stmt = stmt.where(_accessible(ctx.project_id))
        elif is_public is False:
            stmt = stmt.where(FlavorRow.is_public.is_(False))
        if filters.min_disk_gb is not None:
            stmt = stmt.where(FlavorRow.disk_gb >= filters.min_disk_gb)
        if filters.min_ram_mb is not None:
            stmt = stmt.where(FlavorRow.ram_mb >= filters.min_ram_mb)
        with self.db.session() as session:
            marker_row = None
            if page.marker is not None:
                marker_row = session.get(FlavorRow, page.marker)
                if marker_row is None:
                    raise BadRequest(f"marker [{page.marker}] not found")
            stmt = paginate(
                stmt, page, SORT_COLUMNS, FlavorRow.id, marker_row, [("flavorid", "asc")]
            )
            return [record(r) for r in session.scalars(stmt)]

    def create(self, ctx: RequestContext, region: str, spec: FlavorSpec) -> Flavor:
        self._native_change(ctx, region, "os_compute_api:os-flavor-manage:create", "created")
        new_id = spec.id if spec.id is not None else str(uuid.uuid4())
        try:
            with self.db.session() as session:
                if session.scalars(select(FlavorRow.id).where(FlavorRow.name == spec.name)).first():
                    raise Conflict(f"Flavor with name {spec.name} already exists.")
                if session.get(FlavorRow, new_id) is not None:
                    raise Conflict(f"Flavor with ID {new_id} already exists.")
                row = _new_row(spec, new_id)
                session.add(row)
                session.flush()
                created = record(row)
        except IntegrityError as exc:  # a concurrent create took the name or id first
            raise Conflict(f"Flavor with name {spec.name} or ID {new_id} already exists.") from exc
        return created

    def update(
        self, ctx: RequestContext, region: str, flavor_id: str, description: str | None
    ) -> Flavor:
        self._native_change(ctx, region, "os_compute_api:os-flavor-manage:update", "changed")
        with self.db.session() as session:
            row = self._row(session, ctx, flavor_id)
            row.description = description
            return record(row)

    def delete(self, ctx: RequestContext, region: str, flavor_id: str) -> None:
        """Servers keep a copy of their flavor, so a flavor in use may go (as in Nova)."""
        self._native_change(ctx, region, "os_compute_api:os-flavor-manage:delete", "deleted")
        with self.db.session() as session:
            row = self._row(session, ctx, flavor_id)
            session.execute(delete(FlavorAccess).where(FlavorAccess.flavor_id == row.id))
            session.delete(row)

    # -- extra specs -------------------------------------------------------------------------

    def extra_specs(self, ctx: RequestContext, region: str, flavor_id: str) -> dict[str, str]:
        return dict(self.get(ctx, region, flavor_id).extra_specs)

    def extra_spec(self, ctx: RequestContext, region: str, flavor_id: str, key: str) -> str:
        specs = self.extra_specs(ctx, region, flavor_id)
        if key not in specs:
            raise _no_spec(flavor_id, key)
        return specs[key]

    def set_extra_specs(
        self, ctx: RequestContext, region: str, flavor_id: str, specs: Mapping[str, str]
    ) -> dict[str, str]:
        """Add or replace the given keys; the others stay. Returns what was set."""
        rule = "os_compute_api:os-flavor-extra-specs:create"
        self._native_change(ctx, region, rule, "given extra specs")
        with self.db.session() as session:
            row = self._row(session, ctx, flavor_id)
            row.extra_specs = {**row.extra_specs, **specs}
        return dict(specs)

    def delete_extra_spec(self, ctx: RequestContext, region: str, flavor_id: str, key: str) -> None:
        rule = "os_compute_api:os-flavor-extra-specs:delete"
        self._native_change(ctx, region, rule, "changed")
        with self.db.session() as session:
            row = self._row(session, ctx, flavor_id)
            if key not in row.extra_specs:
                raise _no_spec(flavor_id, key)
            row.extra_specs = {k: v for k, v in row.extra_specs.items() if k != key}

    # -- access to private flavors -----------------------------------------------------------

    def access(self, ctx: RequestContext, region: str, flavor_id: str) -> builtins.list[str]:
        """The projects that may use a private flavor; 404 for a public one."""
        require_admin(ctx, "os_compute_api:os-flavor-access")
        sizes = self._native(region)
        if sizes is not None:  # every one is public
            native_flavors.find(region, flavor_id, sizes)
            raise NotFound("Access list not available for public flavors.")
        with self.db.session() as session:
            return self._access(session, self._row(session, ctx, flavor_id))

    def _access(self, session: Session, row: FlavorRow) -> builtins.list[str]:
        if row.is_public:
            raise NotFound("Access list not available for public flavors.")
        return list(
            session.scalars(
                select(FlavorAccess.project_id)
                .where(FlavorAccess.flavor_id == row.id)
                .order_by(FlavorAccess.project_id)
            )
        )

    def add_access(
        self, ctx: RequestContext, region: str, flavor_id: str, project_id: str
    ) -> builtins.list[str]:
        rule = "os_compute_api:os-flavor-access:add_tenant_access"
        self._native_change(ctx, region, rule, "given project access")
        with self.db.session() as session:
            row = self._row(session, ctx, flavor_id)
            if row.is_public:
                raise Conflict("Can not add access to a public flavor.")
            if session.get(FlavorAccess, (row.id, project_id)) is not None:
                raise Conflict(
                    f"Flavor access already exists for flavor {flavor_id} "
                    f"and project {project_id} combination."
                )
            session.add(FlavorAccess(flavor_id=row.id, project_id=project_id))
            session.flush()
            return self._access(session, row)

    def remove_access(
        self, ctx: RequestContext, region: str, flavor_id: str, project_id: str
    ) -> builtins.list[str]:
        rule = "os_compute_api:os-flavor-access:remove_tenant_access"
        self._native_change(ctx, region, rule, "given project access")
        with self.db.session() as session:
            row = self._row(session, ctx, flavor_id)
            found = session.get(FlavorAccess, (row.id, project_id))
            if found is None:
                raise NotFound(
                    f"Flavor access not found for {flavor_id} / {project_id} combination."
                )
            session.delete(found)
            session.flush()
            return self._access(session, row)


def _no_spec(flavor_id: str, key: str) -> NotFound:
    return NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")


def _new_row(spec: FlavorSpec, flavor_id: str) -> FlavorRow:
    return FlavorRow(
        id=flavor_id,
        name=spec.name,
        vcpus=spec.vcpus,
        ram_mb=spec.ram_mb,
        disk_gb=spec.disk_gb,
        ephemeral_gb=spec.ephemeral_gb,
        swap_mb=spec.swap_mb,
        rxtx_factor=str(spec.rxtx_factor),
        is_public=spec.is_public,
        description=spec.description,
        extra_specs={},
        created_at=utcnow(),
    )
