"""Grants of roles to users on projects, domains and the system, and the views built from them.

A grant is direct (on a project, a domain or the system) or inherited (on a domain, applying to
every project in it). The *effective* assignments of a user are its direct grants, its inherited
grants expanded to each project of the domain, and the roles those imply (admin implies member
implies reader). Removing a grant revokes the user's tokens on that scope, and, for a project,
deletes the user's application credentials there, as Keystone does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Forbidden, NotFound
from interstack.services.identity.auth import AuthService
from interstack.services.identity.directory import domain_info, project_info
from interstack.services.identity.records import (
    AssignmentInfo,
    DomainInfo,
    ProjectInfo,
    Ref,
    RoleInfo,
)
from interstack.services.identity.role_definitions import find_role, role_info
from interstack.services.identity.role_inference import implications
from interstack.store import Database
from interstack.store.models import (
    ApplicationCredential,
    Domain,
    Project,
    Role,
    RoleAssignment,
    User,
)

PROJECT = "project"
DOMAIN = "domain"
SYSTEM = "system"
SYSTEM_ALL = "all"


@dataclass(frozen=True)
class AssignmentFilter:
    """Filters of ``GET /v3/role_assignments``; ``None`` means "any"."""

    user_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    system: bool = False
    role_id: str | None = None
    effective: bool = False
    include_names: bool = False


def _grant_query(
    user_id: str, scope_type: str, scope_id: str, role_id: str | None, inherited: bool
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        RoleAssignment.actor_id == user_id,
        RoleAssignment.target_type == scope_type,
        RoleAssignment.target_id == scope_id,
        RoleAssignment.inherited.is_(inherited),
    ]
    if role_id is not None:
        conditions.append(RoleAssignment.role_id == role_id)
    return conditions


def _check_role_fits(session: Session, role: Role, scope_type: str, scope_id: str) -> None:
    """As Keystone: a domain-specific role is granted only on its domain's projects (or on a
    domain), never on the system."""
    if role.domain_id is None:
        return
    if scope_type == SYSTEM:
        raise BadRequest(f"Role {role.id} is a domain-specific role. Unable to assign to system.")
    project = session.get(Project, scope_id) if scope_type == PROJECT else None
    if project is not None and project.domain_id != role.domain_id:
        raise Forbidden(
            f"Project {scope_id} must be in the same domain as the role {role.id} being assigned."
        )


class AssignmentService:
    """Grant, check, list and revoke role assignments."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- grants ----------------------------------------------------------------------------------

    def grant(
        self, user_id: str, scope_type: str, scope_id: str, role_id: str, inherited: bool = False
    ) -> None:
        """Grant a role (idempotent). NotFound when the user, the scope or the role is unknown."""
        with self.db.session() as session:
            self._check_parties(session, user_id, scope_type, scope_id)
            _check_role_fits(session, find_role(session, role_id), scope_type, scope_id)
            exists = session.scalars(
                select(RoleAssignment.id).where(
                    *_grant_query(user_id, scope_type, scope_id, role_id, inherited)
                )
            ).first()
            if exists is None:
                session.add(
                    RoleAssignment(
                        actor_id=user_id,
                        target_type=scope_type,
                        target_id=scope_id,
                        role_id=role_id,
                        inherited=inherited,
                    )
                )

    def check_grant(
        self, user_id: str, scope_type: str, scope_id: str, role_id: str, inherited: bool = False
    ) -> None:
        """Return if the grant exists; NotFound if it (or any party) does not."""
        with self.db.session() as session:
            self._check_parties(session, user_id, scope_type, scope_id)
            find_role(session, role_id)
            self._find_grant(session, user_id, scope_type, scope_id, role_id, inherited)

    def list_grants(
        self, user_id: str, scope_type: str, scope_id: str, inherited: bool = False
    ) -> list[RoleInfo]:
        with self.db.session() as session:
            self._check_parties(session, user_id, scope_type, scope_id)
            role_ids = select(RoleAssignment.role_id).where(
                *_grant_query(user_id, scope_type, scope_id, None, inherited)
            )
            rows = session.scalars(select(Role).where(Role.id.in_(role_ids)).order_by(Role.name))
            return [role_info(row) for row in rows]

    def revoke_grant(
        self, user_id: str, scope_type: str, scope_id: str, role_id: str, inherited: bool = False
    ) -> None:
        with self.db.session() as session:
            self._check_parties(session, user_id, scope_type, scope_id)
            find_role(session, role_id)
            grant = self._find_grant(session, user_id, scope_type, scope_id, role_id, inherited)
            session.delete(grant)
            if scope_type == PROJECT and not inherited:
                AuthService.record_revocation(session, user_id=user_id, project_id=scope_id)
                session.execute(
                    delete(ApplicationCredential).where(
                        ApplicationCredential.user_id == user_id,
                        ApplicationCredential.project_id == scope_id,
                    )
                )
            else:
                # No revocation field names a domain or the system: end all of the user's tokens.
                AuthService.record_revocation(session, user_id=user_id)

    def _find_grant(
        self,
        session: Session,
        user_id: str,
        scope_type: str,
        scope_id: str,
        role_id: str,
        inherited: bool,
    ) -> RoleAssignment:
        grant = session.scalars(
            select(RoleAssignment).where(
                *_grant_query(user_id, scope_type, scope_id, role_id, inherited)
            )
        ).first()
        if grant is None:
            raise NotFound(
                f"Could not find role assignment with role: {role_id}, user or group: {user_id}, "
                f"project, domain, or system: {scope_id}."
            )
        return grant

    def _check_parties(
        self, session: Session, user_id: str, scope_type: str, scope_id: str
    ) -> None:
        if session.get(User, user_id) is None:
            raise NotFound(f"Could not find user: {user_id}.")
        if scope_type == PROJECT and session.get(Project, scope_id) is None:
            raise NotFound(f"Could not find project: {scope_id}.")
        if scope_type == DOMAIN and session.get(Domain, scope_id) is None:
            raise NotFound(f"Could not find domain: {scope_id}.")

    # -- listings --------------------------------------------------------------------------------

    def list_assignments(self, where: AssignmentFilter) -> list[AssignmentInfo]:
        with self.db.session() as session:
            query = select(RoleAssignment).order_by(RoleAssignment.id)
            if where.user_id is not None:
                query = query.where(RoleAssignment.actor_id == where.user_id)
            grants = list(session.scalars(query))
            found = (
                self._effective(session, grants)
                if where.effective
                else [self._direct(g) for g in grants]
            )
            found = [a for a in found if self._matches(a, where)]
            if where.include_names:
                found = _Names(session).fill(found)
            return found

    def effective_role_ids(self, user_id: str, project_id: str) -> set[str]:
        """Ids of every role the user holds on a project, implied roles included."""
        found = self.list_assignments(
            AssignmentFilter(user_id=user_id, project_id=project_id, effective=True)
        )
        return {a.role.id for a in found}

    def user_projects(self, user_id: str, *, enabled_only: bool = False) -> list[ProjectInfo]:
        """Projects on which the user has a role, directly or inherited from the domain."""
        with self.db.session() as session:
            if session.get(User, user_id) is None:
                raise NotFound(f"Could not find user: {user_id}.")
            grants = session.scalars(
                select(RoleAssignment).where(RoleAssignment.actor_id == user_id)
            )
            found = self._effective(session, list(grants), implied=False)
            ids = {a.scope.id for a in found if a.scope_type == PROJECT}
            rows = session.scalars(
                select(Project).where(Project.id.in_(ids)).order_by(Project.name)
            )
            projects = [project_info(row) for row in rows]
            if enabled_only:
                enabled_domains = set(session.scalars(select(Domain.id).where(Domain.enabled)))
                projects = [p for p in projects if p.enabled and p.domain_id in enabled_domains]
            return projects

    def user_domains(self, user_id: str) -> list[DomainInfo]:
        """Enabled domains on which the user has a direct (not inherited-only) role."""
        with self.db.session() as session:
            ids = select(RoleAssignment.target_id).where(
                RoleAssignment.actor_id == user_id,
                RoleAssignment.target_type == DOMAIN,
                RoleAssignment.inherited.is_(False),
            )
            rows = session.scalars(
                select(Domain).where(Domain.id.in_(ids), Domain.enabled).order_by(Domain.name)
            )
            return [domain_info(row) for row in rows]

    @staticmethod
    def _direct(grant: RoleAssignment) -> AssignmentInfo:
        return AssignmentInfo(
            role=Ref(grant.role_id),
            user=Ref(grant.actor_id),
            scope_type=grant.target_type,
            scope=Ref(grant.target_id),
            inherited=grant.inherited,
        )

    def _effective(
        self, session: Session, grants: Iterable[RoleAssignment], implied: bool = True
    ) -> list[AssignmentInfo]:
        expanded: list[AssignmentInfo] = []
        for grant in grants:
            if grant.target_type == DOMAIN and grant.inherited:
                projects = session.scalars(
                    select(Project.id).where(Project.domain_id == grant.target_id)
                )
                expanded.extend(
                    AssignmentInfo(
                        role=Ref(grant.role_id),
                        user=Ref(grant.actor_id),
                        scope_type=PROJECT,
                        scope=Ref(project_id),
                        inherited_from_domain_id=grant.target_id,
                    )
                    for project_id in projects
                )
            else:
                expanded.append(self._direct(grant))
        if implied:
            expanded.extend(self._implied(session, expanded))
        # As in Keystone, an effective listing shows what tokens carry: a domain-specific role
        # only brings the global roles it implies.
        domain_roles = set(session.scalars(select(Role.id).where(Role.domain_id.is_not(None))))
        unique: dict[tuple[str, str, str, str], AssignmentInfo] = {}
        for item in expanded:
            if item.role.id not in domain_roles:
                unique.setdefault(_key(item), item)
        return list(unique.values())

    def _implied(self, session: Session, found: list[AssignmentInfo]) -> list[AssignmentInfo]:
        """Assignments of the roles those of ``found`` imply, followed by role id; each names
        the role that implied it (``prior_role_id``), as Keystone's ``prior_role`` link does."""
        rules = implications(session)
        extra: list[AssignmentInfo] = []
        seen = {_key(item) for item in found}
        pending = list(found)
        while pending:
            prior = pending.pop()
            for implied_id in rules.get(prior.role.id, ()):
                implied = replace(prior, role=Ref(implied_id), prior_role_id=prior.role.id)
                if _key(implied) not in seen:
                    seen.add(_key(implied))
                    extra.append(implied)
                    pending.append(implied)
        return extra

    @staticmethod
    def _matches(item: AssignmentInfo, where: AssignmentFilter) -> bool:
        if where.role_id is not None and item.role.id != where.role_id:
            return False
        if where.project_id is not None and (
            item.scope_type != PROJECT or item.scope.id != where.project_id
        ):
            return False
        if where.domain_id is not None and (
            item.scope_type != DOMAIN or item.scope.id != where.domain_id
        ):
            return False
        return not (where.system and item.scope_type != SYSTEM)


