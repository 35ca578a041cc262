"""Handlers of ``/servers/{server_id}/os-interface``: list, show, attach, detach a server's ports.

Attach answers 200 with the interface (Nova shows it from Neutron once attached), detach 202.
The ``tag`` is taken from 2.49 and shown from 2.70.
"""

from __future__ import annotations

import orjson
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from interstack.api.body import body_limit, nova_validation_message, parse, read_limited
from interstack.api.compute.schemas import interfaces as schemas
from interstack.api.compute.versions import Microversion
from interstack.api.compute.views import interfaces as views
from interstack.api.deps import Caller, ServicesDep
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route
from interstack.errors import BadRequest
from interstack.services.interfaces import RequestedNetwork

V2_49 = APIVersion(2, 49)


def list_interfaces(
    region: Region, server_id: str, services: ServicesDep, caller: Caller, version: Microversion
) -> OrjsonResponse:
    """GET /servers/{server_id}/os-interface"""
    found = services.compute.interfaces.list(caller, region, server_id)
    return json_response({"interfaceAttachments": [views.interface(i, version) for i in found]})


def show_interface(
    region: Region,
    server_id: str,
    port_id: str,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    """GET /servers/{server_id}/os-interface/{port_id}"""
    found = services.compute.interfaces.get(caller, region, server_id, port_id)
    return json_response({"interfaceAttachment": views.interface(found, version)})


async def _body(request: Request, version: APIVersion) -> schemas.NewInterface | None:
    """The ``interfaceAttachment``; an empty body asks for the project's only network."""
    raw = await read_limited(request, body_limit(request))
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON in request body: {exc.args[0]}.") from exc
    if version >= V2_49:
        return parse(schemas.InterfaceCreateV249, data, nova_validation_message).interfaceAttachment
    return parse(schemas.InterfaceCreate, data, nova_validation_message).interfaceAttachment


def _requested(new: schemas.NewInterface | None) -> RequestedNetwork | None:
    if new is None:
        return None
    fixed_ip = new.fixed_ips[0].ip_address if new.fixed_ips else None
    if new.net_id and new.port_id:
        raise BadRequest("Must not input both network_id and port_id")
    if fixed_ip and not new.net_id:
        raise BadRequest("Must input network_id when request IP address")
    if not new.net_id and not new.port_id:
        return None
    return RequestedNetwork(network_id=new.net_id, port_id=new.port_id, fixed_ip=fixed_ip)


async def attach_interface(
    request: Request,
    region: Region,
    server_id: str,
    services: ServicesDep,
    caller: Caller,
    version: Microversion,
) -> OrjsonResponse:
    """POST /servers/{server_id}/os-interface — by ``net_id`` (with one fixed IP) or
    ``port_id``; neither: the project's only network."""
    new = await _body(request, version)
    requested = _requested(new)
    tag = getattr(new, "tag", None)
    attach = services.compute.interfaces.attach
    found = await run_in_threadpool(attach, caller, region, server_id, requested, tag)
    return json_response({"interfaceAttachment": views.interface(found, version)})


def detach_interface(
    region: Region,
    server_id: str,
    port_id: str,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> Response:
    """DELETE /servers/{server_id}/os-interface/{port_id} — 202"""
    services.compute.interfaces.detach(caller, region, server_id, port_id)
    return empty_response(202)


ROUTES: list[Route] = [
    Route("GET", "/servers/{server_id}/os-interface", list_interfaces),
    Route("POST", "/servers/{server_id}/os-interface", attach_interface),
    Route("GET", "/servers/{server_id}/os-interface/{port_id}", show_interface),
    Route("DELETE", "/servers/{server_id}/os-interface/{port_id}", detach_interface, status=202),
]
