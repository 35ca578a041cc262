"""Flavor JSON: summary and detail by microversion, extra specs, access lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from interstack.api.compute.views.links import resource_links
from interstack.api.microversions import APIVersion
from interstack.services.compute.records import Flavor

V2_55 = APIVersion(2, 55)  # description
V2_61 = APIVersion(2, 61)  # extra_specs in the flavor
V2_75 = APIVersion(2, 75)  # swap 0 instead of ""


def summary(flavor: Flavor, root: str, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": flavor.id,
        "name": flavor.name,
        "links": resource_links(root, "flavors", flavor.id),
    }
    if version >= V2_55:
        body["description"] = flavor.description
    return body


def detail(flavor: Flavor, root: str, version: APIVersion) -> dict[str, Any]:
    swap: int | str = flavor.swap_mb if flavor.swap_mb or version >= V2_75 else ""
    body = {
        **summary(flavor, root, version),
        "ram": flavor.ram_mb,
        "disk": flavor.disk_gb,
        "vcpus": flavor.vcpus,
        "swap": swap,
        "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": False,
        "rxtx_factor": flavor.rxtx_factor,
        "os-flavor-access:is_public": flavor.is_public,
    }
    if version >= V2_61:
        body["extra_specs"] = dict(flavor.extra_specs)
    return body


def access_list(flavor_id: str, projects: Sequence[str]) -> dict[str, Any]:
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}


def extra_specs(specs: Mapping[str, str]) -> dict[str, Any]:
    return {"extra_specs": dict(specs)}
