"""Image API version discovery: Glance answers its root with 300 Multiple Choices.

Glance v2 has no microversions; its minor versions name feature sets, and clients pick the
``CURRENT`` one. v2.7 (hidden images, multihash) is the newest whose calls are served here.
Of the optional calls of earlier versions, interoperable image import (``/v2/info/import``,
v2.6) is not implemented; clients find out from that path's 404, as with a Glance that has
import disabled.
"""

from __future__ import annotations

from typing import Any

from interstack.api.deps import ServicesDep
from interstack.api.regional import Region
from interstack.api.responses import OrjsonResponse, json_response

CURRENT = "v2.7"
SUPPORTED = ("v2.6", "v2.5", "v2.4", "v2.3", "v2.2", "v2.1", "v2.0")


def _versions(endpoint: str) -> list[dict[str, Any]]:
    link = [{"rel": "self", "href": f"{endpoint}/v2/"}]
    return [
        {"id": version, "status": "CURRENT" if version == CURRENT else "SUPPORTED", "links": link}
        for version in (CURRENT, *SUPPORTED)
    ]


async def list_versions(region: Region, services: ServicesDep) -> OrjsonResponse:
    """GET / — 300 with every version, as Glance answers its root."""
    endpoint = services.catalog.url_for("image", region)
    return json_response({"versions": _versions(endpoint)}, status=300)


async def show_versions(region: Region, services: ServicesDep) -> OrjsonResponse:
    """GET /versions — the same list with 200."""
    endpoint = services.catalog.url_for("image", region)
    return json_response({"versions": _versions(endpoint)})
