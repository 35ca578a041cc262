"""Identity API version discovery: Keystone v3 only (v2.0 was removed upstream)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from interstack.api.responses import OrjsonResponse, json_response

VERSION_ID = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPE = "application/vnd.openstack.identity-v3+json"


def _base(request: Request) -> str:
    url: str = request.app.state.services.settings.base_url
    return url


def v3_version(base_url: str) -> dict[str, Any]:
    return {
        "id": VERSION_ID,
        "status": "stable",
        "updated": UPDATED,
        "links": [{"rel": "self", "href": f"{base_url}/v3/"}],
        "media-types": [{"base": "application/json", "type": MEDIA_TYPE}],
    }


async def list_versions(request: Request) -> OrjsonResponse:
    """GET / — every identity version; 300 Multiple Choices as Keystone answers."""
    return json_response({"versions": {"values": [v3_version(_base(request))]}}, status=300)


async def show_v3(request: Request) -> OrjsonResponse:
    """GET /v3 — the v3 version document."""
    return json_response({"version": v3_version(_base(request))})
