"""The compute route table: every Nova v2.1 path served, under ``/<region>/compute``.

Each resource module owns the table of its paths (relative to ``/v2.1``); this module joins them,
so the whole API is read in one place and a new resource adds one line here.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from interstack.api.compute import (
    availability_zones,
    compute_services,
    flavor_access,
    flavor_specs,
    flavors,
    images,
    interfaces,
    keypairs,
    quotas,
    server_actions,
    server_groups,
    server_ips,
    server_metadata,
    server_password,
    server_security_groups,
    servers,
    versions,
    volume_attachments,
)
from interstack.api.faults import FaultFormats, nova_fault
from interstack.api.regional import prefix, region_of, register_faults
from interstack.api.routing import Route, add_routes
from interstack.services.catalog import ServiceSpec

SERVICE = ServiceSpec(type="compute", name="nova", path="compute/v2.1")

#: the unversioned root, ``/<region>/compute``: version discovery, no microversion
ROOT_ROUTES: list[Route] = [
    Route("GET", "", versions.list_versions),
    Route("GET", "/", versions.list_versions),
    Route("GET", "/v2", versions.show_v20),
    Route("GET", "/v2/", versions.show_v20),
]

#: paths under ``/<region>/compute/v2.1``; every one negotiates the microversion
ROUTES: list[Route] = [
    Route("GET", "", versions.show_v21),
    Route("GET", "/", versions.show_v21),
    *flavors.ROUTES,
    *flavor_specs.ROUTES,
    *flavor_access.ROUTES,
    *keypairs.ROUTES,
    *images.ROUTES,
    *servers.ROUTES,
    *server_actions.ROUTES,
    *server_metadata.ROUTES,
    *server_ips.ROUTES,
    *server_password.ROUTES,
    *server_security_groups.ROUTES,
    *interfaces.ROUTES,
    *quotas.ROUTES,
    *availability_zones.ROUTES,
    *server_groups.ROUTES,
    *compute_services.ROUTES,
    *volume_attachments.ROUTES,
]


def add_to(router: APIRouter) -> None:
    root = prefix(SERVICE).rsplit("/", 1)[0]
    regional = Depends(region_of)
    add_routes(router, ROOT_ROUTES, prefix=root, dependencies=[regional])
    negotiated = [regional, Depends(versions.negotiate)]
    add_routes(router, ROUTES, prefix=prefix(SERVICE), dependencies=negotiated)


def register(formats: FaultFormats, regions: list[str]) -> None:
    """Answer errors under every region's compute endpoint with Nova's fault body."""
    register_faults(formats, regions, SERVICE, nova_fault)
