"""Domains and projects: the containers that users, roles and every cloud resource belong to.

Rules follow Keystone: names are unique (domains globally, projects within their domain); a
domain is deleted only once disabled, and takes its projects, users and roles along; a project
with child projects cannot be deleted; disabling or deleting a project revokes its tokens.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from interstack.errors import BadRequest, Conflict, Forbidden, NotFound
from interstack.services.identity.auth import AuthService
from interstack.services.identity.purge import purge_domain_contents, purge_project
from interstack.services.identity.records import (
    DomainChanges,
    DomainInfo,
    Extra,
    ProjectChanges,
    ProjectInfo,
)
from interstack.store import Database
from interstack.store.models import Domain, Project, User

_DOMAIN_TAGS = "tags"  # domains keep their tags among the extra properties, under this key


def new_id() -> str:
    return uuid.uuid4().hex


def domain_info(row: Domain) -> DomainInfo:
    extra = dict(row.extra or {})
    tags = extra.pop(_DOMAIN_TAGS, [])
    return DomainInfo(
        id=row.id,
        name=row.name,
        description=row.description or "",
        enabled=row.enabled,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        extra=extra,
    )


def project_info(row: Project) -> ProjectInfo:
    return ProjectInfo(
        id=row.id,
        name=row.name,
        domain_id=row.domain_id,
        description=row.description or "",
        enabled=row.enabled,
        parent_id=row.parent_id or row.domain_id,
        tags=tuple(str(t) for t in row.tags or ()),
        extra=dict(row.extra or {}),
    )


def _merged(current: dict[str, Any] | None, changes: Extra) -> dict[str, Any]:
    merged = dict(current or {})
    merged.update(changes)
    return merged


class DirectoryService:
    """Create, read, update and delete domains and projects."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- domains ---------------------------------------------------------------------------------

    def list_domains(
        self, *, name: str | None = None, enabled: bool | None = None
    ) -> list[DomainInfo]:
        query = select(Domain).order_by(Domain.name)
        if name is not None:
            query = query.where(Domain.name == name)
        if enabled is not None:
            query = query.where(Domain.enabled.is_(enabled))
        with self.db.session() as session:
            return [domain_info(row) for row in session.scalars(query)]

    def get_domain(self, domain_id: str) -> DomainInfo:
        with self.db.session() as session:
            return domain_info(self._domain(session, domain_id))

    def create_domain(
        self,
        name: str,
        *,
        description: str = "",
        enabled: bool = True,
        tags: tuple[str, ...] = (),
        extra: Extra | None = None,
    ) -> DomainInfo:
        with self.db.session() as session:
            self._require_unique_domain_name(session, name)
            row = Domain(
                id=new_id(),
                name=name,
                description=description,
                enabled=enabled,
                extra={**(extra or {}), _DOMAIN_TAGS: list(tags)},
            )
            session.add(row)
            session.flush()
            return domain_info(row)

    def update_domain(self, domain_id: str, changes: DomainChanges) -> DomainInfo:
        with self.db.session() as session:
            row = self._domain(session, domain_id)
            if changes.name is not None and changes.name != row.name:
                self._require_unique_domain_name(session, changes.name)
                row.name = changes.name
            if changes.description is not None:
                row.description = changes.description
            extra = _merged(row.extra, changes.extra)
            if changes.tags is not None:
                extra[_DOMAIN_TAGS] = list(changes.tags)
            row.extra = extra
            if changes.enabled is not None:
                if row.enabled and not changes.enabled:
                    self._revoke_domain_tokens(session, row.id)
                row.enabled = changes.enabled
            session.flush()
            return domain_info(row)

    def delete_domain(self, domain_id: str) -> None:
        with self.db.session() as session:
            row = self._domain(session, domain_id)
            if row.enabled:
                raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
            purge_domain_contents(session, row.id)
            session.delete(row)

    def _domain(self, session: Session, domain_id: str) -> Domain:
        row = session.get(Domain, domain_id)
        if row is None:
            raise NotFound(f"Could not find domain: {domain_id}.")
        return row

    def _require_unique_domain_name(self, session: Session, name: str) -> None:
        if session.scalars(select(Domain.id).where(Domain.name == name)).first() is not None:
            raise Conflict(
                f"Conflict occurred attempting to store domain - Duplicate entry {name}."
            )

    def _revoke_domain_tokens(self, session: Session, domain_id: str) -> None:
        """Every token of the domain's users, scoped to its projects or to the domain itself
        (a user of another domain may hold one)."""
        AuthService.record_revocation(session, project_id=domain_id)
        for user_id in session.scalars(select(User.id).where(User.domain_id == domain_id)):
            AuthService.record_revocation(session, user_id=user_id)
        for project_id in session.scalars(select(Project.id).where(Project.domain_id == domain_id)):
            AuthService.record_revocation(session, project_id=project_id)

    # -- projects --------------------------------------------------------------------------------

    def list_projects(
        self,
        *,
        domain_id: str | None = None,
        name: str | None = None,
        enabled: bool | None = None,
        parent_id: str | None = None,
        ids: frozenset[str] | None = None,
    ) -> list[ProjectInfo]:
        query = select(Project).order_by(Project.name)
        if domain_id is not None:
            query = query.where(Project.domain_id == domain_id)
        if name is not None:
            query = query.where(Project.name == name)
        if enabled is not None:
            query = query.where(Project.enabled.is_(enabled))
        if ids is not None:
            query = query.where(Project.id.in_(ids))
        with self.db.session() as session:
            found = [project_info(row) for row in session.scalars(query)]
        if parent_id is not None:
            found = [p for p in found if p.parent_id == parent_id]
        return found

    def get_project(self, project_id: str) -> ProjectInfo:
        with self.db.session() as session:
            return project_info(self._project(session, project_id))

    def require_project(self, project_id: str) -> None:
        """A project another service's request names (quotas, flavor access) must exist: a 400
        in Nova's and Cinder's words, not the 404 of an identity lookup."""
        try:
            self.get_project(project_id)
        except NotFound as exc:
            raise BadRequest(f"Project ID {project_id} is not a valid project.") from exc

    def create_project(
        self,
        name: str,
        domain_id: str,
        *,
        description: str = "",
        enabled: bool = True,
        parent_id: str | None = None,
        tags: tuple[str, ...] = (),
        extra: Extra | None = None,
    ) -> ProjectInfo:
        with self.db.session() as session:
            if session.get(Domain, domain_id) is None:
                raise NotFound(f"Could not find domain: {domain_id}.")
            stored_parent: str | None = None
            if parent_id is not None and parent_id != domain_id:
                parent = session.get(Project, parent_id)
                if parent is None:
                    raise NotFound(f"Could not find project: {parent_id}.")
                if parent.domain_id != domain_id:
                    raise BadRequest("A project's parent must be in the same domain.")
                stored_parent = parent.id
            self._require_unique_project_name(session, domain_id, name)
            row = Project(
                id=new_id(),
                name=name,
                domain_id=domain_id,
                parent_id=stored_parent,
                description=description,
                enabled=enabled,
                tags=list(tags),
                extra=dict(extra or {}),
            )
            session.add(row)
            session.flush()
            return project_info(row)

    def update_project(self, project_id: str, changes: ProjectChanges) -> ProjectInfo:
        with self.db.session() as session:
            row = self._project(session, project_id)
            if changes.domain_id is not None and changes.domain_id != row.domain_id:
                raise BadRequest("Cannot change the domain of a project.")
            if changes.name is not None and changes.name != row.name:
                self._require_unique_project_name(session, row.domain_id, changes.name)
                row.name = changes.name
            if changes.description is not None:
                row.description = changes.description
            if changes.tags is not None:
                row.tags = list(changes.tags)
            if changes.extra:
                row.extra = _merged(row.extra, changes.extra)
            if changes.enabled is not None:
                if row.enabled and not changes.enabled:
                    AuthService.record_revocation(session, project_id=row.id)
                row.enabled = changes.enabled
            session.flush()
            return project_info(row)

    def delete_project(self, project_id: str) -> None:
        with self.db.session() as session:
            row = self._project(session, project_id)
            child = session.scalars(select(Project.id).where(Project.parent_id == row.id)).first()
            if child is not None:
                raise Forbidden(
                    f"Cannot delete project {row.id}: it has child projects; delete them first."
                )
            purge_project(session, row)

    def _project(self, session: Session, project_id: str) -> Project:
        row = session.get(Project, project_id)
        if row is None:
            raise NotFound(f"Could not find project: {project_id}.")
        return row

    def _require_unique_project_name(self, session: Session, domain_id: str, name: str) -> None:
        taken = session.scalars(
            select(Project.id).where(Project.domain_id == domain_id, Project.name == name)
        ).first()
        if taken is not None:
            raise Conflict(
                f"Conflict occurred attempting to store project - it is not permitted to have "
                f"two projects with the same name in the same domain : {name}."
            )
