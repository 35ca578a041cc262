"""Request bodies of the identity admin API: domains, projects, users, roles, regions, app
credentials.

As in Keystone, domains, projects, users and roles accept extra properties, which are stored
and returned as they were sent; ``*Create`` models require a name, ``*Update`` models make every
field optional. Application credential bodies are closed: an unknown member is a 400.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Name = Annotated[str, Field(min_length=1, max_length=255, pattern=r"\S")]
Id = Annotated[str, Field(min_length=1, max_length=64)]
Tag = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^,/]+$")]
Tags = Annotated[list[Tag], Field(max_length=80)]
Description = Annotated[str | None, Field(max_length=65535)]

#: members that are never taken as extra properties, even where extras are allowed
RESERVED = frozenset({"id", "links", "options", "is_domain", "password", "original_password"})


class _Open(BaseModel):
    """A resource body that keeps unknown members as extra properties."""

    model_config = ConfigDict(extra="allow")

    def extra(self) -> dict[str, object]:
        """The extra properties the client sent, without reserved members."""
        return {k: v for k, v in (self.model_extra or {}).items() if k not in RESERVED}


class _Wrapper(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- domains -------------------------------------------------------------------------------------


class DomainCreate(_Open):
    name: Name
    description: Description = None
    enabled: bool = True
    tags: Tags = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)


class DomainUpdate(_Open):
    name: Name | None = None
    description: Description = None
    enabled: bool | None = None
    tags: Tags | None = None
    options: dict[str, Any] | None = None


class DomainCreateRequest(_Wrapper):
    domain: DomainCreate


class DomainUpdateRequest(_Wrapper):
    domain: DomainUpdate


# -- projects ------------------------------------------------------------------------------------


class ProjectCreate(_Open):
    name: Name
    domain_id: Id | None = None
    parent_id: Id | None = None
    description: Description = None
    enabled: bool = True
    is_domain: bool = False
    tags: Tags = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)


class ProjectUpdate(_Open):
    name: Name | None = None
    domain_id: Id | None = None
    description: Description = None
    enabled: bool | None = None
    tags: Tags | None = None
    options: dict[str, Any] | None = None


class ProjectCreateRequest(_Wrapper):
    project: ProjectCreate


class ProjectUpdateRequest(_Wrapper):
    project: ProjectUpdate


# -- users ---------------------------------------------------------------------------------------

Password = Annotated[str, Field(max_length=4096)]


class UserCreate(_Open):
    name: Name
    domain_id: Id | None = None
    password: Password | None = None
    enabled: bool = True
    default_project_id: Id | None = None
    description: Description = None
    email: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class UserUpdate(_Open):
    name: Name | None = None
    domain_id: Id | None = None
    password: Password | None = None
    enabled: bool | None = None
    default_project_id: Id | None = None
    description: Description = None
    email: str | None = None
    options: dict[str, Any] | None = None


class UserCreateRequest(_Wrapper):
    user: UserCreate


class UserUpdateRequest(_Wrapper):
    user: UserUpdate


class PasswordChange(_Wrapper):
    password: Password
    original_password: Password


class PasswordChangeRequest(_Wrapper):
    user: PasswordChange


# -- roles ---------------------------------------------------------------------------------------


class RoleCreate(_Open):
    name: Name
    domain_id: Id | None = None
    description: Description = None
    options: dict[str, Any] = Field(default_factory=dict)


class RoleUpdate(_Open):
    name: Name | None = None
    description: Description = None
    options: dict[str, Any] | None = None


class RoleCreateRequest(_Wrapper):
    role: RoleCreate


class RoleUpdateRequest(_Wrapper):
    role: RoleUpdate


# -- regions -------------------------------------------------------------------------------------


class RegionWrite(_Open):
    """A region's create or update, read only to answer it (the regions are configured)."""

    id: Id | None = None
    description: Description = None
    parent_region_id: Id | None = None


class RegionRequest(_Wrapper):
    region: RegionWrite


# -- application credentials ---------------------------------------------------------------------


class AppCredentialRole(_Closed):
    id: Id | None = None
    name: Name | None = None
    domain_id: Id | None = None


class AppCredentialCreate(_Closed):
    name: Name
    secret: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    description: Description = None
    expires_at: datetime | None = None
    roles: list[AppCredentialRole] | None = None
    unrestricted: bool = False
    access_rules: list[dict[str, Any]] | None = None


class AppCredentialCreateRequest(_Wrapper):
    application_credential: AppCredentialCreate
