"""Role definitions: create, read, update and delete the roles that grants refer to.

The default roles (admin, member, reader) are immutable, as ``keystone-manage bootstrap`` makes
them: the policy layer depends on their names. Deleting a role removes its grants and revokes
the tokens that carried it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.errors import Conflict, Forbidden, NotFound
from interstack.services.identity import roles as role_names
from interstack.services.identity.directory import new_id
from interstack.services.identity.purge import revoke_holders
from interstack.services.identity.records import Extra, RoleChanges, RoleInfo
from interstack.store import Database
from interstack.store.models import Domain, Role, RoleAssignment


def is_immutable(row: Role) -> bool:
    return row.domain_id is None and row.name in role_names.DEFAULT_ROLES


def role_info(row: Role) -> RoleInfo:
    return RoleInfo(
        id=row.id,
        name=row.name,
        domain_id=row.domain_id,
        description=row.description or "",
        immutable=is_immutable(row),
        extra=dict(row.extra or {}),
    )


def find_role(session: Session, role_id: str) -> Role:
    row = session.get(Role, role_id)
    if row is None:
        raise NotFound(f"Could not find role: {role_id}.")
    return row


class RoleService:
    """Global roles (``domain_id`` null) and domain-specific roles."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def list_roles(
        self, *, name: str | None = None, domain_id: str | None = None
    ) -> list[RoleInfo]:
        query = select(Role).order_by(Role.name)
        query = query.where(
            Role.domain_id.is_(None) if domain_id is None else Role.domain_id == domain_id
        )
        if name is not None:
            query = query.where(Role.name == name)
        with self.db.session() as session:
            return [role_info(row) for row in session.scalars(query)]

    def get_role(self, role_id: str) -> RoleInfo:
        with self.db.session() as session:
            return role_info(find_role(session, role_id))

    def create_role(
        self,
        name: str,
        *,
        domain_id: str | None = None,
        description: str = "",
        extra: Extra | None = None,
    ) -> RoleInfo:
        with self.db.session() as session:
            if domain_id is not None and session.get(Domain, domain_id) is None:
                raise NotFound(f"Could not find domain: {domain_id}.")
            self._require_unique_name(session, domain_id, name)
            row = Role(
                id=new_id(),
                name=name,
                domain_id=domain_id,
                description=description,
                extra=dict(extra or {}),
            )
            session.add(row)
            session.flush()
            return role_info(row)

    def update_role(self, role_id: str, changes: RoleChanges) -> RoleInfo:
        with self.db.session() as session:
            row = find_role(session, role_id)
            if is_immutable(row):
                raise Forbidden(f"Role {row.name} is immutable and cannot be updated.")
            if changes.name is not None and changes.name != row.name:
                self._require_unique_name(session, row.domain_id, changes.name)
                row.name = changes.name
            if changes.description is not None:
                row.description = changes.description
            if changes.extra:
                row.extra = {**(row.extra or {}), **changes.extra}
            session.flush()
            return role_info(row)

    def delete_role(self, role_id: str) -> None:
        with self.db.session() as session:
            row = find_role(session, role_id)
            if is_immutable(row):
                raise Forbidden(f"Role {row.name} is immutable and cannot be deleted.")
            grants = list(
                session.scalars(select(RoleAssignment).where(RoleAssignment.role_id == row.id))
            )
            revoke_holders(session, grants)
            for grant in grants:
                session.delete(grant)
            session.flush()
            session.delete(row)

    def _require_unique_name(self, session: Session, domain_id: str | None, name: str) -> None:
        owner = Role.domain_id.is_(None) if domain_id is None else Role.domain_id == domain_id
        if session.scalars(select(Role.id).where(owner, Role.name == name)).first() is not None:
            raise Conflict(f"Conflict occurred attempting to store role - Duplicate entry {name}.")
