"""Handlers of ``/v3/domains``: list, create, show, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import json_body
from interstack.api.deps import Caller, ServicesDep
from interstack.api.identity import params
from interstack.api.identity import schemas_admin as schemas
from interstack.api.identity import views_admin as views
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.services.identity import policy
from interstack.services.identity.records import DomainChanges

CreateBody = Annotated[schemas.DomainCreateRequest, Depends(json_body(schemas.DomainCreateRequest))]
UpdateBody = Annotated[schemas.DomainUpdateRequest, Depends(json_body(schemas.DomainUpdateRequest))]


def list_domains(request: Request, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/domains — filters ``name``, ``enabled``."""
    policy.enforce(caller, "identity:list_domains")
    query = request.query_params
    found = services.directory.list_domains(
        name=query.get("name"), enabled=params.optional_bool(query, "enabled")
    )
    base = services.settings.base_url
    return json_response(
        views.collection("domains", [views.domain(d, base) for d in found], base, request.url)
    )


def create_domain(services: ServicesDep, caller: Caller, body: CreateBody) -> OrjsonResponse:
    """POST /v3/domains — 201 with the new domain; 409 if the name is taken."""
    policy.enforce(caller, "identity:create_domain")
    new = body.domain
    created = services.directory.create_domain(
        new.name,
        description=new.description or "",
        enabled=new.enabled,
        tags=tuple(new.tags),
        extra=new.extra(),
    )
    return json_response({"domain": views.domain(created, services.settings.base_url)}, 201)


def show_domain(domain_id: str, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/domains/{domain_id}."""
    found = services.directory.get_domain(domain_id)
    policy.enforce(caller, "identity:get_domain", policy.Target(domain_id=found.id))
    return json_response({"domain": views.domain(found, services.settings.base_url)})


def update_domain(
    domain_id: str, services: ServicesDep, caller: Caller, body: UpdateBody
) -> OrjsonResponse:
    """PATCH /v3/domains/{domain_id} — disabling revokes the tokens of its users and projects."""
    policy.enforce(caller, "identity:update_domain", policy.Target(domain_id=domain_id))
    change = body.domain
    given = change.model_fields_set
    updated = services.directory.update_domain(
        domain_id,
        DomainChanges(
            name=change.name,
            description=(change.description or "") if "description" in given else None,
            enabled=change.enabled,
            tags=tuple(change.tags) if change.tags is not None else None,
            extra=change.extra(),
        ),
    )
    return json_response({"domain": views.domain(updated, services.settings.base_url)})


def delete_domain(domain_id: str, services: ServicesDep, caller: Caller) -> Response:
    """DELETE /v3/domains/{domain_id} — only a disabled domain; takes its contents along."""
    policy.enforce(caller, "identity:delete_domain", policy.Target(domain_id=domain_id))
    services.directory.delete_domain(domain_id)
    return empty_response(204)
