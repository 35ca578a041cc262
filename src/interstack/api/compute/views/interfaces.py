"""Interface attachment JSON (``os-interface``): a server's port as Nova shows it."""

from __future__ import annotations

from typing import Any

from interstack.api.microversions import APIVersion
from interstack.services.compute.records import Interface

V2_70 = APIVersion(2, 70)  # the device tag


def interface(found: Interface, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "net_id": found.network_id,
        "port_id": found.port_id,
        "mac_addr": found.mac_address,
        "port_state": found.status,
        "fixed_ips": [
            {"subnet_id": ip.subnet_id, "ip_address": ip.ip_address} for ip in found.fixed_ips
        ],
    }
    if version >= V2_70:
        body["tag"] = found.tag
    return body
