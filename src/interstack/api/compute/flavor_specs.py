"""Handlers of ``/flavors/{id}/os-extra_specs``: read by whoever sees the flavor, set by admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import json_body, nova_validation_message, read_json
from interstack.api.compute.schemas import flavors as schemas
from interstack.api.compute.views import flavors as views
from interstack.api.deps import Caller, ServicesDep
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.errors import BadRequest

CreateBody = Annotated[
    schemas.ExtraSpecsCreate, Depends(json_body(schemas.ExtraSpecsCreate, nova_validation_message))
]


async def one_spec(key: str, request: Request) -> tuple[str, str]:
    """The body of ``PUT .../os-extra_specs/{key}``: exactly ``{key: value}``, the URL's key."""
    body: Any = await read_json(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise BadRequest('The body must hold exactly one extra spec: {"<key>": "<value>"}.')
    ((given, value),) = body.items()
    if given != key:
        raise BadRequest("Request body and URI mismatch")
    if not isinstance(value, (str, int, float, bool)):
        raise BadRequest(f"Invalid input for field '{key}': a string was expected.")
    text = schemas.spec_text(value)
    if len(text) > 255:
        raise BadRequest(f"Invalid input for field '{key}': longer than 255 characters.")
    return key, text


OneSpec = Annotated[tuple[str, str], Depends(one_spec)]


def list_specs(
    flavor_id: str, region: Region, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    specs = services.compute.flavors.extra_specs(caller, region, flavor_id)
    return json_response(views.extra_specs(specs))


def create_specs(
    flavor_id: str, region: Region, services: ServicesDep, caller: Caller, body: CreateBody
) -> OrjsonResponse:
    """POST — add or replace the given keys; answers with them."""
    specs = {k: schemas.spec_text(v) for k, v in body.extra_specs.items()}
    return json_response(
        views.extra_specs(
            services.compute.flavors.set_extra_specs(caller, region, flavor_id, specs)
        )
    )


def show_spec(
    key: str, flavor_id: str, region: Region, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    return json_response({key: services.compute.flavors.extra_spec(caller, region, flavor_id, key)})


def update_spec(
    key: str, flavor_id: str, region: Region, services: ServicesDep, caller: Caller, spec: OneSpec
) -> OrjsonResponse:
    name, value = spec
    services.compute.flavors.set_extra_specs(caller, region, flavor_id, {name: value})
    return json_response({name: value})


def delete_spec(
    key: str, flavor_id: str, region: Region, services: ServicesDep, caller: Caller
) -> Response:
    services.compute.flavors.delete_extra_spec(caller, region, flavor_id, key)
    return empty_response(200)


ROUTES: list[Route] = [
    Route("GET", "/flavors/{flavor_id}/os-extra_specs", list_specs),
    Route("POST", "/flavors/{flavor_id}/os-extra_specs", create_specs),
    Route("GET", "/flavors/{flavor_id}/os-extra_specs/{key}", show_spec),
    Route("PUT", "/flavors/{flavor_id}/os-extra_specs/{key}", update_spec),
    Route("DELETE", "/flavors/{flavor_id}/os-extra_specs/{key}", delete_spec),
]
