"""Handlers of ``/os-keypairs``: create (generate or import), list, show, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.compute import params
from interstack.api.compute.schemas import keypairs as schemas
from interstack.api.compute.versions import Microversion, service_url
from interstack.api.compute.views import keypairs as views
from interstack.api.compute.views.links import next_links
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.services.compute.keypairs import NewKeypair

CreateBody = Annotated[
    schemas.KeypairCreate,
    Depends(
        params.versioned_body(
            (APIVersion(2, 1), schemas.KeypairCreate),
            (views.V2_2, schemas.KeypairCreateV22),
            (views.V2_10, schemas.KeypairCreateV210),
        )
    ),
]


def _user(request: Request, version: APIVersion) -> str | None:
    """``?user_id=`` (2.10+, admins): whose key pairs; ignored before 2.10, as in Nova."""
    return request.query_params.get("user_id") if version >= views.V2_10 else None


def create_keypair(
    services: ServicesDep, caller: Caller, version: Microversion, body: CreateBody
) -> OrjsonResponse:
    """POST /os-keypairs — without ``public_key`` a key is generated and its private half
    returned in this answer only. 200 before 2.2, 201 from it."""
    given = body.keypair
    created = services.compute.keypairs.create(
        caller,
        NewKeypair(
            name=given.name,
            type=getattr(given, "type", "ssh"),
            public_key=given.public_key,
            user_id=getattr(given, "user_id", None),
        ),
    )
    return json_response(views.created(created, version), 201 if version >= views.V2_2 else 200)


def list_keypairs(
    request: Request, region: Region, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    """GET /os-keypairs — the user's key pairs by name; ``limit``/``marker`` from 2.35."""
    query = request.query_params
    limit: int | None = None
    marker: str | None = None
    if version >= views.V2_35:
        limit, marker = params.effective_limit(query), query.get("marker")
    found = services.compute.keypairs.list(
        caller, _user(request, version), limit=limit, marker=marker
    )
    body: dict[str, Any] = {"keypairs": [views.listed(k, version) for k in found]}
    if limit is not None:
        href = f"{service_url(request, region)}/v2.1/os-keypairs"
        links = next_links(href, query, [k.name for k in found], limit)
        if links:
            body["keypairs_links"] = links
    return json_response(body)


def show_keypair(
    keypair_name: str,
    request: Request,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    found = services.compute.keypairs.get(caller, keypair_name, _user(request, version))
    return json_response(views.shown(found, version))


def delete_keypair(
    keypair_name: str,
    request: Request,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> Response:
    """DELETE /os-keypairs/{name} — 202 before 2.2, 204 from it."""
    services.compute.keypairs.delete(caller, keypair_name, _user(request, version))
    return empty_response(204 if version >= views.V2_2 else 202)


ROUTES: list[Route] = [
    Route("GET", "/os-keypairs", list_keypairs),
    Route("POST", "/os-keypairs", create_keypair),
    Route("GET", "/os-keypairs/{keypair_name}", show_keypair),
    Route("DELETE", "/os-keypairs/{keypair_name}", delete_keypair),
]
