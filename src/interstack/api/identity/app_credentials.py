"""Handlers of ``/v3/users/{user_id}/application_credentials``: list, create, show, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import json_body
from interstack.api.deps import Caller, ServicesDep
from interstack.api.identity import schemas_admin as schemas
from interstack.api.identity import views_admin as views
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.errors import BadRequest
from interstack.services.identity import policy
from interstack.services.identity.records import RoleSelector

CreateBody = Annotated[
    schemas.AppCredentialCreateRequest, Depends(json_body(schemas.AppCredentialCreateRequest))
]


def list_app_credentials(
    user_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    """GET /v3/users/{user_id}/application_credentials — filter ``name``."""
    target = policy.Target(user_id=user_id)
    policy.enforce(caller, "identity:list_application_credentials", target)
    found = services.app_credentials.list_for_user(user_id, name=request.query_params.get("name"))
    base = services.settings.base_url
    members = [views.app_credential(c, base) for c in found]
    return json_response(views.collection("application_credentials", members, base, request.url))


def create_app_credential(
    user_id: str, services: ServicesDep, caller: Caller, body: CreateBody
) -> OrjsonResponse:
    """POST /v3/users/{user_id}/application_credentials — 201; the secret is shown only here."""
    target = policy.Target(user_id=user_id)
    policy.enforce(caller, "identity:create_application_credential", target)
    new = body.application_credential
    if new.access_rules:
        raise BadRequest("Access rules of application credentials are not supported.")
    roles = tuple(RoleSelector(r.id, r.name, r.domain_id) for r in new.roles) if new.roles else None
    created = services.app_credentials.create(
        caller,
        user_id,
        new.name,
        secret=new.secret,
        description=new.description or "",
        expires_at=new.expires_at,
        unrestricted=new.unrestricted,
        roles=roles,
    )
    base = services.settings.base_url
    body_out = views.app_credential(created.credential, base, secret=created.secret)
    return json_response({"application_credential": body_out}, 201)


def show_app_credential(
    user_id: str, credential_id: str, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    """GET /v3/users/{user_id}/application_credentials/{credential_id} — never the secret."""
    target = policy.Target(user_id=user_id)
    policy.enforce(caller, "identity:get_application_credential", target)
    found = services.app_credentials.get(user_id, credential_id)
    body = views.app_credential(found, services.settings.base_url)
    return json_response({"application_credential": body})


def delete_app_credential(
    user_id: str, credential_id: str, services: ServicesDep, caller: Caller
) -> Response:
    """DELETE /v3/users/{user_id}/application_credentials/{credential_id} — revokes its tokens."""
    target = policy.Target(user_id=user_id)
    policy.enforce(caller, "identity:delete_application_credential", target)
    services.app_credentials.delete(caller, user_id, credential_id)
    return empty_response(204)
