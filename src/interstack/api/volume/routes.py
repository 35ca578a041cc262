"""The block storage route table: every Cinder v3 path served, under ``/<region>/volume``.

The catalog lists the service twice, as ``block-storage`` (its official type) and ``volumev3``
(the alias older clients and Tempest look up), both at ``.../volume/v3/<project_id>``: Cinder
URLs name the project, and keystoneauth strips it (and the version) to find the unversioned
root for version discovery.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from interstack.api.faults import FaultFormats, cinder_fault
from interstack.api.regional import region_of
from interstack.api.routing import Route, add_routes
from interstack.api.volume import (
    attachments,
    extensions,
    messages,
    quotas,
    snapshots,
    versions,
    volume_actions,
    volume_types,
    volumes,
)
from interstack.services.catalog import PROJECT_ID, ServiceSpec

PATH = f"volume/v3/{PROJECT_ID}"
SERVICE = ServiceSpec(type="block-storage", name="cinderv3", path=PATH)
#: the same endpoint under the service type older clients ask for
ALIAS = ServiceSpec(type="volumev3", name="cinderv3", path=PATH)

ROOT = "/{region}/volume"

#: the unversioned root and ``/v3``: version discovery, no microversion
ROOT_ROUTES: list[Route] = [
    Route("GET", "", versions.list_versions, status=300),
    Route("GET", "/", versions.list_versions, status=300),
    Route("GET", "/v3", versions.show_v3),
    Route("GET", "/v3/", versions.show_v3),
]

#: paths under ``/<region>/volume/v3/<project_id>``; every one negotiates the microversion
ROUTES: list[Route] = [
    *volumes.ROUTES,
    *volume_actions.ROUTES,
    *snapshots.ROUTES,
    *volume_types.ROUTES,
    *quotas.ROUTES,
    *extensions.ROUTES,
]


def add_to(router: APIRouter) -> None:
    regional = Depends(region_of)
    add_routes(router, ROOT_ROUTES, prefix=ROOT, dependencies=[regional])
    versioned = f"{ROOT}/v3/{{project_id}}"
    negotiated = [regional, Depends(versions.negotiate)]
    add_routes(router, ROUTES, prefix=versioned, dependencies=negotiated)
    since_3_27 = [*negotiated, Depends(attachments.since_3_27)]
    add_routes(router, attachments.ROUTES, prefix=versioned, dependencies=since_3_27)
    since_3_3 = [*negotiated, Depends(messages.since_3_3)]
    add_routes(router, messages.ROUTES, prefix=versioned, dependencies=since_3_3)


def register(formats: FaultFormats, regions: list[str]) -> None:
    """Answer errors under every region's block storage endpoint with Cinder's fault body."""
    for region in regions:
        formats.register(f"/{region}/volume", cinder_fault)
