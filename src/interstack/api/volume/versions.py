"""Block storage version discovery and microversion negotiation.

The unversioned root answers 300 with the one version it serves, v3.0, as Cinder does;
``/v3/`` answers 200 with the same document. Clients find the root by stripping the project id
and the version from the catalog URL (keystoneauth does), then choose v3 with its
``min_version``/``version`` range. No ``OpenStack-API-Version`` header means 3.0.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from interstack.api.microversions import APIVersion, VersionRange, microversion
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, json_response

VERSIONS = VersionRange(
    service_type="volume",
    minimum=APIVersion(3, 0),
    maximum=APIVersion(3, 60),
    default=APIVersion(3, 0),
)

#: negotiates once per request: every versioned route depends on it
negotiate = microversion(VERSIONS)

#: the negotiated microversion of a block storage request (400 malformed, 406 out of range)
Microversion = Annotated[APIVersion, Depends(negotiate)]

UPDATED = "2023-02-01T00:00:00Z"
MEDIA_TYPE = "application/vnd.openstack.volume+json;version=3"


def service_url(request: Request, region: str) -> str:
    """The block storage endpoint of ``region`` without version: ``<base>/<region>/volume``."""
    base: str = request.app.state.services.settings.base_url
    return f"{base.rstrip('/')}/{region}/volume"


def v3_version(root: str) -> dict[str, Any]:
    return {
        "id": "v3.0",
        "status": "CURRENT",
        "version": str(VERSIONS.maximum),
        "min_version": str(VERSIONS.minimum),
        "updated": UPDATED,
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": f"{root}/v3/"},
        ],
        "media-types": [{"base": "application/json", "type": MEDIA_TYPE}],
    }


async def list_versions(request: Request, region: Region) -> OrjsonResponse:
    """GET /<region>/volume/ — 300 Multiple Choices, as Cinder (and Tempest) have it."""
    return json_response({"versions": [v3_version(service_url(request, region))]}, status=300)


async def show_v3(request: Request, region: Region) -> OrjsonResponse:
    """GET /<region>/volume/v3/ — the v3 document with its microversion range."""
    return json_response({"versions": [v3_version(service_url(request, region))]})
