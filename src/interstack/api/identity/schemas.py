"""Request bodies of the token API (``POST /v3/auth/tokens``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Lenient(BaseModel):
    """Keystone ignores unknown members in auth bodies; so do we."""

    model_config = ConfigDict(extra="ignore")


class DomainRef(_Lenient):
    id: str | None = None
    name: str | None = None


class UserRef(_Lenient):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None
    password: str | None = None


class PasswordMethod(_Lenient):
    user: UserRef


class TokenMethod(_Lenient):
    id: str


class AppCredUser(_Lenient):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None


class AppCredMethod(_Lenient):
    id: str | None = None
    name: str | None = None
    secret: str
    user: AppCredUser | None = None


class Identity(_Lenient):
    methods: list[str] = Field(min_length=1)
    password: PasswordMethod | None = None
    token: TokenMethod | None = None
    application_credential: AppCredMethod | None = None


class ProjectScope(_Lenient):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None


class SystemScope(_Lenient):
    all: bool = False


class Scope(_Lenient):
    project: ProjectScope | None = None
    domain: DomainRef | None = None
    system: SystemScope | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> Scope:
        given = [s for s in (self.project, self.domain, self.system) if s is not None]
        if len(given) > 1:
            raise ValueError("only one of project, domain or system may be given as scope")
        return self


class Auth(_Lenient):
    identity: Identity
    scope: Scope | str | None = None

    @model_validator(mode="before")
    @classmethod
    def _scope_literal(cls, data: Any) -> Any:
        scope = data.get("scope") if isinstance(data, dict) else None
        if isinstance(scope, str) and scope != "unscoped":
            raise ValueError("scope must be an object or the string 'unscoped'")
        return data


class AuthTokensRequest(_Lenient):
    auth: Auth
