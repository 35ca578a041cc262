"""Handlers of ``/v3/auth/*``: issue, validate, check and revoke tokens; the caller's catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from interstack.api.body import json_body
from interstack.api.deps import Caller, ServicesDep
from interstack.api.identity import schemas, views
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.errors import NotFound, Unauthorized
from interstack.services.identity import policy
from interstack.services.identity.model import (
    AppCredentialCredentials,
    AuthRequest,
    PasswordCredentials,
    ScopeRequest,
    TokenInfo,
)

SUBJECT_TOKEN = "X-Subject-Token"  # noqa: S105 - a header name


def _to_auth_request(body: schemas.AuthTokensRequest) -> AuthRequest:
    identity = body.auth.identity
    password = None
    if identity.password is not None:
        user = identity.password.user
        password = PasswordCredentials(
            password=user.password or "",
            user_id=user.id,
            user_name=user.name,
            domain_id=user.domain.id if user.domain else None,
            domain_name=user.domain.name if user.domain else None,
        )
    app_cred = None
    if identity.application_credential is not None:
        ac = identity.application_credential
        app_cred = AppCredentialCredentials(
            secret=ac.secret,
            id=ac.id,
            name=ac.name,
            user_id=ac.user.id if ac.user else None,
            user_name=ac.user.name if ac.user else None,
            user_domain_id=ac.user.domain.id if ac.user and ac.user.domain else None,
            user_domain_name=ac.user.domain.name if ac.user and ac.user.domain else None,
        )
    scope = body.auth.scope
    if isinstance(scope, str) or scope is None:
        scope_request = ScopeRequest(unscoped=scope == "unscoped")
    else:
        project, domain = scope.project, scope.domain
        scope_request = ScopeRequest(
            project_id=project.id if project else None,
            project_name=project.name if project else None,
            project_domain_id=project.domain.id if project and project.domain else None,
            project_domain_name=project.domain.name if project and project.domain else None,
            domain_id=domain.id if domain else None,
            domain_name=domain.name if domain else None,
            system=bool(scope.system and scope.system.all),
        )
    return AuthRequest(
        methods=tuple(identity.methods),
        password=password,
        token=identity.token.id if identity.token else None,
        app_credential=app_cred,
        scope=scope_request,
    )


def _project_id(info: TokenInfo) -> str | None:
    """The project a token's catalog is expanded for (per-project endpoints such as Swift's)."""
    return info.project.id if info.project is not None else None


def _wants_catalog(request: Request) -> bool:
    return "nocatalog" not in request.query_params


def issue_token(
    request: Request,
    services: ServicesDep,
    body: Annotated[schemas.AuthTokensRequest, Depends(json_body(schemas.AuthTokensRequest))],
) -> OrjsonResponse:
    """POST /v3/auth/tokens — authenticate; the token is in ``X-Subject-Token``."""
    info = services.auth.authenticate(_to_auth_request(body))
    catalog = services.catalog.services(_project_id(info)) if _wants_catalog(request) else None
    return json_response(
        views.token(info, catalog), status=201, headers={SUBJECT_TOKEN: info.token}
    )


async def _subject(request: Request, services: ServicesDep, caller: Caller) -> TokenInfo:
    """The subject token's meaning, from the cache when it was validated moments ago."""
    subject = request.headers.get(SUBJECT_TOKEN.lower())
    if not subject:
        raise NotFound("X-Subject-Token is required to name the token.")
    info = services.auth.cached(subject)
    if info is None:
        info = await run_in_threadpool(services.auth.validate, subject)
    policy.enforce(caller, "identity:validate_token", policy.Target(user_id=info.user.id))
    return info


# Validation is the hottest call of a cloud (every service validates every request's token), so
# these handlers are ``async`` and stay on the event loop when the token is cached.
async def validate_token(request: Request, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/auth/tokens — what the subject token means now."""
    info = await _subject(request, services, caller)
    catalog = services.catalog.services(_project_id(info)) if _wants_catalog(request) else None
    return json_response(views.token(info, catalog), headers={SUBJECT_TOKEN: info.token})


async def check_token(request: Request, services: ServicesDep, caller: Caller) -> Response:
    """HEAD /v3/auth/tokens — 200 if the subject token is valid, 404 if not."""
    info = await _subject(request, services, caller)
    return empty_response(200, headers={SUBJECT_TOKEN: info.token})


async def revoke_token(request: Request, services: ServicesDep, caller: Caller) -> Response:
    """DELETE /v3/auth/tokens — the subject token (and its rescoped children) stop working."""
    info = await _subject(request, services, caller)
    policy.enforce(caller, "identity:revoke_token", policy.Target(user_id=info.user.id))
    await run_in_threadpool(services.auth.revoke, info.token)
    return empty_response(204)


def auth_catalog(services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/auth/catalog — the catalog of the caller's (scoped) token."""
    if not caller.scoped:
        raise Unauthorized("An unscoped token has no catalog; scope it to a project first.")
    policy.enforce(caller, "identity:get_auth_catalog")
    return json_response(
        {
            "catalog": views.catalog(services.catalog.services(caller.project_id)),
            "links": {"self": f"{services.settings.base_url}/v3/auth/catalog"},
        }
    )
