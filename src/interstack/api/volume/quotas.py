"""Handlers of ``/os-quota-sets`` (show with usage, defaults, admin update, revert),
``/limits`` and ``/os-availability-zone``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import json_body
from interstack.api.deps import Caller, ServicesDep
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.api.volume import params, schemas, views
from interstack.api.volume.params import UrlProject
from interstack.api.volume.versions import Microversion
from interstack.services.volume.common import AVAILABILITY_ZONE


def show_quotas(
    target: str,
    request: Request,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> OrjsonResponse:
    """GET /os-quota-sets/{project} — limits, or with ``usage=true`` each with ``in_use``."""
    usage = services.volume.quotas.show(caller, target)
    if params.flag(request.query_params, "usage"):
        return json_response(views.quota_set_usage(target, usage))
    return json_response(views.quota_set(target, {k: u.limit for k, u in usage.items()}))


def show_defaults(
    target: str,
    _project: UrlProject,
    services: ServicesDep,
    _caller: Caller,
    _version: Microversion,
) -> OrjsonResponse:
    return json_response(views.quota_set(target, services.volume.quotas.defaults()))


def update_quotas(
    target: str,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
    body: Annotated[schemas.QuotaUpdate, Depends(json_body(schemas.QuotaUpdate))],
) -> OrjsonResponse:
    """PUT /os-quota-sets/{project} — admin only; the answer holds every limit."""
    if caller.is_admin:
        services.directory.require_project(target)
    limits = services.volume.quotas.update(caller, target, body.quota_set.changes())
    return json_response({"quota_set": limits})


def revert_quotas(
    target: str,
    _project: UrlProject,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> Response:
    services.volume.quotas.revert(caller, target)
    return empty_response(200)


def show_limits(
    project_id: UrlProject, services: ServicesDep, caller: Caller, _version: Microversion
) -> OrjsonResponse:
    usage = services.volume.quotas.show(caller, caller.project_id or project_id)
    return json_response(views.absolute_limits(usage))


def list_availability_zones(
    _project: UrlProject, _caller: Caller, _version: Microversion
) -> OrjsonResponse:
    """GET /os-availability-zone — every region has one zone, ``nova``, as Cinder's default."""
    zone = {"zoneName": AVAILABILITY_ZONE, "zoneState": {"available": True}}
    return json_response({"availabilityZoneInfo": [zone]})


ROUTES: list[Route] = [
    Route("GET", "/limits", show_limits),
    Route("GET", "/os-availability-zone", list_availability_zones),
    Route("GET", "/os-quota-sets/{target}", show_quotas),
    Route("PUT", "/os-quota-sets/{target}", update_quotas),
    Route("DELETE", "/os-quota-sets/{target}", revert_quotas),
    Route("GET", "/os-quota-sets/{target}/defaults", show_defaults),
]
