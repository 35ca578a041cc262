"""Handlers of ``/v3/projects``: list, create, show, update, delete."""

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
from interstack.errors import BadRequest
from interstack.services.context import RequestContext
from interstack.services.identity import policy
from interstack.services.identity.bootstrap import DEFAULT_DOMAIN_ID
from interstack.services.identity.records import ProjectChanges

CreateBody = Annotated[
    schemas.ProjectCreateRequest, Depends(json_body(schemas.ProjectCreateRequest))
]
UpdateBody = Annotated[
    schemas.ProjectUpdateRequest, Depends(json_body(schemas.ProjectUpdateRequest))
]


def default_domain(caller: RequestContext) -> str:
    """The domain of a new project or user that names none: the token's domain, else Default."""
    return caller.domain_id or DEFAULT_DOMAIN_ID


def list_projects(request: Request, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/projects — filters ``domain_id``, ``name``, ``enabled``, ``parent_id``."""
    policy.enforce(caller, "identity:list_projects")
    query = request.query_params
    found = services.directory.list_projects(
        domain_id=query.get("domain_id"),
        name=query.get("name"),
        enabled=params.optional_bool(query, "enabled"),
        parent_id=query.get("parent_id"),
    )
    base = services.settings.base_url
    return json_response(
        views.collection("projects", [views.project(p, base) for p in found], base, request.url)
    )


def create_project(services: ServicesDep, caller: Caller, body: CreateBody) -> OrjsonResponse:
    """POST /v3/projects — 201; 409 if the name is taken in the domain."""
    policy.enforce(caller, "identity:create_project")
    new = body.project
    if new.is_domain:
        raise BadRequest("Projects acting as domains are not supported; create a domain instead.")
    domain_id = new.domain_id
    if domain_id is None and new.parent_id is not None:
        domain_id = services.directory.get_project(new.parent_id).domain_id
    created = services.directory.create_project(
        new.name,
        domain_id or default_domain(caller),
        description=new.description or "",
        enabled=new.enabled,
        parent_id=new.parent_id,
        tags=tuple(new.tags),
        extra=new.extra(),
    )
    return json_response({"project": views.project(created, services.settings.base_url)}, 201)


def show_project(project_id: str, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/projects/{project_id} — admins, and readers of the project itself."""
    found = services.directory.get_project(project_id)
    target = policy.Target(project_id=found.id, domain_id=found.domain_id)
    policy.enforce(caller, "identity:get_project", target)
    return json_response({"project": views.project(found, services.settings.base_url)})


def update_project(
    project_id: str, services: ServicesDep, caller: Caller, body: UpdateBody
) -> OrjsonResponse:
    """PATCH /v3/projects/{project_id} — disabling revokes the project's tokens."""
    policy.enforce(caller, "identity:update_project", policy.Target(project_id=project_id))
    change = body.project
    given = change.model_fields_set
    updated = services.directory.update_project(
        project_id,
        ProjectChanges(
            name=change.name,
            description=(change.description or "") if "description" in given else None,
            enabled=change.enabled,
            tags=tuple(change.tags) if change.tags is not None else None,
            domain_id=change.domain_id,
            extra=change.extra(),
        ),
    )
    return json_response({"project": views.project(updated, services.settings.base_url)})


def delete_project(project_id: str, services: ServicesDep, caller: Caller) -> Response:
    """DELETE /v3/projects/{project_id} — its grants go too, and its tokens stop working."""
    policy.enforce(caller, "identity:delete_project", policy.Target(project_id=project_id))
    services.directory.delete_project(project_id)
    return empty_response(204)
