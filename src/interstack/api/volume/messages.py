"""Handlers of ``/messages`` (3.3+): list, show, delete a project's user messages, which say
why an operation answered 2xx failed later. The list's query by microversion is in
:mod:`message_query`."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.api.volume import params, views
from interstack.api.volume.message_query import message_query
from interstack.api.volume.params import UrlProject
from interstack.api.volume.versions import VERSIONS, Microversion
from interstack.errors import NotFound

V3_3 = APIVersion(3, 3)


async def since_3_3(request: Request) -> None:
    """The messages API exists from 3.3; before it, Cinder's 404."""
    if VERSIONS.negotiate(request.headers) < V3_3:
        raise NotFound("The resource could not be found.")


def list_messages(
    request: Request,
    region: Region,
    project_id: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    asked = message_query(request.query_params, version, caller.is_admin)
    found = (
        []
        if asked.matches_nothing
        else services.volume.messages.list(caller, region, asked.filters, asked.page, asked.offset)
    )
    root = params.root(request)
    shown = [views.message(m, root, project_id) for m in found]
    ids = [m.id for m in found]
    return json_response(
        params.listed_page(
            request, project_id, "messages", "messages", shown, ids, asked.page.limit
        )
    )


def show_message(
    message_id: str,
    request: Request,
    region: Region,
    project_id: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> OrjsonResponse:
    found = services.volume.messages.get(caller, region, message_id)
    return json_response({"message": views.message(found, params.root(request), project_id)})


def delete_message(
    message_id: str,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> Response:
    services.volume.messages.delete(caller, region, message_id)
    return empty_response(204)


ROUTES: list[Route] = [
    Route("GET", "/messages", list_messages),
    Route("GET", "/messages/{message_id}", show_message),
    Route("DELETE", "/messages/{message_id}", delete_message, status=204),
]
