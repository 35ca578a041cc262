"""Handlers of ``/os-server-groups``: create, list (``all_projects`` for admins), show, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.compute import params
from interstack.api.compute.schemas import server_groups as schemas
from interstack.api.compute.versions import Microversion
from interstack.api.compute.views import server_groups as views
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route

CreateBody = Annotated[
    schemas.GroupCreateV21 | schemas.GroupCreateV215 | schemas.GroupCreateV264,
    Depends(
        params.versioned_body(
            (APIVersion(2, 1), schemas.GroupCreateV21),
            (views.V2_15, schemas.GroupCreateV215),
            (views.V2_64, schemas.GroupCreateV264),
        )
    ),
]


def create_group(
    region: Region, services: ServicesDep, caller: Caller, version: Microversion, body: CreateBody
) -> OrjsonResponse:
    """POST /os-server-groups — within the project's ``server_groups`` quota (403)."""
    new = body.server_group
    if isinstance(new, schemas.NewGroupV264):
        policy = new.policy
        rules = new.rules.model_dump() if new.rules is not None else {}
    else:
        policy, rules = new.policies[0], {}
    created = services.compute.server_groups.create(caller, region, new.name, policy, rules)
    return json_response({"server_group": views.server_group(created, version)})


def list_groups(
    request: Request, region: Region, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    query = request.query_params
    raw = query.get("all_projects")
    found = services.compute.server_groups.list(
        caller,
        region,
        all_projects=raw is not None and (raw == "" or params.boolean(raw, "all_projects")),
        limit=params.effective_limit(query),
        offset=params.integer(query, "offset") or 0,
    )
    return json_response({"server_groups": [views.server_group(g, version) for g in found]})


def show_group(
    group_id: str, region: Region, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    found = services.compute.server_groups.get(caller, region, group_id)
    return json_response({"server_group": views.server_group(found, version)})


def delete_group(group_id: str, region: Region, services: ServicesDep, caller: Caller) -> Response:
    services.compute.server_groups.delete(caller, region, group_id)
    return empty_response(204)


ROUTES: list[Route] = [
    Route("GET", "/os-server-groups", list_groups),
    Route("POST", "/os-server-groups", create_group),
    Route("GET", "/os-server-groups/{group_id}", show_group),
    Route("DELETE", "/os-server-groups/{group_id}", delete_group, status=204),
]
