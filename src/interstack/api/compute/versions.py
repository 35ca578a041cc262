"""Compute API version discovery and microversion negotiation.

The unversioned root lists v2.0 first, then v2.1, as every Nova does (Tempest checks the order);
``/v2.1`` describes v2.1 with ``min_version``/``version``, which clients read to negotiate. Only
v2.1's API is served: v2.0 (the same API without microversions) has its version document only,
and clients choose v2.1 as the newest of major version 2.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from interstack.api.microversions import APIVersion, VersionRange, microversion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, json_response

VERSIONS = VersionRange(
    service_type="compute",
    minimum=APIVersion(2, 1),
    maximum=APIVersion(2, 79),
    default=APIVersion(2, 1),
    legacy_header="X-OpenStack-Nova-API-Version",
)

#: negotiates once per request: every versioned route depends on it, handlers may read its result
negotiate = microversion(VERSIONS)

#: the negotiated microversion of a compute request (400 malformed, 406 out of range)
Microversion = Annotated[APIVersion, Depends(negotiate)]

UPDATED = "2013-07-23T11:33:21Z"
MEDIA_TYPE = "application/vnd.openstack.compute+json;version=2.1"
V20_UPDATED = "2011-01-21T11:33:21Z"
V20_MEDIA_TYPE = "application/vnd.openstack.compute+json;version=2"
DESCRIBED_BY = {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}


def service_url(request: Request, region: str) -> str:
    """The compute endpoint of ``region`` without the version: ``<base>/<region>/compute``."""
    base: str = request.app.state.services.settings.base_url
    return f"{base.rstrip('/')}/{region}/compute"


def v21_version(root: str, *, detailed: bool) -> dict[str, Any]:
    version: dict[str, Any] = {
        "id": "v2.1",
        "status": "CURRENT",
        "version": str(VERSIONS.maximum),
        "min_version": str(VERSIONS.minimum),
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{root}/v2.1/"}],
    }
    if detailed:
        version["links"].append(DESCRIBED_BY)
        version["media-types"] = [{"base": "application/json", "type": MEDIA_TYPE}]
    return version


def v20_version(root: str, *, detailed: bool) -> dict[str, Any]:
    version: dict[str, Any] = {
        "id": "v2.0",
        "status": "SUPPORTED",
        "version": "",
        "min_version": "",
        "updated": V20_UPDATED,
        "links": [{"rel": "self", "href": f"{root}/v2/"}],
    }
    if detailed:
        version["links"].append(DESCRIBED_BY)
        version["media-types"] = [{"base": "application/json", "type": V20_MEDIA_TYPE}]
    return version


async def list_versions(request: Request, region: Region) -> OrjsonResponse:
    """GET /<region>/compute/ — every version (Nova answers 200, not 300)."""
    root = service_url(request, region)
    return json_response(
        {"versions": [v20_version(root, detailed=False), v21_version(root, detailed=False)]}
    )


async def show_v20(request: Request, region: Region) -> OrjsonResponse:
    """GET /<region>/compute/v2 — the v2.0 document (no microversions)."""
    return json_response({"version": v20_version(service_url(request, region), detailed=True)})


async def show_v21(request: Request, region: Region, _version: Microversion) -> OrjsonResponse:
    """GET /<region>/compute/v2.1 — the v2.1 document with its microversion range."""
    return json_response({"version": v21_version(service_url(request, region), detailed=True)})
