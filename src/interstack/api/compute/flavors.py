"""Handlers of ``/flavors``: list, detail, show, create, update, delete, extra specs, access."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import json_body, nova_validation_message
from interstack.api.compute import params
from interstack.api.compute.schemas import flavors as schemas
from interstack.api.compute.versions import Microversion, service_url
from interstack.api.compute.views import flavors as views
from interstack.api.compute.views.links import next_links
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.services.compute.flavors import FlavorFilter, FlavorSpec
from interstack.services.container import Services
from interstack.services.context import RequestContext

CreateBody = Annotated[
    schemas.FlavorCreate,
    Depends(
        params.versioned_body(
            (APIVersion(2, 1), schemas.FlavorCreate), (views.V2_55, schemas.FlavorCreateV255)
        )
    ),
]
UpdateBody = Annotated[
    schemas.FlavorUpdate, Depends(json_body(schemas.FlavorUpdate, nova_validation_message))
]


def _filters(request: Request, caller: RequestContext) -> FlavorFilter:
    query = request.query_params
    is_public: bool | None = True
    raw = query.get("is_public")
    if caller.is_admin and raw is not None:
        is_public = None if raw.strip().lower() == "none" else params.boolean(raw, "is_public")
    return FlavorFilter(
        is_public=is_public,
        min_disk_gb=params.integer(query, "minDisk"),
        min_ram_mb=params.integer(query, "minRam"),
    )


def _list(
    request: Request,
    region: str,
    services: Services,
    caller: RequestContext,
    version: APIVersion,
    view: Callable[[Any, str, APIVersion], dict[str, Any]],
    path: str,
) -> OrjsonResponse:
    page = params.page(request.query_params, default_sort="flavorid")
    found = services.compute.flavors.list(caller, region, _filters(request, caller), page)
    root = service_url(request, region)
    body: dict[str, Any] = {"flavors": [view(f, root, version) for f in found]}
    links = next_links(
        f"{root}/v2.1/{path}", request.query_params, [f.id for f in found], page.limit or 0
    )
    if links:
        body["flavors_links"] = links
    return json_response(body)


def list_flavors(
    request: Request, region: Region, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    """GET /flavors — id, name, links of the flavors the caller may use."""
    return _list(request, region, services, caller, version, views.summary, "flavors")


def list_flavors_detail(
    request: Request, region: Region, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    """GET /flavors/detail — the same list with every attribute."""
    return _list(request, region, services, caller, version, views.detail, "flavors/detail")


def show_flavor(
    flavor_id: str,
    request: Request,
    region: Region,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    found = services.compute.flavors.get(caller, region, flavor_id)
    return json_response({"flavor": views.detail(found, service_url(request, region), version)})


def create_flavor(
    request: Request,
    region: Region,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
    body: CreateBody,
) -> OrjsonResponse:
    """POST /flavors — admin only; 409 if the name or id is taken. Nova answers 200."""
    new = body.flavor
    spec = FlavorSpec(
        name=new.name,
        id=new.id,
        vcpus=new.vcpus,
        ram_mb=new.ram,
        disk_gb=new.disk,
        ephemeral_gb=new.ephemeral,
        swap_mb=new.swap or 0,
        rxtx_factor=new.rxtx_factor,
        is_public=new.is_public,
        description=getattr(new, "description", None),
    )
    created = services.compute.flavors.create(caller, region, spec)
    return json_response({"flavor": views.detail(created, service_url(request, region), version)})


def update_flavor(
    flavor_id: str,
    request: Request,
    region: Region,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
    _since: Annotated[None, Depends(params.since(views.V2_55))],
    body: UpdateBody,
) -> OrjsonResponse:
    """PUT /flavors/{id} — 2.55+: change the description (the only mutable field)."""
    updated = services.compute.flavors.update(caller, region, flavor_id, body.flavor.description)
    return json_response({"flavor": views.detail(updated, service_url(request, region), version)})


def delete_flavor(
    flavor_id: str, region: Region, services: ServicesDep, caller: Caller
) -> Response:
    """DELETE /flavors/{id} — admin only; servers keep their copy of the flavor."""
    services.compute.flavors.delete(caller, region, flavor_id)
    return empty_response(202)


ROUTES: list[Route] = [
    Route("GET", "/flavors", list_flavors),
    Route("GET", "/flavors/detail", list_flavors_detail),
    Route("POST", "/flavors", create_flavor),
    Route("GET", "/flavors/{flavor_id}", show_flavor),
    Route("PUT", "/flavors/{flavor_id}", update_flavor),
    Route("DELETE", "/flavors/{flavor_id}", delete_flavor, status=202),
]
