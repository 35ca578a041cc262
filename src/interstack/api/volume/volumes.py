"""Handlers of ``/volumes``: create, list (summary, detail), show, update, delete, metadata."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import json_body
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.api.volume import params, schemas, views
from interstack.api.volume.metadata import MetadataOwner, metadata_routes
from interstack.api.volume.params import UrlProject
from interstack.api.volume.versions import Microversion
from interstack.errors import BadRequest, NotFound
from interstack.services.volume.records import Volume
from interstack.services.volume.volumes import NewVolume, VolumeFilters

V3_45 = APIVersion(3, 45)  # with_count


def _detail(
    request: Request, volume: Volume, project_id: str, version: APIVersion, admin: bool
) -> Any:
    return views.volume_detail(volume, params.root(request), project_id, version, admin=admin)


def create_volume(
    request: Request,
    region: Region,
    project_id: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
    body: Annotated[schemas.VolumeCreate, Depends(json_body(schemas.VolumeCreate))],
) -> OrjsonResponse:
    """POST /volumes — 202 with the volume ``creating``; the task makes it ``available``."""
    given = body.volume
    names = params.name_and_description(given)
    created = services.volume.volumes.create(
        caller,
        region,
        NewVolume(
            size=given.size,
            name=names.get("name"),
            description=names.get("description"),
            volume_type=given.volume_type,
            availability_zone=given.availability_zone,
            metadata=given.metadata or {},
            snapshot_id=given.snapshot_id,
            source_volid=given.source_volid,
            image_id=given.imageRef,
            multiattach=given.multiattach,
        ),
    )
    root = params.root(request)
    shown = views.volume_written(created, root, project_id, version, admin=caller.is_admin)
    return json_response({"volume": shown}, status=202)


def _filters(request: Request) -> VolumeFilters:
    query = request.query_params
    return VolumeFilters(
        name=query.get("name") or query.get("display_name"),
        status=query.get("status"),
        metadata=params.metadata_filter(query),
        bootable=params.flag(query, "bootable"),
        availability_zone=query.get("availability_zone"),
        all_tenants=bool(params.flag(query, "all_tenants")),
        project_id=query.get("project_id"),
    )


def _list(
    request: Request,
    region: str,
    project_id: str,
    services: ServicesDep,
    caller: Caller,
    version: APIVersion,
    *,
    detail: bool,
) -> OrjsonResponse:
    filters = _filters(request)
    page = params.page(request.query_params)
    found = services.volume.volumes.list(caller, region, filters, page)
    root = params.root(request)
    listed = [
        _detail(request, v, project_id, version, caller.is_admin)
        if detail
        else views.volume_summary(v, root, project_id)
        for v in found.volumes
    ]
    path = "volumes/detail" if detail else "volumes"
    ids = [v.id for v in found.volumes]
    body = params.listed_page(request, project_id, path, "volumes", listed, ids, page.limit)
    with_count = params.flag(request.query_params, "with_count")
    if version >= V3_45 and with_count:
        body["count"] = services.volume.volumes.count(caller, region, filters)
    return json_response(body)


def list_volumes(
    request: Request,
    region: Region,
    project_id: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    return _list(request, region, project_id, services, caller, version, detail=False)


def list_volumes_detail(
    request: Request,
    region: Region,
    project_id: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    return _list(request, region, project_id, services, caller, version, detail=True)


def show_volume(
    volume_id: str,
    request: Request,
    region: Region,
    project_id: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    found = services.volume.volumes.get(caller, region, volume_id)
    return json_response({"volume": _detail(request, found, project_id, version, caller.is_admin)})


def update_volume(
    volume_id: str,
    request: Request,
    region: Region,
    project_id: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
    body: Annotated[schemas.VolumeUpdate, Depends(json_body(schemas.VolumeUpdate))],
) -> OrjsonResponse:
    """PUT /volumes/{id} — name, description, metadata (which replaces all of it)."""
    changes = params.name_and_description(body.volume)
    metadata = body.volume.metadata
    if not changes and metadata is None:
        raise BadRequest("Invalid input received: give a name, description or metadata.")
    updated = services.volume.volumes.update(
        caller, region, volume_id, changes=changes, metadata=metadata
    )
    root = params.root(request)
    written = views.volume_written(updated, root, project_id, version, admin=caller.is_admin)
    return json_response({"volume": written})


def delete_volume(
    volume_id: str,
    request: Request,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> Response:
    """DELETE /volumes/{id}[?cascade=true][&force=true] — 202; the task removes it."""
    query = request.query_params
    services.volume.volumes.delete(
        caller,
        region,
        volume_id,
        cascade=bool(params.flag(query, "cascade")),
        force=bool(params.flag(query, "force")),
    )
    return empty_response(202)


def no_volume_id(_project: UrlProject, _caller: Caller, _version: Microversion) -> Response:
    """GET/PUT/DELETE /volumes/ — an empty volume id names no volume: 404, as Cinder answers
    (not the list, nor a 405 for a method the list does not take)."""
    raise NotFound("No volume found with an empty ID: give one as /volumes/{volume_id}.")


ROUTES: list[Route] = [
    Route("GET", "/volumes", list_volumes),
    Route("GET", "/volumes/", no_volume_id),  # an empty volume id: 404
    Route("PUT", "/volumes/", no_volume_id),
    Route("DELETE", "/volumes/", no_volume_id),
    Route("POST", "/volumes", create_volume, status=202),
    Route("GET", "/volumes/detail", list_volumes_detail),
    Route("GET", "/volumes/{volume_id}", show_volume),
    Route("PUT", "/volumes/{volume_id}", update_volume),
    Route("DELETE", "/volumes/{volume_id}", delete_volume, status=202),
    *metadata_routes(
        MetadataOwner("Volume", "/volumes", "volume_id", lambda services: services.volume.volumes)
    ),
]
