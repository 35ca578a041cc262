"""Handlers of ``/v3/regions``: list and show the gateway's regions; a change is refused.

The regions are those of the gateway's configuration, each a backend (the catalog's regions):
a create, update or delete through the API could not make, change or remove a backend, so it is
answered with Keystone's own refusal (403; 409 for a create of a region that is there; 404 for a
change of one that is not) saying where regions are configured.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import json_body
from interstack.api.deps import Caller, ServicesDep
from interstack.api.identity import schemas_admin as schemas
from interstack.api.identity import views_admin as views
from interstack.api.responses import OrjsonResponse, json_response
from interstack.services.identity import policy

Body = Annotated[schemas.RegionRequest, Depends(json_body(schemas.RegionRequest))]


def list_regions(request: Request, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/regions — filter ``parent_region_id``."""
    policy.enforce(caller, "identity:list_regions")
    found = services.catalog.list_regions(request.query_params.get("parent_region_id"))
    base = services.settings.base_url
    return json_response(
        views.collection("regions", [views.region(r, base) for r in found], base, request.url)
    )


def show_region(region_id: str, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    """GET /v3/regions/{region_id} — 404 for a region the gateway does not have."""
    policy.enforce(caller, "identity:get_region")
    found = services.catalog.get_region(region_id)
    return json_response({"region": views.region(found, services.settings.base_url)})


def create_region(services: ServicesDep, caller: Caller, body: Body) -> Response:
    """POST /v3/regions — refused: 409 for a region that is there, else 403."""
    policy.enforce(caller, "identity:create_region")
    services.catalog.refuse_region_change(body.region.id, creating=True)


def create_region_with_id(
    region_id: str, services: ServicesDep, caller: Caller, body: Body
) -> Response:
    """PUT /v3/regions/{region_id} — refused as POST is."""
    policy.enforce(caller, "identity:create_region")
    services.catalog.refuse_region_change(region_id, creating=True)


def update_region(region_id: str, services: ServicesDep, caller: Caller, body: Body) -> Response:
    """PATCH /v3/regions/{region_id} — refused: 404 for a region that is not there, else 403."""
    policy.enforce(caller, "identity:update_region")
    services.catalog.refuse_region_change(region_id)


def delete_region(region_id: str, services: ServicesDep, caller: Caller) -> Response:
    """DELETE /v3/regions/{region_id} — refused: 404 for a region that is not there, else 403."""
    policy.enforce(caller, "identity:delete_region")
    services.catalog.refuse_region_change(region_id)
