"""Handlers of ``/snapshots``: create, list (summary and detail), show, update, delete,
metadata, and the admin's ``os-reset_status`` action."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import json_body, parse, read_json
from interstack.api.deps import Caller, ServicesDep
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.api.volume import params, schemas, views
from interstack.api.volume.metadata import MetadataOwner, metadata_routes
from interstack.api.volume.params import UrlProject
from interstack.api.volume.versions import Microversion
from interstack.errors import BadRequest
from interstack.services.volume.common import volume_not_found
from interstack.services.volume.snapshots import SnapshotFilters


def create_snapshot(
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
    body: Annotated[schemas.SnapshotCreate, Depends(json_body(schemas.SnapshotCreate))],
) -> OrjsonResponse:
    """POST /snapshots — 202 with the snapshot ``creating``."""
    given = body.snapshot
    if given.volume_id is None:
        raise volume_not_found("None")
    names = params.name_and_description(given)
    created = services.volume.snapshots.create(
        caller,
        region,
        given.volume_id,
        name=names.get("name"),
        description=names.get("description"),
        metadata=given.metadata or {},
        force=given.force,
    )
    return json_response({"snapshot": views.snapshot_written(created, version)}, status=202)


def _list(
    request: Request,
    region: str,
    project_id: str,
    services: ServicesDep,
    caller: Caller,
    version: Any,
    *,
    detail: bool,
) -> OrjsonResponse:
    query = request.query_params
    filters = SnapshotFilters(
        name=query.get("name") or query.get("display_name"),
        status=query.get("status"),
        volume_id=query.get("volume_id"),
        all_tenants=bool(params.flag(query, "all_tenants")),
        project_id=query.get("project_id"),
    )
    page = params.page(query)
    found = services.volume.snapshots.list(caller, region, filters, page)
    listed = [views.snapshot_detail(s, version) for s in found]
    if not detail:
        keep = (
            "id",
            "name",
            "description",
            "volume_id",
            "status",
            "size",
            "created_at",
            "metadata",
            "updated_at",
        )
        listed = [{k: s[k] for k in keep} for s in listed]
    path = "snapshots/detail" if detail else "snapshots"
    ids = [s.id for s in found]
    return json_response(
        params.listed_page(request, project_id, path, "snapshots", listed, ids, page.limit)
    )


def list_snapshots(
    request: Request,
    region: Region,
    project_id: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    return _list(request, region, project_id, services, caller, version, detail=False)


def list_snapshots_detail(
    request: Request,
    region: Region,
    project_id: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    return _list(request, region, project_id, services, caller, version, detail=True)


def show_snapshot(
    snapshot_id: str,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    found = services.volume.snapshots.get(caller, region, snapshot_id)
    return json_response({"snapshot": views.snapshot_detail(found, version)})


def update_snapshot(
    snapshot_id: str,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
    body: Annotated[schemas.SnapshotUpdate, Depends(json_body(schemas.SnapshotUpdate))],
) -> OrjsonResponse:
    changes = params.name_and_description(body.snapshot)
    if not changes:
        raise BadRequest("Invalid input received: give a name or description.")
    updated = services.volume.snapshots.update(caller, region, snapshot_id, changes)
    return json_response({"snapshot": views.snapshot_written(updated, version)})


def delete_snapshot(
    snapshot_id: str,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> Response:
    services.volume.snapshots.delete(caller, region, snapshot_id)
    return empty_response(202)


async def snapshot_action(
    snapshot_id: str,
    request: Request,
    region: Region,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> Response:
    """POST /snapshots/{id}/action — ``os-reset_status`` (admin) is the one action served."""
    body = await read_json(request)
    if not isinstance(body, dict) or list(body) != ["os-reset_status"]:
        raise BadRequest("There is no such action; snapshots take os-reset_status.")
    status = parse(schemas.SnapshotResetStatus, body["os-reset_status"]).status
    services.volume.snapshots.reset_status(caller, region, snapshot_id, status)
    return empty_response(202)


ROUTES: list[Route] = [
    Route("GET", "/snapshots", list_snapshots),
    Route("POST", "/snapshots", create_snapshot, status=202),
    Route("GET", "/snapshots/detail", list_snapshots_detail),
    Route("GET", "/snapshots/{snapshot_id}", show_snapshot),
    Route("PUT", "/snapshots/{snapshot_id}", update_snapshot),
    Route("DELETE", "/snapshots/{snapshot_id}", delete_snapshot, status=202),
    Route("POST", "/snapshots/{snapshot_id}/action", snapshot_action, status=202),
    *metadata_routes(
        MetadataOwner(
            "Snapshot", "/snapshots", "snapshot_id", lambda services: services.volume.snapshots
        )
    ),
]
