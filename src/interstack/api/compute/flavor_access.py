"""Handlers of private flavors' access: ``os-flavor-access`` and the flavor action table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from interstack.api.body import nova_validation_message, parse, read_json
from interstack.api.compute.schemas import flavors as schemas
from interstack.api.compute.views import flavors as views
from interstack.api.deps import Caller, ServicesDep
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, json_response
from interstack.api.routing import Route
from interstack.errors import BadRequest
from interstack.services.container import Services
from interstack.services.context import RequestContext


def list_access(
    flavor_id: str, region: Region, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    """GET /flavors/{id}/os-flavor-access — admin only; 404 for a public flavor."""
    projects = services.compute.flavors.access(caller, region, flavor_id)
    return json_response(views.access_list(flavor_id, projects))


def add_tenant_access(
    services: Services, caller: RequestContext, region: str, flavor_id: str, body: Any
) -> list[str]:
    tenant = parse(schemas.AddTenantAccess, body, nova_validation_message).add.tenant
    if caller.is_admin:
        services.directory.require_project(tenant)
    return services.compute.flavors.add_access(caller, region, flavor_id, tenant)


def remove_tenant_access(
    services: Services, caller: RequestContext, region: str, flavor_id: str, body: Any
) -> list[str]:
    tenant = parse(schemas.RemoveTenantAccess, body, nova_validation_message).remove.tenant
    return services.compute.flavors.remove_access(caller, region, flavor_id, tenant)


FlavorAction = Callable[[Services, RequestContext, str, str, Any], list[str]]

#: the flavor actions, by the body's one key
ACTIONS: Mapping[str, FlavorAction] = {
    "addTenantAccess": add_tenant_access,
    "removeTenantAccess": remove_tenant_access,
}


async def flavor_action(
    flavor_id: str, request: Request, region: Region, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    """POST /flavors/{id}/action — ``addTenantAccess`` or ``removeTenantAccess``."""
    body = await read_json(request)
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in ACTIONS:
        raise BadRequest(
            f"Invalid flavor action; the body must hold one of: {', '.join(sorted(ACTIONS))}."
        )
    action = ACTIONS[next(iter(body))]
    projects = await run_in_threadpool(action, services, caller, region, flavor_id, body)
    return json_response(views.access_list(flavor_id, projects))


ROUTES: list[Route] = [
    Route("GET", "/flavors/{flavor_id}/os-flavor-access", list_access),
    Route("POST", "/flavors/{flavor_id}/action", flavor_action),
]
