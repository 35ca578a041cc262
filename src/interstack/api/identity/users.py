"""Handlers of ``/v3/users``: CRUD, self-service password change, and a user's projects."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import json_body
from interstack.api.deps import Caller, ServicesDep
from interstack.api.identity import params
from interstack.api.identity import schemas_admin as schemas
from interstack.api.identity import views_admin as views
from interstack.api.identity.projects import default_domain
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.services.identity import policy
from interstack.services.identity.records import UserChanges

CreateBody = Annotated[schemas.UserCreateRequest, Depends(json_body(schemas.UserCreateRequest))]
UpdateBody = Annotated[schemas.UserUpdateRequest, Depends(json_body(schemas.UserUpdateRequest))]
PasswordBody = Annotated[
    schemas.PasswordChangeRequest, Depends(json_body(schemas.PasswordChangeRequest))
]


def list_users(request: Request, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/users — filters ``domain_id``, ``name``, ``enabled``."""
    policy.enforce(caller, "identity:list_users")
    query = request.query_params
    found = services.users.list_users(
        domain_id=query.get("domain_id"),
        name=query.get("name"),
        enabled=params.optional_bool(query, "enabled"),
    )
    base = services.settings.base_url
    return json_response(
        views.collection("users", [views.user(u, base) for u in found], base, request.url)
    )


def create_user(services: ServicesDep, caller: Caller, body: CreateBody) -> OrjsonResponse:
    """POST /v3/users — 201; 409 if the name is taken in the domain."""
    policy.enforce(caller, "identity:create_user")
    new = body.user
    created = services.users.create_user(
        new.name,
        new.domain_id or default_domain(caller),
        password=new.password,
        enabled=new.enabled,
        default_project_id=new.default_project_id,
        description=new.description or "",
        email=new.email,
        extra=new.extra(),
    )
    return json_response({"user": views.user(created, services.settings.base_url)}, 201)


def show_user(user_id: str, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/users/{user_id} — admins, and the user itself."""
    policy.enforce(caller, "identity:get_user", policy.Target(user_id=user_id))
    found = services.users.get_user(user_id)
    return json_response({"user": views.user(found, services.settings.base_url)})


def update_user(
    user_id: str, services: ServicesDep, caller: Caller, body: UpdateBody
) -> OrjsonResponse:
    """PATCH /v3/users/{user_id} — a new password or disabling revokes the user's tokens."""
    policy.enforce(caller, "identity:update_user", policy.Target(user_id=user_id))
    change = body.user
    given = change.model_fields_set
    updated = services.users.update_user(
        user_id,
        UserChanges(
            name=change.name,
            description=(change.description or "") if "description" in given else None,
            email=change.email,
            enabled=change.enabled,
            password=change.password,
            default_project_id=change.default_project_id,
            clear_default_project="default_project_id" in given
            and change.default_project_id is None,
            domain_id=change.domain_id,
            extra=change.extra(),
        ),
    )
    return json_response({"user": views.user(updated, services.settings.base_url)})


def delete_user(user_id: str, services: ServicesDep, caller: Caller) -> Response:
    """DELETE /v3/users/{user_id} — with its grants and application credentials."""
    policy.enforce(caller, "identity:delete_user", policy.Target(user_id=user_id))
    services.users.delete_user(user_id)
    return empty_response(204)


def change_password(user_id: str, services: ServicesDep, body: PasswordBody) -> Response:
    """POST /v3/users/{user_id}/password — 204; 401 if the user or original password is wrong.

    No token is needed, as in Keystone: the original password is the credential, so a user
    whose password has expired can still change it.
    """
    services.users.change_password(user_id, body.user.original_password, body.user.password)
    return empty_response(204)


def list_user_projects(
    user_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    """GET /v3/users/{user_id}/projects — projects the user has a role on."""
    policy.enforce(caller, "identity:list_user_projects", policy.Target(user_id=user_id))
    query = request.query_params
    found = services.assignments.user_projects(user_id)
    name, domain_id = query.get("name"), query.get("domain_id")
    enabled = params.optional_bool(query, "enabled")
    found = [
        p
        for p in found
        if (name is None or p.name == name)
        and (domain_id is None or p.domain_id == domain_id)
        and (enabled is None or p.enabled == enabled)
    ]
    base = services.settings.base_url
    return json_response(
        views.collection("projects", [views.project(p, base) for p in found], base, request.url)
    )
