"""``/servers/{server_id}/ips``: a server's addresses by network, as Nova lists them (version and
address only; the detail's ``OS-EXT-IPS`` fields are not part of this API)."""

from __future__ import annotations

from typing import Any

from interstack.api.compute.versions import Microversion
from interstack.api.compute.views import servers as views
from interstack.api.deps import Caller, ServicesDep
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, json_response
from interstack.api.routing import Route
from interstack.errors import NotFound


def _by_network(
    services: ServicesDep, caller: Caller, region: str, server_id: str
) -> dict[str, list[dict[str, Any]]]:
    server = services.compute.servers.get(caller, region, server_id)
    return views.plain_addresses(server.addresses)


def list_ips(
    region: Region, server_id: str, services: ServicesDep, caller: Caller, _version: Microversion
) -> OrjsonResponse:
    """GET /servers/{server_id}/ips"""
    return json_response({"addresses": _by_network(services, caller, region, server_id)})


def show_ips(
    region: Region,
    server_id: str,
    network_label: str,
    services: ServicesDep,
    caller: Caller,
    _version: Microversion,
) -> OrjsonResponse:
    """GET /servers/{server_id}/ips/{network_label} — 404 for a network the server is not on."""
    found = _by_network(services, caller, region, server_id)
    if network_label not in found:
        raise NotFound("Instance is not a member of specified network")
    return json_response({network_label: found[network_label]})


ROUTES: list[Route] = [
    Route("GET", "/servers/{server_id}/ips", list_ips),
    Route("GET", "/servers/{server_id}/ips/{network_label}", show_ips),
]
