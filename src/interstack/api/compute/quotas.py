"""Handlers of ``/os-quota-sets`` (show, defaults, detail, update, revert) and ``/limits``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.compute import params
from interstack.api.compute.schemas import quotas as schemas
from interstack.api.compute.versions import Microversion
from interstack.api.compute.views import quotas as views
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.errors import BadRequest, Forbidden

UpdateBody = Annotated[
    schemas.QuotaUpdateV257,
    Depends(
        params.versioned_body(
            (APIVersion(2, 1), schemas.QuotaUpdateV21),
            (views.V2_36, schemas.QuotaUpdateV236),
            (views.V2_57, schemas.QuotaUpdateV257),
        )
    ),
]


def show_quotas(
    project_id: str, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    usage = services.compute.quotas.show(caller, project_id)
    limits = {k: u.limit for k, u in usage.items()}
    return json_response(views.quota_set(project_id, limits, version))


def show_quota_detail(
    project_id: str, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    """GET /os-quota-sets/{project_id}/detail — each limit with ``in_use`` and ``reserved``."""
    usage = services.compute.quotas.show(caller, project_id)
    return json_response(views.quota_set_detail(project_id, usage, version))


def show_defaults(
    project_id: str, services: ServicesDep, _caller: Caller, version: Microversion
) -> OrjsonResponse:
    return json_response(views.quota_set(project_id, services.compute.quotas.defaults(), version))


def update_quotas(
    project_id: str, services: ServicesDep, caller: Caller, version: Microversion, body: UpdateBody
) -> OrjsonResponse:
    """PUT /os-quota-sets/{project_id} — admin only; the answer has every limit, no ``id``."""
    if caller.is_admin:
        services.directory.require_project(project_id)
    values = body.quota_set
    limits = services.compute.quotas.update(
        caller, project_id, values.changes(), force=values.force
    )
    return json_response(views.quota_set(None, limits, version))


def revert_quotas(project_id: str, services: ServicesDep, caller: Caller) -> Response:
    """DELETE /os-quota-sets/{project_id} — back to the defaults."""
    services.compute.quotas.revert(caller, project_id)
    return empty_response(202)


def show_limits(
    request: Request, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    """GET /limits — the caller's project; an admin may ask for another with ``tenant_id``."""
    project_id = request.query_params.get("tenant_id") or caller.project_id
    if project_id != caller.project_id and not caller.is_admin:
        raise Forbidden("Policy doesn't allow os_compute_api:limits:other_project to be performed.")
    if project_id is None:
        raise BadRequest("Limits are per project; use a project-scoped token.")
    usage = services.compute.quotas.show(caller, project_id)
    return json_response(views.absolute_limits(usage, version))


ROUTES: list[Route] = [
    Route("GET", "/limits", show_limits),
    Route("GET", "/os-quota-sets/{project_id}", show_quotas),
    Route("PUT", "/os-quota-sets/{project_id}", update_quotas),
    Route("DELETE", "/os-quota-sets/{project_id}", revert_quotas, status=202),
    Route("GET", "/os-quota-sets/{project_id}/defaults", show_defaults),
    Route("GET", "/os-quota-sets/{project_id}/detail", show_quota_detail),
]
