"""Users: create, read, update, delete, and change their passwords.

Passwords are stored only as argon2 hashes and never returned. Anything that should end a
user's sessions (a new password, disabling, deleting) records a revocation in the same
transaction, so the user's existing tokens stop validating at once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict, NotFound, Unauthorized
from interstack.services.identity.auth import AuthService
from interstack.services.identity.directory import new_id
from interstack.services.identity.passwords import STANDARD, SecretHasher
from interstack.services.identity.purge import purge_user
from interstack.services.identity.records import Extra, UserChanges, UserInfo
from interstack.store import Database
from interstack.store.models import Domain, Project, User


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def user_info(row: User) -> UserInfo:
    return UserInfo(
        id=row.id,
        name=row.name,
        domain_id=row.domain_id,
        enabled=row.enabled,
        default_project_id=row.default_project_id,
        description=row.description or "",
        email=row.email,
        password_expires_at=_aware(row.password_expires_at),
        extra=dict(row.extra or {}),
    )


class UserService:
    """The users of every domain."""

    def __init__(self, db: Database, hasher: SecretHasher = STANDARD) -> None:
        self.db = db
        self.hasher = hasher

    def list_users(
        self,
        *,
        domain_id: str | None = None,
        name: str | None = None,
        enabled: bool | None = None,
    ) -> list[UserInfo]:
        query = select(User).order_by(User.name)
        if domain_id is not None:
            query = query.where(User.domain_id == domain_id)
        if name is not None:
            query = query.where(User.name == name)
        if enabled is not None:
            query = query.where(User.enabled.is_(enabled))
        with self.db.session() as session:
            return [user_info(row) for row in session.scalars(query)]

    def get_user(self, user_id: str) -> UserInfo:
        with self.db.session() as session:
            return user_info(self._user(session, user_id))

    def create_user(
        self,
        name: str,
        domain_id: str,
        *,
        password: str | None = None,
        enabled: bool = True,
        default_project_id: str | None = None,
        description: str = "",
        email: str | None = None,
        extra: Extra | None = None,
    ) -> UserInfo:
        password_hash = self.hasher.hash(password) if password is not None else None
        with self.db.session() as session:
            if session.get(Domain, domain_id) is None:
                raise NotFound(f"Could not find domain: {domain_id}.")
            if default_project_id is not None:
                self._check_default_project(session, default_project_id)
            self._require_unique_name(session, domain_id, name)
            row = User(
                id=new_id(),
                name=name,
                domain_id=domain_id,
                password_hash=password_hash,
                enabled=enabled,
                default_project_id=default_project_id,
                description=description,
                email=email,
                extra=dict(extra or {}),
                created_at=datetime.now(UTC).replace(tzinfo=None),
            )
            session.add(row)
            session.flush()
            return user_info(row)

    def update_user(self, user_id: str, changes: UserChanges) -> UserInfo:
        password_hash = self.hasher.hash(changes.password) if changes.password is not None else None
        with self.db.session() as session:
            row = self._user(session, user_id)
            if changes.domain_id is not None and changes.domain_id != row.domain_id:
                raise BadRequest("Cannot change the domain of a user.")
            if changes.name is not None and changes.name != row.name:
                self._require_unique_name(session, row.domain_id, changes.name)
                row.name = changes.name
            if changes.description is not None:
                row.description = changes.description
            if changes.email is not None:
                row.email = changes.email
            if changes.clear_default_project:
                row.default_project_id = None
            elif changes.default_project_id is not None:
                self._check_default_project(session, changes.default_project_id)
                row.default_project_id = changes.default_project_id
            if changes.extra:
                row.extra = {**(row.extra or {}), **changes.extra}
            revoke = False
            if password_hash is not None:
                row.password_hash = password_hash
                revoke = True
            if changes.enabled is not None:
                revoke = revoke or (row.enabled and not changes.enabled)
                row.enabled = changes.enabled
            if revoke:
                AuthService.record_revocation(session, user_id=row.id)
            session.flush()
            return user_info(row)

    def delete_user(self, user_id: str) -> None:
        with self.db.session() as session:
            purge_user(session, self._user(session, user_id))

    def change_password(self, user_id: str, original: str, new: str) -> None:
        """Self-service change; Unauthorized for an unknown or disabled user or a wrong
        ``original`` alike, so the call cannot be used to find out which users exist."""
        with self.db.session() as session:
            row = session.get(User, user_id)
            stored = row.password_hash if row is not None and row.enabled else None
        if not self.hasher.verify(stored, original):
            raise Unauthorized("Error when changing user password: invalid user or password.")
        new_hash = self.hasher.hash(new)
        with self.db.session() as session:
            row = self._user(session, user_id)
            row.password_hash = new_hash
            AuthService.record_revocation(session, user_id=row.id)

    def _user(self, session: Session, user_id: str) -> User:
        row = session.get(User, user_id)
        if row is None:
            raise NotFound(f"Could not find user: {user_id}.")
        return row

    def _require_unique_name(self, session: Session, domain_id: str, name: str) -> None:
        taken = session.scalars(
            select(User.id).where(User.domain_id == domain_id, User.name == name)
        ).first()
        if taken is not None:
            raise Conflict(f"Conflict occurred attempting to store user - Duplicate entry {name}.")

    def _check_default_project(self, session: Session, project_id: str) -> None:
        if session.get(Project, project_id) is None:
            raise NotFound(f"Could not find project: {project_id}.")
