"""Handlers of ``/attachments`` (3.27+; ``mode`` at 3.54, ``os-complete`` at 3.44)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from interstack.api.body import json_body, parse, read_json
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.api.volume import schemas, views
from interstack.api.volume.params import UrlProject
from interstack.api.volume.versions import VERSIONS, Microversion
from interstack.errors import BadRequest, NotFound
from interstack.services.volume.records import Attachment

V3_27 = APIVersion(3, 27)
V3_44 = APIVersion(3, 44)
V3_54 = APIVersion(3, 54)


async def since_3_27(request: Request) -> None:
    """The attachments API exists from 3.27; before it, Cinder's 404."""
    if VERSIONS.negotiate(request.headers) < V3_27:
        raise NotFound("The resource could not be found.")


def _shown(attachment: Attachment, info: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "attachment": {
            **views.attachment(attachment),
            "connection_info": info,
        }
    }


def create_attachment(
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
    body: Annotated[schemas.AttachmentCreate, Depends(json_body(schemas.AttachmentCreate))],
) -> OrjsonResponse:
    given = body.attachment
    if given.mode is not None and version < V3_54:
        raise BadRequest("mode needs microversion 3.54 or later.")
    attachment, info = services.volume.attachments.create(
        caller, region, given.volume_uuid, given.instance_uuid, given.connector, given.mode
    )
    return json_response(_shown(attachment, info))


def update_attachment(
    attachment_id: str,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
    body: Annotated[schemas.AttachmentUpdate, Depends(json_body(schemas.AttachmentUpdate))],
) -> OrjsonResponse:
    attachment, info = services.volume.attachments.update(
        caller, region, attachment_id, body.attachment.connector
    )
    return json_response(_shown(attachment, info))


def show_attachment(
    attachment_id: str,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> OrjsonResponse:
    attachment, info = services.volume.attachments.get(caller, region, attachment_id)
    return json_response(_shown(attachment, info))


def _list(
    request: Request, region: str, services: ServicesDep, caller: Caller, detail: bool
) -> OrjsonResponse:
    query = request.query_params
    found = services.volume.attachments.list(
        caller, region, volume_id=query.get("volume_id"), server_id=query.get("instance_id")
    )
    if detail:
        listed = [views.attachment(a) for a in found]
    else:
        listed = [
            {"id": a.id, "status": a.status, "instance": a.server_id, "volume_id": a.volume_id}
            for a in found
        ]
    return json_response({"attachments": listed})


def list_attachments(
    request: Request,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> OrjsonResponse:
    return _list(request, region, services, caller, detail=False)


def list_attachments_detail(
    request: Request,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> OrjsonResponse:
    return _list(request, region, services, caller, detail=True)


def delete_attachment(
    attachment_id: str,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> OrjsonResponse:
    services.volume.attachments.delete(caller, region, attachment_id)
    return json_response({"attachments": []})


async def attachment_action(
    attachment_id: str,
    request: Request,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> Response:
    """POST /attachments/{id}/action — ``os-complete`` (3.44+) is the one action."""
    body = await read_json(request)
    if not isinstance(body, dict) or list(body) != ["os-complete"] or version < V3_44:
        raise BadRequest("There is no such action; attachments take os-complete from 3.44.")
    parse(schemas.Complete, body["os-complete"] or {})
    await run_in_threadpool(services.volume.attachments.complete, caller, region, attachment_id)
    return empty_response(204)


#: served from 3.27 on (``routes.py`` adds :func:`since_3_27` to all of them)
ROUTES: list[Route] = [
    Route("GET", "/attachments", list_attachments),
    Route("POST", "/attachments", create_attachment),
    Route("GET", "/attachments/detail", list_attachments_detail),
    Route("GET", "/attachments/{attachment_id}", show_attachment),
    Route("PUT", "/attachments/{attachment_id}", update_attachment),
    Route("DELETE", "/attachments/{attachment_id}", delete_attachment),
    Route("POST", "/attachments/{attachment_id}/action", attachment_action, status=204),
]
