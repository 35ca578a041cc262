"""Handlers of ``/v2.0/routers`` (with interface actions) and ``/v2.0/floatingips``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.body import parse, read_json
from interstack.api.deps import Caller, ServicesDep
from interstack.api.network import params, views
from interstack.api.network import schemas as s
from interstack.api.network.bodies import changes, wrapped
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.services.network.floating_ips import FloatingIpCreate
from interstack.services.network.ipam import IpRequest
from interstack.services.network.router_interfaces import InterfaceInfo
from interstack.services.network.routers import GatewayRequest, RouterCreate

RouterBody = Annotated[s.RouterCreate, Depends(wrapped("router", s.RouterCreate))]
RouterChange = Annotated[s.RouterUpdate, Depends(wrapped("router", s.RouterUpdate))]
FipBody = Annotated[s.FloatingIpCreate, Depends(wrapped("floatingip", s.FloatingIpCreate))]
FipChange = Annotated[s.FloatingIpUpdate, Depends(wrapped("floatingip", s.FloatingIpUpdate))]


async def interface_body(request: Request) -> s.RouterInterface:
    """The body of add/remove_router_interface is not wrapped: ``{"subnet_id": ...}``."""
    return parse(s.RouterInterface, await read_json(request))


InterfaceBody = Annotated[s.RouterInterface, Depends(interface_body)]


def _gateway(info: s.GatewayInfo | None) -> GatewayRequest | None:
    if info is None or info.network_id is None:
        return None
    fixed = None
    if info.external_fixed_ips is not None:
        fixed = tuple(IpRequest(f.subnet_id, f.ip_address) for f in info.external_fixed_ips)
    return GatewayRequest(network_id=info.network_id, enable_snat=info.enable_snat, fixed_ips=fixed)


def list_routers(
    region: Region, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    query = params.list_query(request.query_params)
    found = services.network.routers.list_page(caller, region, query.filters, query.page)
    return json_response(params.collection("routers", found, views.router, query, request.url))


def create_router(
    region: Region, request: Request, services: ServicesDep, caller: Caller, body: RouterBody
) -> OrjsonResponse:
    created = services.network.routers.create(
        caller,
        region,
        RouterCreate(
            name=body.name,
            description=body.description,
            project_id=body.owner,
            admin_state_up=body.admin_state_up,
            gateway=_gateway(body.external_gateway_info),
        ),
    )
    return params.single("router", views.router(created), request, 201)


def show_router(
    region: Region, router_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    found = services.network.routers.get(caller, region, router_id)
    return params.single("router", views.router(found), request)


def update_router(
    region: Region,
    router_id: str,
    request: Request,
    services: ServicesDep,
    caller: Caller,
    body: RouterChange,
) -> OrjsonResponse:
    values: dict[str, Any] = changes(body)
    if "external_gateway_info" in values:
        values["gateway"] = _gateway(values.pop("external_gateway_info"))
    if "routes" in values:
        values["routes"] = [(r.destination, r.nexthop) for r in body.routes or []]
    updated = services.network.routers.update(caller, region, router_id, values)
    return params.single("router", views.router(updated), request)


def delete_router(
    region: Region, router_id: str, services: ServicesDep, caller: Caller
) -> Response:
    services.network.routers.delete(caller, region, router_id)
    return empty_response(204)


def _interface(info: InterfaceInfo) -> dict[str, Any]:
    return {
        "id": info.router_id,
        "tenant_id": info.project_id,
        "project_id": info.project_id,
        "port_id": info.port_id,
        "network_id": info.network_id,
        "subnet_id": info.subnet_ids[0] if info.subnet_ids else None,
        "subnet_ids": list(info.subnet_ids),
    }


def add_interface(
    region: Region, router_id: str, services: ServicesDep, caller: Caller, body: InterfaceBody
) -> OrjsonResponse:
    added = services.network.router_interfaces.add(
        caller, region, router_id, body.subnet_id, body.port_id
    )
    return json_response(_interface(added))


def remove_interface(
    region: Region, router_id: str, services: ServicesDep, caller: Caller, body: InterfaceBody
) -> OrjsonResponse:
    removed = services.network.router_interfaces.remove(
        caller, region, router_id, body.subnet_id, body.port_id
    )
    return json_response(_interface(removed))


# -- floating IPs ---------------------------------------------------------------------------------


def list_floating_ips(
    region: Region, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    query = params.list_query(request.query_params)
    found = services.network.floating_ips.list_page(caller, region, query.filters, query.page)
    return json_response(
        params.collection("floatingips", found, views.floating_ip, query, request.url)
    )


def create_floating_ip(
    region: Region, request: Request, services: ServicesDep, caller: Caller, body: FipBody
) -> OrjsonResponse:
    created = services.network.floating_ips.create(
        caller,
        region,
        FloatingIpCreate(
            floating_network_id=body.floating_network_id,
            floating_ip_address=body.floating_ip_address,
            subnet_id=body.subnet_id,
            port_id=body.port_id,
            fixed_ip_address=body.fixed_ip_address,
            description=body.description,
            project_id=body.owner,
        ),
    )
    return params.single("floatingip", views.floating_ip(created), request, 201)


def show_floating_ip(
    region: Region, fip_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    found = services.network.floating_ips.get(caller, region, fip_id)
    return params.single("floatingip", views.floating_ip(found), request)


def update_floating_ip(
    region: Region,
    fip_id: str,
    request: Request,
    services: ServicesDep,
    caller: Caller,
    body: FipChange,
) -> OrjsonResponse:
    updated = services.network.floating_ips.update(caller, region, fip_id, changes(body))
    return params.single("floatingip", views.floating_ip(updated), request)


def delete_floating_ip(
    region: Region, fip_id: str, services: ServicesDep, caller: Caller
) -> Response:
    services.network.floating_ips.delete(caller, region, fip_id)
    return empty_response(204)
