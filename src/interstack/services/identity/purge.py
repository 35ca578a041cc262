"""Removing a user or a project with everything that hangs on it, in the caller's session.

Shared by the directory (a deleted domain takes its users, projects and roles along), the user
service and the role definitions. Every removal records the revocation that makes the tokens it
leaves stale.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from interstack.services.identity.auth import AuthService
from interstack.store.models import ApplicationCredential, Project, Role, RoleAssignment, User


def purge_user(session: Session, user: User) -> None:
    """Delete a user, its role assignments and its application credentials; revoke its tokens."""
    session.execute(delete(RoleAssignment).where(RoleAssignment.actor_id == user.id))
    session.execute(delete(ApplicationCredential).where(ApplicationCredential.user_id == user.id))
    AuthService.record_revocation(session, user_id=user.id)
    session.delete(user)


def purge_project(session: Session, project: Project) -> None:
    """Delete a project, the roles granted on it and the application credentials bound to it."""
    session.execute(
        delete(RoleAssignment).where(
            RoleAssignment.target_type == "project", RoleAssignment.target_id == project.id
        )
    )
    session.execute(
        delete(ApplicationCredential).where(ApplicationCredential.project_id == project.id)
    )
    AuthService.record_revocation(session, project_id=project.id)
    session.delete(project)


def purge_domain_contents(session: Session, domain_id: str) -> None:
    """Delete every project, user and role owned by a domain, and every grant on the domain."""
    projects = list(session.scalars(select(Project).where(Project.domain_id == domain_id)))
    # Children first: a project is removed only after the projects below it.
    by_depth = sorted(projects, key=lambda p: _depth(p, {q.id: q for q in projects}), reverse=True)
    for project in by_depth:
        purge_project(session, project)
    for user in session.scalars(select(User).where(User.domain_id == domain_id)):
        purge_user(session, user)
    session.execute(
        delete(RoleAssignment).where(
            RoleAssignment.target_type == "domain", RoleAssignment.target_id == domain_id
        )
    )
    domain_roles = select(Role.id).where(Role.domain_id == domain_id)
    held = select(RoleAssignment).where(RoleAssignment.role_id.in_(domain_roles))
    revoke_holders(session, list(session.scalars(held)))  # users and scopes of other domains
    session.execute(delete(RoleAssignment).where(RoleAssignment.role_id.in_(domain_roles)))
    session.execute(delete(Role).where(Role.domain_id == domain_id))


def revoke_holders(session: Session, grants: Iterable[RoleAssignment]) -> None:
    """Revoke the tokens that grants about to be removed gave a role: the holder's on the
    grant's project, or all of the holder's for a grant on a domain or the system (no
    revocation field names those)."""
    for grant in grants:
        project_id = grant.target_id if grant.target_type == "project" else None
        AuthService.record_revocation(session, user_id=grant.actor_id, project_id=project_id)


def _depth(project: Project, by_id: dict[str, Project]) -> int:
    depth = 0
    current = project
    while current.parent_id in by_id and depth < len(by_id):
        current = by_id[current.parent_id]
        depth += 1
    return depth
