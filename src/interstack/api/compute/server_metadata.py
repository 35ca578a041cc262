"""Handlers of a server's ``metadata``, ``tags`` (2.26+) and ``os-instance-actions``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import Field
from starlette.responses import Response

from interstack.api.body import json_body, nova_validation_message
from interstack.api.compute import params
from interstack.api.compute.schemas.servers import Closed, Metadata, Tag
from interstack.api.compute.versions import Microversion, service_url
from interstack.api.compute.views import servers as views
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.errors import BadRequest
from interstack.services.compute.common import host_id

V2_26 = APIVersion(2, 26)
V2_51 = APIVersion(2, 51)


class MetadataBody(Closed):
    metadata: Metadata


class MetaItemBody(Closed):
    meta: Annotated[Metadata, Field(min_length=1, max_length=1)]


class TagsBody(Closed):
    tags: Annotated[list[Tag], Field(max_length=50)]


#: tags exist from 2.26 on; before, their paths are Nova's 404
TagsVersion = Annotated[None, Depends(params.since(V2_26))]
MetadataIn = Annotated[MetadataBody, Depends(json_body(MetadataBody, nova_validation_message))]
MetaItemIn = Annotated[MetaItemBody, Depends(json_body(MetaItemBody, nova_validation_message))]
TagsIn = Annotated[TagsBody, Depends(json_body(TagsBody, nova_validation_message))]


# -- metadata --------------------------------------------------------------------------------


def list_metadata(
    region: Region, server_id: str, services: ServicesDep, caller: Caller, _v: Microversion
) -> OrjsonResponse:
    """GET /servers/{server_id}/metadata"""
    return json_response(
        {"metadata": services.compute.server_metadata.get(caller, region, server_id)}
    )


def merge_metadata(
    region: Region,
    server_id: str,
    services: ServicesDep,
    caller: Caller,
    _v: Microversion,
    body: MetadataIn,
) -> OrjsonResponse:
    """POST /servers/{server_id}/metadata — merge; answers the whole metadata."""
    merged = services.compute.server_metadata.update(
        caller, region, server_id, body.metadata, replace=False
    )
    return json_response({"metadata": merged})


def replace_metadata(
    region: Region,
    server_id: str,
    services: ServicesDep,
    caller: Caller,
    _v: Microversion,
    body: MetadataIn,
) -> OrjsonResponse:
    """PUT /servers/{server_id}/metadata — replace it all."""
    replaced = services.compute.server_metadata.update(
        caller, region, server_id, body.metadata, replace=True
    )
    return json_response({"metadata": replaced})


def show_metadata_item(
    region: Region,
    server_id: str,
    key: str,
    services: ServicesDep,
    caller: Caller,
    _v: Microversion,
) -> OrjsonResponse:
    """GET /servers/{server_id}/metadata/{key}"""
    value = services.compute.server_metadata.get_item(caller, region, server_id, key)
    return json_response({"meta": {key: value}})


def set_metadata_item(
    region: Region,
    server_id: str,
    key: str,
    services: ServicesDep,
    caller: Caller,
    _v: Microversion,
    body: MetaItemIn,
) -> OrjsonResponse:
    """PUT /servers/{server_id}/metadata/{key} — the body names the same key."""
    if key not in body.meta:
        raise BadRequest("Request body and URI mismatch")
    services.compute.server_metadata.update(
        caller, region, server_id, {key: body.meta[key]}, replace=False
    )
    return json_response({"meta": {key: body.meta[key]}})


def delete_metadata_item(
    region: Region,
    server_id: str,
    key: str,
    services: ServicesDep,
    caller: Caller,
    _v: Microversion,
) -> Response:
    """DELETE /servers/{server_id}/metadata/{key}"""
    services.compute.server_metadata.delete_item(caller, region, server_id, key)
    return empty_response(204)


# -- tags ------------------------------------------------------------------------------------


def list_tags(
    region: Region, server_id: str, services: ServicesDep, caller: Caller, _v: TagsVersion
) -> OrjsonResponse:
    """GET /servers/{server_id}/tags"""
    return json_response({"tags": services.compute.server_metadata.tags(caller, region, server_id)})


def replace_tags(
    region: Region,
    server_id: str,
    services: ServicesDep,
    caller: Caller,
    _v: TagsVersion,
    body: TagsIn,
) -> OrjsonResponse:
    """PUT /servers/{server_id}/tags"""
    tags = services.compute.server_metadata.replace_tags(caller, region, server_id, body.tags)
    return json_response({"tags": tags})


def delete_tags(
    region: Region, server_id: str, services: ServicesDep, caller: Caller, _v: TagsVersion
) -> Response:
    """DELETE /servers/{server_id}/tags"""
    services.compute.server_metadata.delete_tags(caller, region, server_id)
    return empty_response(204)


def check_tag(
    region: Region,
    server_id: str,
    tag: str,
    services: ServicesDep,
    caller: Caller,
    _v: TagsVersion,
) -> Response:
    """GET /servers/{server_id}/tags/{tag} — 204 if the server has it, else 404."""
    services.compute.server_metadata.has_tag(caller, region, server_id, tag)
    return empty_response(204)


def add_tag(
    request: Request,
    region: Region,
    server_id: str,
    tag: str,
    services: ServicesDep,
    caller: Caller,
    _v: TagsVersion,
) -> Response:
    """PUT /servers/{server_id}/tags/{tag} — 201 with Location if new, 204 if it was there."""
    if not tag or len(tag) > 60 or "/" in tag or "," in tag:
        raise BadRequest(f"Tag '{tag}' is invalid: 1 to 60 characters, no '/' or ','.")
    if services.compute.server_metadata.add_tag(caller, region, server_id, tag):
        location = f"{service_url(request, region)}/v2.1/servers/{server_id}/tags/{tag}"
        return empty_response(201, headers={"Location": location})
    return empty_response(204)


def delete_tag(
    region: Region,
    server_id: str,
    tag: str,
    services: ServicesDep,
    caller: Caller,
    _v: TagsVersion,
) -> Response:
    """DELETE /servers/{server_id}/tags/{tag}"""
    services.compute.server_metadata.delete_tag(caller, region, server_id, tag)
    return empty_response(204)


# -- instance actions ------------------------------------------------------------------------


def list_instance_actions(
    region: Region, server_id: str, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    """GET /servers/{server_id}/os-instance-actions — newest first."""
    found = services.compute.server_metadata.actions(caller, region, server_id)
    return json_response({"instanceActions": [views.instance_action(a, version) for a in found]})


def show_instance_action(
    region: Region,
    server_id: str,
    request_id: str,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    """GET /servers/{server_id}/os-instance-actions/{request_id} — with events (2.51+ for all,
    before that for admins only)."""
    action = services.compute.server_metadata.action(caller, region, server_id, request_id)
    body = views.instance_action(action, version)
    if caller.is_admin or version >= V2_51:
        body["events"] = views.instance_action_events(
            action, version, admin=caller.is_admin, host_id=host_id(action.project_id, region)
        )
    return json_response({"instanceAction": body})


ROUTES: list[Route] = [
    Route("GET", "/servers/{server_id}/metadata", list_metadata),
    Route("POST", "/servers/{server_id}/metadata", merge_metadata),
    Route("PUT", "/servers/{server_id}/metadata", replace_metadata),
    Route("GET", "/servers/{server_id}/metadata/{key}", show_metadata_item),
    Route("PUT", "/servers/{server_id}/metadata/{key}", set_metadata_item),
    Route("DELETE", "/servers/{server_id}/metadata/{key}", delete_metadata_item, status=204),
    Route("GET", "/servers/{server_id}/tags", list_tags),
    Route("PUT", "/servers/{server_id}/tags", replace_tags),
    Route("DELETE", "/servers/{server_id}/tags", delete_tags, status=204),
    Route("GET", "/servers/{server_id}/tags/{tag}", check_tag, status=204),
    Route("PUT", "/servers/{server_id}/tags/{tag}", add_tag, status=201),
    Route("DELETE", "/servers/{server_id}/tags/{tag}", delete_tag, status=204),
    Route("GET", "/servers/{server_id}/os-instance-actions", list_instance_actions),
    Route("GET", "/servers/{server_id}/os-instance-actions/{request_id}", show_instance_action),
]
