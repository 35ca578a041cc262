"""Handlers of ``/v3/roles``: list, create, show, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import json_body
from interstack.api.deps import Caller, ServicesDep
from interstack.api.identity import schemas_admin as schemas
from interstack.api.identity import views_admin as views
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.services.identity import policy
from interstack.services.identity.records import RoleChanges

CreateBody = Annotated[schemas.RoleCreateRequest, Depends(json_body(schemas.RoleCreateRequest))]
UpdateBody = Annotated[schemas.RoleUpdateRequest, Depends(json_body(schemas.RoleUpdateRequest))]


def list_roles(request: Request, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/roles — global roles, or a domain's with ``domain_id``; filter ``name``."""
    policy.enforce(caller, "identity:list_roles")
    query = request.query_params
    found = services.roles.list_roles(name=query.get("name"), domain_id=query.get("domain_id"))
    base = services.settings.base_url
    return json_response(
        views.collection("roles", [views.role(r, base) for r in found], base, request.url)
    )


def create_role(services: ServicesDep, caller: Caller, body: CreateBody) -> OrjsonResponse:
    """POST /v3/roles — 201; 409 if the name is taken."""
    policy.enforce(caller, "identity:create_role")
    new = body.role
    created = services.roles.create_role(
        new.name,
        domain_id=new.domain_id,
        description=new.description or "",
        extra=new.extra(),
    )
    return json_response({"role": views.role(created, services.settings.base_url)}, 201)


def show_role(role_id: str, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/roles/{role_id}."""
    policy.enforce(caller, "identity:get_role")
    found = services.roles.get_role(role_id)
    return json_response({"role": views.role(found, services.settings.base_url)})


def update_role(
    role_id: str, services: ServicesDep, caller: Caller, body: UpdateBody
) -> OrjsonResponse:
    """PATCH /v3/roles/{role_id} — 403 for the immutable default roles."""
    policy.enforce(caller, "identity:update_role")
    change = body.role
    given = change.model_fields_set
    updated = services.roles.update_role(
        role_id,
        RoleChanges(
            name=change.name,
            description=(change.description or "") if "description" in given else None,
            extra=change.extra(),
        ),
    )
    return json_response({"role": views.role(updated, services.settings.base_url)})


def delete_role(role_id: str, services: ServicesDep, caller: Caller) -> Response:
    """DELETE /v3/roles/{role_id} — removes every grant of the role."""
    policy.enforce(caller, "identity:delete_role")
    services.roles.delete_role(role_id)
    return empty_response(204)