def _key(item: AssignmentInfo) -> tuple[str, str, str, str]:
    return (item.user.id, item.scope_type, item.scope.id, item.role.id)


class _Names:
    """Fills in names (and owning domains) of the roles, users and scopes of assignments."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.domains = {d.id: d.name for d in session.scalars(select(Domain))}

    def fill(self, found: list[AssignmentInfo]) -> list[AssignmentInfo]:
        role_ids = {a.role.id for a in found}
        user_ids = {a.user.id for a in found}
        project_ids = {a.scope.id for a in found if a.scope_type == PROJECT}
        roles = {r.id: r for r in self.session.scalars(select(Role).where(Role.id.in_(role_ids)))}
        users = {u.id: u for u in self.session.scalars(select(User).where(User.id.in_(user_ids)))}
        projects = {
            p.id: p
            for p in self.session.scalars(select(Project).where(Project.id.in_(project_ids)))
        }
        named: list[AssignmentInfo] = []
        for item in found:
            role = roles.get(item.role.id)
            user = users.get(item.user.id)
            scope = item.scope
            if item.scope_type == PROJECT and scope.id in projects:
                project = projects[scope.id]
                scope = self._ref(project.id, project.name, project.domain_id)
            elif item.scope_type == DOMAIN:
                scope = Ref(scope.id, self.domains.get(scope.id))
            named.append(
                replace(
                    item,
                    role=self._ref(item.role.id, role.name, role.domain_id) if role else item.role,
                    user=self._ref(user.id, user.name, user.domain_id) if user else item.user,
                    scope=scope,
                )
            )
        return named

    def _ref(self, id_: str, name: str, domain_id: str | None) -> Ref:
        return Ref(id_, name, domain_id, self.domains.get(domain_id) if domain_id else None)
