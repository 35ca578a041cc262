"""Application credentials: a user's delegated, project-bound secrets for automation.

A credential is bound to the project of the token that created it and carries a subset of that
token's roles. Its secret is returned once, at creation, and stored only as an argon2 hash.
Deleting it revokes every token issued with it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict, Forbidden, NotFound
from interstack.services.context import RequestContext
from interstack.services.identity.assignments import AssignmentService
from interstack.services.identity.auth import AuthService
from interstack.services.identity.directory import new_id
from interstack.services.identity.passwords import STANDARD, SecretHasher, generate_secret
from interstack.services.identity.records import (
    AppCredentialInfo,
    NewAppCredential,
    Ref,
    RoleSelector,
)
from interstack.store import Database
from interstack.store.models import ApplicationCredential, Role

_APP_CRED_METHOD = "application_credential"


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _info(session: Session, row: ApplicationCredential) -> AppCredentialInfo:
    role_ids = [str(r) for r in row.role_ids or ()]
    roles = {r.id: r for r in session.scalars(select(Role).where(Role.id.in_(role_ids)))}
    return AppCredentialInfo(
        id=row.id,
        name=row.name,
        description=row.description or "",
        user_id=row.user_id,
        project_id=row.project_id,
        unrestricted=row.unrestricted,
        expires_at=_aware(row.expires_at),
        roles=tuple(
            Ref(rid, roles[rid].name, roles[rid].domain_id) for rid in role_ids if rid in roles
        ),
    )


class AppCredentialService:
    """Create, list, show and delete the application credentials of a user."""

    def __init__(
        self, db: Database, assignments: AssignmentService, hasher: SecretHasher = STANDARD
    ) -> None:
        self.db = db
        self.assignments = assignments
        self.hasher = hasher

    def create(
        self,
        ctx: RequestContext,
        user_id: str,
        name: str,
        *,
        secret: str | None = None,
        description: str = "",
        expires_at: datetime | None = None,
        unrestricted: bool = False,
        roles: tuple[RoleSelector, ...] | None = None,
    ) -> NewAppCredential:
        """A credential for the caller on the caller's project; its secret appears only here."""
        self._check_token_may_manage(ctx)
        if ctx.user_id != user_id:
            raise Forbidden("Cannot create an application credential for another user.")
        if ctx.project_id is None:
            raise BadRequest("Application credentials are created with a project-scoped token.")
        expires_at = _aware(expires_at)
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise BadRequest("expires_at must be in the future.")
        held = self.assignments.effective_role_ids(user_id, ctx.project_id)
        secret = secret or generate_secret(48)
        secret_hash = self.hasher.hash(secret)
        with self.db.session() as session:
            role_ids = (
                self._resolve_roles(session, roles)
                if roles
                else [r for r in ctx.role_ids if r in held]
            )
            missing = [r for r in role_ids if r not in held]
            if missing:
                raise BadRequest(
                    f"Invalid application credential: user {user_id} has no role {missing[0]} "
                    f"on project {ctx.project_id}."
                )
            taken = session.scalars(
                select(ApplicationCredential.id).where(
                    ApplicationCredential.user_id == user_id, ApplicationCredential.name == name
                )
            ).first()
            if taken is not None:
                raise Conflict(
                    f"Conflict occurred attempting to store application_credential - "
                    f"Duplicate entry {name}."
                )
            row = ApplicationCredential(
                id=new_id(),
                name=name,
                user_id=user_id,
                project_id=ctx.project_id,
                secret_hash=secret_hash,
                description=description,
                expires_at=expires_at.astimezone(UTC).replace(tzinfo=None) if expires_at else None,
                unrestricted=unrestricted,
                role_ids=role_ids,
                created_at=datetime.now(UTC).replace(tzinfo=None),
            )
            session.add(row)
            session.flush()
            return NewAppCredential(_info(session, row), secret)

    def list_for_user(self, user_id: str, *, name: str | None = None) -> list[AppCredentialInfo]:
        query = (
            select(ApplicationCredential)
            .where(ApplicationCredential.user_id == user_id)
            .order_by(ApplicationCredential.name)
        )
        if name is not None:
            query = query.where(ApplicationCredential.name == name)
        with self.db.session() as session:
            return [_info(session, row) for row in session.scalars(query)]

    def get(self, user_id: str, credential_id: str) -> AppCredentialInfo:
        with self.db.session() as session:
            return _info(session, self._find(session, user_id, credential_id))

    def delete(self, ctx: RequestContext, user_id: str, credential_id: str) -> None:
        self._check_token_may_manage(ctx)
        with self.db.session() as session:
            row = self._find(session, user_id, credential_id)
            AuthService.record_revocation(session, app_cred_id=row.id)
            session.delete(row)

    def _find(self, session: Session, user_id: str, credential_id: str) -> ApplicationCredential:
        row = session.get(ApplicationCredential, credential_id)
        if row is None or row.user_id != user_id:
            raise NotFound(f"Could not find Application Credential: {credential_id}.")
        return row

    @staticmethod
    def _resolve_roles(session: Session, wanted: tuple[RoleSelector, ...]) -> list[str]:
        ids: list[str] = []
        for ref in wanted:
            query = select(Role)
            if ref.id:
                query = query.where(Role.id == ref.id)
            elif ref.name:
                query = query.where(Role.name == ref.name)
                query = query.where(
                    Role.domain_id.is_(None)
                    if ref.domain_id is None
                    else Role.domain_id == ref.domain_id
                )
            else:
                raise BadRequest("A role of an application credential needs an id or a name.")
            role = session.scalars(query).first()
            if role is None:
                raise NotFound(f"Could not find role: {ref.id or ref.name}.")
            if role.id not in ids:
                ids.append(role.id)
        return ids

    def _check_token_may_manage(self, ctx: RequestContext) -> None:
        """A token from a restricted application credential may not mint or remove others."""
        if _APP_CRED_METHOD not in ctx.methods or ctx.app_cred_id is None:
            return
        with self.db.session() as session:
            used = session.get(ApplicationCredential, ctx.app_cred_id)
            unrestricted = used is not None and used.unrestricted
        if not unrestricted:
            raise Forbidden(
                "Using method 'application_credential' is not allowed for managing additional "
                "application credentials."
            )
