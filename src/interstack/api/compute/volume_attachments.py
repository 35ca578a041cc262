"""Handlers of a server's ``os-volume_attachments``: attach a volume at a requested or the next
free device, list, show, detach. Block storage does the work (``services.volume``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from interstack.api.body import json_body, nova_validation_message
from interstack.api.compute.schemas.parameter_types import Boolean
from interstack.api.compute.versions import Microversion
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.errors import BadRequest
from interstack.services.volume.records import Attachment

V2_49 = APIVersion(2, 49)  # tag accepted
V2_70 = APIVersion(2, 70)  # tag shown
V2_79 = APIVersion(2, 79)  # delete_on_termination shown and accepted


class NewVolumeAttachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    volumeId: Annotated[str, Field(min_length=1, max_length=255)]  # noqa: N815 (Nova's name)
    device: Annotated[str, Field(max_length=255)] | None = None
    tag: Annotated[str, Field(max_length=60)] | None = None
    delete_on_termination: Boolean = False


class VolumeAttachmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    volumeAttachment: NewVolumeAttachment  # noqa: N815 (Nova's name)


def view(found: Attachment, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": found.volume_id,
        "volumeId": found.volume_id,
        "serverId": found.server_id,
        "device": found.mountpoint,
    }
    if version >= V2_70:
        body["tag"] = found.tag
    if version >= V2_79:
        body["delete_on_termination"] = found.delete_on_termination
    return body


def attach_volume(
    server_id: str,
    region: Region,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
    body: Annotated[
        VolumeAttachmentCreate, Depends(json_body(VolumeAttachmentCreate, nova_validation_message))
    ],
) -> OrjsonResponse:
    """POST /servers/{id}/os-volume_attachments — 200 with the device chosen."""
    given = body.volumeAttachment
    if given.delete_on_termination and version < V2_79:
        raise BadRequest("delete_on_termination needs microversion 2.79 or later.")
    if given.tag is not None and version < V2_49:
        raise BadRequest("A device role tag needs microversion 2.49 or later.")
    made = services.volume.server_volumes.attach(
        caller,
        region,
        server_id,
        given.volumeId,
        given.device,
        delete_on_termination=given.delete_on_termination,
        tag=given.tag,
    )
    return json_response({"volumeAttachment": view(made, version)})


def list_volume_attachments(
    server_id: str, region: Region, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    found = services.volume.server_volumes.list(caller, region, server_id)
    return json_response({"volumeAttachments": [view(a, version) for a in found]})


def show_volume_attachment(
    server_id: str,
    volume_id: str,
    region: Region,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    found = services.volume.server_volumes.get(caller, region, server_id, volume_id)
    return json_response({"volumeAttachment": view(found, version)})


def detach_volume(
    server_id: str,
    volume_id: str,
    region: Region,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> Response:
    services.volume.server_volumes.detach(caller, region, server_id, volume_id)
    return empty_response(202)


ROUTES: list[Route] = [
    Route("GET", "/servers/{server_id}/os-volume_attachments", list_volume_attachments),
    Route("POST", "/servers/{server_id}/os-volume_attachments", attach_volume),
    Route("GET", "/servers/{server_id}/os-volume_attachments/{volume_id}", show_volume_attachment),
    Route(
        "DELETE",
        "/servers/{server_id}/os-volume_attachments/{volume_id}",
        detach_volume,
        status=202,
    ),
]
