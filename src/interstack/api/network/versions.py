"""Neutron's discovery documents: versions at the root, resources at ``/v2.0``, extensions.

``/v2.0/extensions`` lists exactly what this gateway implements in the region, and only what the
region's backend can do (an extension needing a capability it lacks is left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interstack.api.deps import Caller, ServicesDep
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, json_response
from interstack.errors import NotFound

UPDATED = "2026-11-25T00:00:00Z"
COLLECTIONS = (
    ("network", "networks"),
    ("subnet", "subnets"),
    ("subnetpool", "subnetpools"),
    ("port", "ports"),
    ("router", "routers"),
    ("floatingip", "floatingips"),
    ("security_group", "security-groups"),
    ("security_group_rule", "security-group-rules"),
    ("quota", "quotas"),
)


@dataclass(frozen=True)
class Extension:
    alias: str
    name: str
    description: str
    #: the backend capability the extension needs
    needs: str = "networks"


EXTENSIONS = (
    Extension("external-net", "Neutron external network", "External networks (router:external)."),
    Extension(
        "subnet-external-network",
        "Subnet belongs to an external network",
        "router:external on subnets; every project sees the subnets of external networks.",
    ),
    Extension("net-mtu", "Network MTU", "The MTU attribute of networks."),
    Extension("port-security", "Port Security", "port_security_enabled on networks and ports."),
    Extension("allowed-address-pairs", "Allowed Address Pairs", "Extra addresses a port may use."),
    Extension("binding", "Port Binding", "binding:host_id and binding:vnic_type of ports."),
    Extension("project-id", "project_id field enabled", "project_id beside tenant_id."),
    Extension("quotas", "Quota management support", "Per-project quotas at /v2.0/quotas."),
    Extension("quota_details", "Quota details extension", "Limit, used and reserved quotas."),
    Extension("standard-attr-description", "standard-attr-description", "A description field."),
    Extension("standard-attr-timestamp", "Resource timestamps", "created_at and updated_at."),
    Extension("standard-attr-tag", "Tag support for resources", "Tags and tag filters."),
    Extension("sorting", "Sorting support", "sort_key and sort_dir on lists."),
    Extension("pagination", "Pagination support", "limit and marker on lists."),
    Extension("subnet_allocation", "Subnet Allocation", "Subnets carved from subnet pools."),
    Extension("router", "Neutron L3 Router", "Routers and floating IPs."),
    Extension("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "enable_snat."),
    Extension("extraroute", "Neutron Extra Route", "Extra routes on routers."),
    Extension("security-group", "security-group", "Security groups.", "security_groups"),
    Extension("stateful-security-group", "Stateful security group", "stateful", "security_groups"),
)


def _extension(ext: Extension) -> dict[str, Any]:
    return {
        "alias": ext.alias,
        "name": ext.name,
        "description": ext.description,
        "updated": UPDATED,
        "links": [],
    }


def _served(services: ServicesDep, region: str) -> list[Extension]:
    have = services.regions.capabilities(region).names()
    return [e for e in EXTENSIONS if e.needs in have]


def _endpoint(services: ServicesDep, region: str) -> str:
    return services.catalog.url_for("network", region)


async def list_versions(region: Region, services: ServicesDep) -> OrjsonResponse:
    """GET / — the one version, v2.0."""
    href = f"{_endpoint(services, region)}/v2.0/"
    return json_response(
        {
            "versions": [
                {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}
            ]
        }
    )


async def show_v2(region: Region, services: ServicesDep) -> OrjsonResponse:
    """GET /v2.0 — the collections of the API."""
    base = f"{_endpoint(services, region)}/v2.0"
    return json_response(
        {
            "resources": [
                {
                    "name": name,
                    "collection": collection,
                    "links": [{"rel": "self", "href": f"{base}/{collection}"}],
                }
                for name, collection in COLLECTIONS
            ]
        }
    )


async def list_extensions(region: Region, services: ServicesDep, caller: Caller) -> OrjsonResponse:
    del caller  # authenticated, as Neutron asks
    return json_response({"extensions": [_extension(e) for e in _served(services, region)]})


async def show_extension(
    region: Region, alias: str, services: ServicesDep, caller: Caller
) -> OrjsonResponse:
    del caller
    for ext in _served(services, region):
        if ext.alias == alias:
            return json_response({"extension": _extension(ext)})
    raise NotFound(f"Extension with alias {alias} does not exist", kind="ExtensionNotFound")
