"""Handlers of ``/os-services`` (admin): the Nova services a region is made of, always up.

interstack has no separate scheduler or conductor processes; the gateway plays their part and
the region's backend is its one compute host, so these are the rows an operator expects to see.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request

from interstack.api.compute.availability_zones import ZONE
from interstack.api.compute.versions import Microversion
from interstack.api.deps import Caller
from interstack.api.microversions import APIVersion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, json_response
from interstack.api.routing import Route
from interstack.errors import Forbidden
from interstack.services.tasks import utcnow

V2_11 = APIVersion(2, 11)  # forced_down
V2_53 = APIVersion(2, 53)  # UUID ids

_NAMESPACE = uuid.UUID("0b7e5a52-3c1f-4f57-9f43-61c1b8f3e0d2")

#: (binary, zone) of every service row of a region
SERVICES = (("nova-conductor", "internal"), ("nova-scheduler", "internal"), ("nova-compute", ZONE))


def _service(
    index: int, binary: str, zone: str, region: str, version: APIVersion
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid5(_NAMESPACE, f"{region}/{binary}")) if version >= V2_53 else index,
        "binary": binary,
        "host": region,
        "zone": zone,
        "status": "enabled",
        "state": "up",
        "updated_at": utcnow().isoformat(timespec="microseconds"),
        "disabled_reason": None,
    }
    if version >= V2_11:
        body["forced_down"] = False
    return body


def list_services(
    request: Request, region: Region, caller: Caller, version: Microversion
) -> OrjsonResponse:
    """GET /os-services — filters ``host`` and ``binary``."""
    if not caller.is_admin:
        raise Forbidden("Policy doesn't allow os_compute_api:os-services:list to be performed.")
    host = request.query_params.get("host")
    binary = request.query_params.get("binary")
    rows = [
        _service(index, name, zone, region, version)
        for index, (name, zone) in enumerate(SERVICES, start=1)
        if (host is None or host == region) and (binary is None or binary == name)
    ]
    return json_response({"services": rows})


ROUTES: list[Route] = [Route("GET", "/os-services", list_services)]
