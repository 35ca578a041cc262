"""``GET /servers/{server_id}/os-security-groups``: the groups on a server's ports.

Still served at every microversion (2.36 retired only the proxies to Neutron's own group API);
openstacksdk's ``fetch_server_security_groups`` and Ansible's ``server`` module rely on it.
"""

from __future__ import annotations

from interstack.api.compute.versions import Microversion
from interstack.api.compute.views import security_groups as views
from interstack.api.deps import Caller, ServicesDep
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, json_response
from interstack.api.routing import Route


def list_server_security_groups(
    region: Region, server_id: str, services: ServicesDep, caller: Caller, _v: Microversion
) -> OrjsonResponse:
    """GET /servers/{server_id}/os-security-groups — 404 for a server the caller cannot see."""
    groups = services.compute.servers.security_groups(caller, region, server_id)
    return json_response({"security_groups": views.security_groups(groups)})


ROUTES: list[Route] = [
    Route("GET", "/servers/{server_id}/os-security-groups", list_server_security_groups),
]
