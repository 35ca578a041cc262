"""Provider-neutral identity objects handed from the identity service to the API views."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class NamedRef:
    id: str
    name: str


@dataclass(frozen=True)
class ScopedProject:
    id: str
    name: str
    domain: NamedRef


@dataclass(frozen=True)
class AppCredentialRef:
    id: str
    name: str
    restricted: bool


@dataclass(frozen=True)
class TokenInfo:
    """Everything a token response shows: who, for what scope, with which roles, until when."""

    token: str
    user: NamedRef
    user_domain: NamedRef
    methods: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    audit_ids: tuple[str, ...]
    password_expires_at: datetime | None = None
    project: ScopedProject | None = None
    domain: NamedRef | None = None
    system: bool = False
    roles: tuple[NamedRef, ...] = ()
    app_credential: AppCredentialRef | None = None
    is_admin_project: bool = False


@dataclass(frozen=True)
class PasswordCredentials:
    """A user named by id, or by name within a domain named by id or name."""

    password: str
    user_id: str | None = None
    user_name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None


@dataclass(frozen=True)
class AppCredentialCredentials:
    secret: str
    id: str | None = None
    name: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    user_domain_id: str | None = None
    user_domain_name: str | None = None


@dataclass(frozen=True)
class ScopeRequest:
    """At most one of project (by id, or by name within a domain), domain, or system."""

    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    project_domain_name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None
    system: bool = False
    unscoped: bool = False


@dataclass(frozen=True)
class AuthRequest:
    methods: tuple[str, ...]
    password: PasswordCredentials | None = None
    token: str | None = None
    app_credential: AppCredentialCredentials | None = None
    scope: ScopeRequest = field(default_factory=ScopeRequest)
