"""Handlers of ``/servers/{server_id}/os-server-password``: the encrypted password a guest
posted to the metadata service, read (``""`` when none) and cleared by the server's owner."""

from __future__ import annotations

from starlette.responses import Response

from interstack.api.compute.versions import Microversion
from interstack.api.deps import Caller, ServicesDep
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, empty_response, json_response
from interstack.api.routing import Route


def show_password(
    region: Region, server_id: str, services: ServicesDep, caller: Caller, _version: Microversion
) -> OrjsonResponse:
    """GET /servers/{server_id}/os-server-password"""
    password = services.compute.passwords.get(caller, region, server_id)
    return json_response({"password": password})


def clear_password(
    region: Region, server_id: str, services: ServicesDep, caller: Caller, _version: Microversion
) -> Response:
    """DELETE /servers/{server_id}/os-server-password — 204; the guest's password stays."""
    services.compute.passwords.clear(caller, region, server_id)
    return empty_response(204)


ROUTES: list[Route] = [
    Route("GET", "/servers/{server_id}/os-server-password", show_password),
    Route("DELETE", "/servers/{server_id}/os-server-password", clear_password, status=204),
]
