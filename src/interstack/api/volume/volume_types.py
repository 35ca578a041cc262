"""Handlers of ``/types``: list, show (``default`` too), admin create/update/delete, extra specs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import json_body, read_json
from interstack.api.compute.params import boolean
from interstack.api.deps import Caller, ServicesDep
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.api.volume import schemas, views
from interstack.api.volume.params import UrlProject
from interstack.api.volume.versions import Microversion
from interstack.errors import BadRequest, NotFound


def list_types(
    request: Request,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> OrjsonResponse:
    raw = request.query_params.get("is_public")
    is_public = None if raw is None or raw.lower() == "none" else boolean(raw, "is_public")
    found = services.volume.types.list(caller, is_public)
    return json_response({"volume_types": [views.volume_type(t) for t in found]})


def show_type(
    type_id: str,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> OrjsonResponse:
    """GET /types/{id} — ``default`` names the default type."""
    if type_id == "default":
        found = services.volume.types.default()
    else:
        found = services.volume.types.get(caller, type_id)
    return json_response({"volume_type": views.volume_type(found)})


def create_type(
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
    body: Annotated[schemas.TypeCreate, Depends(json_body(schemas.TypeCreate))],
) -> OrjsonResponse:
    given = body.volume_type
    public = given.access_is_public if given.access_is_public is not None else given.is_public
    created = services.volume.types.create(
        caller,
        given.name,
        given.description,
        True if public is None else public,
        given.extra_specs,
    )
    return json_response({"volume_type": views.volume_type(created)})


def update_type(
    type_id: str,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
    body: Annotated[schemas.TypeUpdate, Depends(json_body(schemas.TypeUpdate))],
) -> OrjsonResponse:
    given = body.volume_type
    updated = services.volume.types.update(
        caller, type_id, name=given.name, description=given.description, is_public=given.is_public
    )
    return json_response({"volume_type": views.volume_type(updated)})


def delete_type(
    type_id: str,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> Response:
    services.volume.types.delete(caller, type_id)
    return empty_response(202)


def list_extra_specs(
    type_id: str,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> OrjsonResponse:
    return json_response({"extra_specs": services.volume.types.get(caller, type_id).extra_specs})


def set_extra_specs(
    type_id: str,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
    body: Annotated[schemas.ExtraSpecs, Depends(json_body(schemas.ExtraSpecs))],
) -> OrjsonResponse:
    set_now = services.volume.types.set_extra_specs(caller, type_id, body.extra_specs)
    return json_response({"extra_specs": set_now})


def show_extra_spec(
    type_id: str,
    key: str,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> OrjsonResponse:
    specs = services.volume.types.get(caller, type_id).extra_specs
    if key not in specs:
        raise NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
    return json_response({key: specs[key]})


async def _one_spec(request: Request) -> dict[str, str]:
    body = await read_json(request)
    if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
        raise BadRequest("Invalid input received: the body must map the key to a string value.")
    return {str(k): str(v) for k, v in body.items()}


def update_extra_spec(
    type_id: str,
    key: str,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
    body: Annotated[dict[str, str], Depends(_one_spec)],
) -> OrjsonResponse:
    if len(body) > 1:
        raise BadRequest("Request body contains too many items.")
    if key not in body:
        raise BadRequest("Request body and URI mismatch.")
    services.volume.types.set_extra_specs(caller, type_id, body)
    return json_response(body)


def delete_extra_spec(
    type_id: str,
    key: str,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> Response:
    services.volume.types.delete_extra_spec(caller, type_id, key)
    return empty_response(202)


ROUTES: list[Route] = [
    Route("GET", "/types", list_types),
    Route("POST", "/types", create_type),
    Route("GET", "/types/{type_id}", show_type),
    Route("PUT", "/types/{type_id}", update_type),
    Route("DELETE", "/types/{type_id}", delete_type, status=202),
    Route("GET", "/types/{type_id}/extra_specs", list_extra_specs),
    Route("POST", "/types/{type_id}/extra_specs", set_extra_specs),
    Route("GET", "/types/{type_id}/extra_specs/{key}", show_extra_spec),
    Route("PUT", "/types/{type_id}/extra_specs/{key}", update_extra_spec),
    Route("DELETE", "/types/{type_id}/extra_specs/{key}", delete_extra_spec, status=202),
]
