"""Compute API version discovery and microversion negotiation.

Only v2.1 is served (v2.0, the same API without microversions, is not). The unversioned root
lists it; ``/v2.1`` describes it with ``min_version``/``version``, which clients read to negotiate.
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
        version["links"].append(
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}
        )
        version["media-types"] = [{"base": "application/json", "type": MEDIA_TYPE}]
    return version


async def list_versions(request: Request, region: Region) -> OrjsonResponse:
    """GET /<region>/compute/ — every served version (Nova answers 200, not 300)."""
    return json_response({"versions": [v21_version(service_url(request, region), detailed=False)]})


async def show_v21(request: Request, region: Region, _version: Microversion) -> OrjsonResponse:
    """GET /<region>/compute/v2.1 — the v2.1 document with its microversion range."""
    return json_response({"version": v21_version(service_url(request, region), detailed=True)})
