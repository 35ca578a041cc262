"""Handlers of ``/os-availability-zone``: every region has one zone, ``nova``, with one host."""

from __future__ import annotations

from typing import Any

from interstack.api.deps import Caller
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, json_response
from interstack.api.routing import Route
from interstack.errors import Forbidden
from interstack.services.tasks import utcnow

ZONE = "nova"


def list_zones(_caller: Caller) -> OrjsonResponse:
    return json_response(
        {
            "availabilityZoneInfo": [
                {"zoneName": ZONE, "zoneState": {"available": True}, "hosts": None}
            ]
        }
    )


def list_zones_detail(region: Region, caller: Caller) -> OrjsonResponse:
    """Admins see the hosts: the region's compute host (the backend behind it)."""
    if not caller.is_admin:
        raise Forbidden(
            "Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed."
        )
    now = utcnow().isoformat(timespec="microseconds")
    service: dict[str, Any] = {"available": True, "active": True, "updated_at": now}
    zones = [
        {
            "zoneName": ZONE,
            "zoneState": {"available": True},
            "hosts": {region: {"nova-compute": service}},
        }
    ]
    return json_response({"availabilityZoneInfo": zones})


ROUTES: list[Route] = [
    Route("GET", "/os-availability-zone", list_zones),
    Route("GET", "/os-availability-zone/detail", list_zones_detail),
]
