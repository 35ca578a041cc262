"""Volume types: admin CRUD and extra specs, the default type every untyped volume gets.

A type is one for the whole gateway (as flavors are): a region is a copy of the same cloud. The
first start creates ``__DEFAULT__``, which Cinder creates on install and never lets go of.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict, Forbidden, NotFound
from interstack.services.context import RequestContext
from interstack.services.tasks import utcnow
from interstack.services.volume.common import check_metadata
from interstack.services.volume.records import VolumeType, type_record
from interstack.store import Database
from interstack.store.models import Volume as VolumeRow
from interstack.store.models import VolumeType as TypeRow

DEFAULT_TYPE = "__DEFAULT__"
#: the extra specs Cinder's capabilities filter compares with what a backend reports of itself
#: (``BlockStorageDriver.reported_capabilities``); bare or scoped ``capabilities:``
SCHEDULED_SPECS = frozenset({"volume_backend_name", "vendor_name", "storage_protocol"})


def unserved_specs(extra_specs: Mapping[str, str], reported: Mapping[str, str]) -> list[str]:
    """The type's extra specs a backend reporting ``reported`` cannot serve: one of
    :data:`SCHEDULED_SPECS` asking for a value the backend does not report (Cinder's
    scheduler then finds no valid backend and the volume goes to ``error``)."""
    unserved = []
    for key, value in extra_specs.items():
        name = key.removeprefix("capabilities:")
        if name in SCHEDULED_SPECS and reported.get(name) != value:
            unserved.append(key)
    return unserved


def _forbidden() -> Forbidden:
    return Forbidden("Policy doesn't allow volume_extension:types_manage to be performed.")


def type_not_found(value: str) -> NotFound:
    return NotFound(f"Volume type {value} could not be found.")


class VolumeTypeService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def seed(self) -> None:
        """First start: the default type (an empty table means a new install)."""
        with self.db.session() as session:
            if session.scalar(select(func.count()).select_from(TypeRow)):
                return
            session.add(
                TypeRow(
                    id=str(uuid.uuid4()),
                    name=DEFAULT_TYPE,
                    description="Default Volume Type",
                    is_public=True,
                    extra_specs={},
                    created_at=utcnow(),
                )
            )

    # -- lookups -----------------------------------------------------------------------------

    @staticmethod
    def find(session: Session, ctx: RequestContext, value: str) -> TypeRow:
        """A type by id or name that the caller may use (private ones: admins only)."""
        row = session.get(TypeRow, value)
        if row is None:
            row = session.scalars(select(TypeRow).where(TypeRow.name == value)).first()
        if row is None or (not row.is_public and not ctx.is_admin):
            raise type_not_found(value)
        return row

    @staticmethod
    def default_row(session: Session) -> TypeRow:
        row = session.scalars(select(TypeRow).where(TypeRow.name == DEFAULT_TYPE)).first()
        if row is None:
            raise NotFound("Default volume type can not be found.")
        return row

    def default(self) -> VolumeType:
        with self.db.session() as session:
            return type_record(self.default_row(session))

    def get(self, ctx: RequestContext, type_id: str) -> VolumeType:
        with self.db.session() as session:
            return type_record(self.find(session, ctx, type_id))

    def list(self, ctx: RequestContext, is_public: bool | None = None) -> builtins.list[VolumeType]:
        """Public types; an admin sees private ones too (or only those ``is_public`` asks)."""
        stmt = select(TypeRow).order_by(TypeRow.name)
        if not ctx.is_admin:
            stmt = stmt.where(TypeRow.is_public.is_(True))
        elif is_public is not None:
            stmt = stmt.where(TypeRow.is_public.is_(is_public))
        with self.db.session() as session:
            return [type_record(r) for r in session.scalars(stmt)]

    # -- admin -------------------------------------------------------------------------------

    def create(
        self,
        ctx: RequestContext,
        name: str,
        description: str | None,
        is_public: bool,
        extra_specs: Mapping[str, str],
    ) -> VolumeType:
        if not ctx.is_admin:
            raise _forbidden()
        specs = check_metadata(extra_specs, "extra specs")
        name = name.strip()
        if not name:
            raise BadRequest("Invalid input received: volume type name can not be empty.")
        try:
            with self.db.session() as session:
                if session.scalars(select(TypeRow).where(TypeRow.name == name)).first():
                    raise Conflict(f"Volume Type {name} already exists.")
                row = TypeRow(
                    id=str(uuid.uuid4()),
                    name=name,
                    description=description,
                    is_public=is_public,
                    extra_specs=specs,
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
                return type_record(row)
        except IntegrityError as exc:
            raise Conflict(f"Volume Type {name} already exists.") from exc

    def update(
        self,
        ctx: RequestContext,
        type_id: str,
        *,
        name: str | None,
        description: str | None,
        is_public: bool | None,
    ) -> VolumeType:
        if not ctx.is_admin:
            raise _forbidden()
        if name is None and description is None and is_public is None:
            raise BadRequest(
                "Specify volume type name, description, is_public or a combination thereof."
            )
        with self.db.session() as session:
            row = self.find(session, ctx, type_id)
            if name is not None and name != row.name:
                if row.name == DEFAULT_TYPE:
                    raise BadRequest("The default volume type can not be renamed.")
                if session.scalars(select(TypeRow).where(TypeRow.name == name)).first():
                    raise Conflict(f"Volume Type {name} already exists.")
                row.name = name
            if description is not None:
                row.description = description
            if is_public is not None:
                row.is_public = is_public
            return type_record(row)

    def delete(self, ctx: RequestContext, type_id: str) -> None:
        if not ctx.is_admin:
            raise _forbidden()
        with self.db.session() as session:
            row = self.find(session, ctx, type_id)
            if row.name == DEFAULT_TYPE:
                raise BadRequest("Default volume type can not be deleted.")
            used = session.scalar(
                select(func.count())
                .select_from(VolumeRow)
                .where(VolumeRow.volume_type_id == row.id)
            )
            if used:
                raise BadRequest(
                    f"Target volume type {row.id} is still in use by {used} volume(s)."
                )
            session.delete(row)

    def set_extra_specs(
        self, ctx: RequestContext, type_id: str, specs: Mapping[str, str]
    ) -> dict[str, str]:
        """Add or replace the given keys; returns what was set."""
        if not ctx.is_admin:
            raise _forbidden()
        checked = check_metadata(specs, "extra specs")
        with self.db.session() as session:
            row = self.find(session, ctx, type_id)
            row.extra_specs = {**row.extra_specs, **checked}
        return checked

    def delete_extra_spec(self, ctx: RequestContext, type_id: str, key: str) -> None:
        if not ctx.is_admin:
            raise _forbidden()
        with self.db.session() as session:
            row = self.find(session, ctx, type_id)
            if key not in row.extra_specs:
                raise NotFound(f"Volume Type {row.id} has no extra specs with key {key}.")
            row.extra_specs = {k: v for k, v in row.extra_specs.items() if k != key}
