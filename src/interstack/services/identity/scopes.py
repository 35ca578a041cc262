"""Which scope a token request names and which roles the user holds on it.

Authentication asks here whether a user may have a token scoped to a project, a domain or the
system; validation asks again on every use, so a removed grant takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Unauthorized
from interstack.services.identity.model import ScopeRequest
from interstack.services.identity.role_inference import token_roles
from interstack.store.models import (
    ApplicationCredential,
    Domain,
    Project,
    Role,
    RoleAssignment,
    User,
)

AUTH_FAILED = "The request you have made requires authentication."


@dataclass(frozen=True)
class Scope:
    """What a token is scoped to: at most one of a project, a domain or the system."""

    project_id: str | None = None
    domain_id: str | None = None
    system: bool = False

    @property
    def scoped(self) -> bool:
        return bool(self.project_id or self.domain_id or self.system)

    def __str__(self) -> str:
        if self.project_id:
            return f"project {self.project_id}"
        return f"domain {self.domain_id}" if self.domain_id else "system"


UNSCOPED = Scope()


def find_domain(
    session: Session, domain_id: str | None, name: str | None, *, required: bool
) -> Domain | None:
    """The enabled domain named by id or name; None when neither is given and none is required."""
    if domain_id:
        domain = session.get(Domain, domain_id)
    elif name:
        domain = session.scalars(select(Domain).where(Domain.name == name)).first()
    elif required:
        raise BadRequest("Expecting to find domain id or name for a user or project named by name.")
    else:
        return None
    if domain is None or not domain.enabled:
        raise Unauthorized(AUTH_FAILED)
    return domain


def resolve_scope(session: Session, user: User, scope: ScopeRequest) -> Scope:
    """The scope the request asks for (``UNSCOPED`` when none)."""
    if scope.project_id or scope.project_name:
        if scope.project_id:
            project = session.get(Project, scope.project_id)
        else:
            domain = find_domain(
                session, scope.project_domain_id, scope.project_domain_name, required=True
            )
            project = session.scalars(
                select(Project).where(
                    Project.name == scope.project_name,
                    Project.domain_id == (domain.id if domain else ""),
                )
            ).first()
        if project is None:
            raise Unauthorized(f"Could not find project: {scope.project_id or scope.project_name}.")
        domain_row = session.get(Domain, project.domain_id)
        if not project.enabled or domain_row is None or not domain_row.enabled:
            raise Unauthorized(f"Project {project.id} is disabled.")
        return Scope(project_id=project.id)
    if scope.domain_id or scope.domain_name:
        domain = find_domain(session, scope.domain_id, scope.domain_name, required=True)
        assert domain is not None
        return Scope(domain_id=domain.id)
    if scope.system:
        return Scope(system=True)
    if scope.unscoped or not user.default_project_id:
        return UNSCOPED
    # Keystone scopes a request without scope to the user's default project, if allowed.
    project = session.get(Project, user.default_project_id)
    if project is not None and project.enabled:
        default = Scope(project_id=project.id)
        if token_roles(session, granted_role_ids(session, user.id, default)):
            return default
    return UNSCOPED


def granted_role_ids(session: Session, user_id: str, scope: Scope) -> set[str]:
    """Ids of the roles granted directly on the scope (or inherited from a project's domain)."""
    conditions = []
    if project_id := scope.project_id:
        conditions.append(
            (RoleAssignment.target_type == "project")
            & (RoleAssignment.target_id == project_id)
            & RoleAssignment.inherited.is_(False)
        )
        project = session.get(Project, project_id)
        if project is not None:
            conditions.append(
                (RoleAssignment.target_type == "domain")
                & (RoleAssignment.target_id == project.domain_id)
                & RoleAssignment.inherited.is_(True)
            )
    elif domain_id := scope.domain_id:
        conditions.append(
            (RoleAssignment.target_type == "domain")
            & (RoleAssignment.target_id == domain_id)
            & RoleAssignment.inherited.is_(False)
        )
    elif scope.system:
        conditions.append(
            (RoleAssignment.target_type == "system") & (RoleAssignment.target_id == "all")
        )
    else:
        return set()
    rows = session.scalars(
        select(RoleAssignment.role_id).where(RoleAssignment.actor_id == user_id, or_(*conditions))
    )
    return set(rows)


def effective_roles(
    session: Session, user_id: str, scope: Scope, app_cred: ApplicationCredential | None
) -> list[Role]:
    granted = granted_role_ids(session, user_id, scope)
    if not granted:
        return []
    roles = token_roles(session, granted)
    if app_cred is not None and not app_cred.unrestricted and app_cred.role_ids:
        # An application credential keeps the roles it names (implied ones counted) that the
        # user still holds, plus what those imply.
        kept = {r.id for r in roles} & set(app_cred.role_ids)
        roles = token_roles(session, kept) if kept else []
    return roles


def require_roles(
    session: Session, user_id: str, scope: Scope, app_cred: ApplicationCredential | None
) -> None:
    if not effective_roles(session, user_id, scope, app_cred):
        raise Unauthorized(f"User {user_id} has no access to {scope}.")
