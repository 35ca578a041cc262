"""Regional services: every region's copy of a service lives under ``/<region>/<service path>``.

One router serves all regions; the region is a path parameter checked here, so a handler receives a
region that exists and never looks at the URL itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from interstack.api.deps import services_of
from interstack.api.faults import FaultBody, FaultFormats
from interstack.errors import NotFound
from interstack.services.catalog import ServiceSpec


async def region_of(region: str, request: Request) -> str:
    if region not in services_of(request).regions.names:
        raise NotFound(f"Region {region} is not served by this gateway.")
    return region


#: the region a request is for, 404 if the gateway does not serve it
Region = Annotated[str, Depends(region_of)]


def prefix(spec: ServiceSpec) -> str:
    """The router prefix of a regional service, e.g. ``/{region}/compute/v2.1``."""
    return "/{region}/" + spec.path.strip("/")


def register_faults(
    formats: FaultFormats, regions: list[str], spec: ServiceSpec, body: FaultBody
) -> None:
    """Answer errors under every region's copy of ``spec`` in the service's own format."""
    root = spec.path.strip("/").split("/")[0]
    for region in regions:
        formats.register(f"/{region}/{root}", body)
