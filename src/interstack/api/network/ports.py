"""Handlers of ``/v2.0/ports`` (bulk create included)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from interstack.api.deps import Caller, ServicesDep
from interstack.api.network import params, views
from interstack.api.network import schemas as s
from interstack.api.network.bodies import changes, one_or_bulk, wrapped
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.errors import Forbidden
from interstack.services.context import RequestContext
from interstack.services.network.ipam import IpRequest
from interstack.services.network.ports import PortCreate

PortBodies = Annotated[
    tuple[list[s.PortCreate], bool], Depends(one_or_bulk("port", "ports", s.PortCreate))
]
PortChange = Annotated[s.PortUpdate, Depends(wrapped("port", s.PortUpdate))]


def _create(body: s.PortCreate) -> PortCreate:
    fixed = None
    if body.fixed_ips is not None:
        fixed = tuple(IpRequest(f.subnet_id, f.ip_address) for f in body.fixed_ips)
    return PortCreate(
        network_id=body.network_id,
        name=body.name,
        description=body.description,
        project_id=body.owner,
        admin_state_up=body.admin_state_up,
        mac_address=body.mac_address,
        fixed_ips=fixed,
        device_id=body.device_id,
        device_owner=body.device_owner,
        security_groups=None if body.security_groups is None else tuple(body.security_groups),
        allowed_address_pairs=tuple(
            (p.ip_address, p.mac_address) for p in body.allowed_address_pairs
        ),
        port_security_enabled=body.port_security_enabled,
        binding_host_id=body.binding_host_id,
        binding_vnic_type=body.binding_vnic_type,
    )


def _check_binding(caller: RequestContext, body: s.PortCreate | s.PortUpdate, action: str) -> None:
    """Neutron's ``create_port:binding:host_id`` and ``:binding:profile`` policies (and
    update_port's): admin only, as the attributes are shown to admins only."""
    if caller.is_admin:
        return
    for name, attribute in (
        ("binding_host_id", "binding:host_id"),
        ("binding_profile", "binding:profile"),
    ):
        if name in body.model_fields_set:
            raise Forbidden(
                f"(rule:{action} and rule:{action}:{attribute}) is disallowed by policy: only an "
                f"admin may set a port's {attribute}."
            )


def list_ports(
    region: Region, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    query = params.list_query(request.query_params)
    found = services.network.ports.list_page(caller, region, query.filters, query.page)
    view = partial(views.port, admin=caller.is_admin)
    return json_response(params.collection("ports", found, view, query, request.url))


def create_ports(
    region: Region, request: Request, services: ServicesDep, caller: Caller, bodies: PortBodies
) -> OrjsonResponse:
    """POST /v2.0/ports — one port, or ``{"ports": [...]}`` all or nothing."""
    items, bulk = bodies
    for body in items:
        _check_binding(caller, body, "create_port")
    created = services.network.ports.create_bulk(caller, region, [_create(b) for b in items])
    if bulk:
        return json_response({"ports": [views.port(p, caller.is_admin) for p in created]}, 201)
    return params.single("port", views.port(created[0], caller.is_admin), request, 201)


def show_port(
    region: Region, port_id: str, request: Request, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    shown = views.port(services.network.ports.get(caller, region, port_id), caller.is_admin)
    return params.single("port", shown, request)


def update_port(
    region: Region,
    port_id: str,
    request: Request,
    services: ServicesDep,
    caller: Caller,
    body: PortChange,
) -> OrjsonResponse:
    _check_binding(caller, body, "update_port")
    values = changes(body)
    if "allowed_address_pairs" in values:
        values["allowed_address_pairs"] = [
            (p.ip_address, p.mac_address) for p in body.allowed_address_pairs or []
        ]
    updated = services.network.ports.update(caller, region, port_id, values)
    return params.single("port", views.port(updated, caller.is_admin), request)


def delete_port(region: Region, port_id: str, services: ServicesDep, caller: Caller) -> Response:
    services.network.ports.delete(caller, region, port_id)
    return empty_response(204)
