"""Provider-neutral records of the identity admin API: what the services hand to the API views.

Reads return the ``*Info`` records; writes take the ``*Changes`` records, in which ``None`` means
"leave unchanged". Neither carries the wire shape (links, ``OS-*`` keys): that is the views' job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

#: extra (free-form, JSON) properties of a resource, as the client sent them
Extra = Mapping[str, object]


@dataclass(frozen=True)
class DomainInfo:
    id: str
    name: str
    description: str
    enabled: bool
    tags: tuple[str, ...] = ()
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectInfo:
    id: str
    name: str
    domain_id: str
    description: str
    enabled: bool
    #: the parent project, or the domain for a top-level project (as Keystone shows it)
    parent_id: str | None
    tags: tuple[str, ...] = ()
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class UserInfo:
    id: str
    name: str
    domain_id: str
    enabled: bool
    default_project_id: str | None = None
    description: str = ""
    email: str | None = None
    password_expires_at: datetime | None = None
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class RoleInfo:
    id: str
    name: str
    domain_id: str | None
    description: str
    #: the default roles (admin, member, reader) cannot be changed or deleted
    immutable: bool = False
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class Ref:
    """A resource named by id, with its name and owning domain where the caller asked for names."""

    id: str
    name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None


@dataclass(frozen=True)
class RoleSelector:
    """A role named by id, or by name (and owning domain, for a domain-specific role)."""

    id: str | None = None
    name: str | None = None
    domain_id: str | None = None


@dataclass(frozen=True)
class AssignmentInfo:
    """One role on one scope for one user.

    ``scope_type`` is ``project``, ``domain`` or ``system``. ``inherited`` marks a domain grant
    that applies to the domain's projects. In an effective listing, ``prior_role_id`` names the
    role that implies this one and ``inherited_from_domain_id`` the domain a project role came from.
    """

    role: Ref
    user: Ref
    scope_type: str
    scope: Ref
    inherited: bool = False
    prior_role_id: str | None = None
    inherited_from_domain_id: str | None = None


@dataclass(frozen=True)
class AppCredentialInfo:
    id: str
    name: str
    description: str
    user_id: str
    project_id: str
    unrestricted: bool
    expires_at: datetime | None
    roles: tuple[Ref, ...] = ()


@dataclass(frozen=True)
class NewAppCredential:
    """A created application credential and its secret, shown to the caller this once only."""

    credential: AppCredentialInfo
    secret: str


@dataclass(frozen=True)
class DomainChanges:
    name: str | None = None
    description: str | None = None
    enabled: bool | None = None
    tags: tuple[str, ...] | None = None
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectChanges:
    name: str | None = None
    description: str | None = None
    enabled: bool | None = None
    tags: tuple[str, ...] | None = None
    #: set only to refuse it: a project cannot move to another domain
    domain_id: str | None = None
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class UserChanges:
    name: str | None = None
    description: str | None = None
    email: str | None = None
    enabled: bool | None = None
    password: str | None = None
    default_project_id: str | None = None
    clear_default_project: bool = False
    domain_id: str | None = None
    extra: Extra = field(default_factory=dict)


@dataclass(frozen=True)
class RoleChanges:
    name: str | None = None
    description: str | None = None
    extra: Extra = field(default_factory=dict)
