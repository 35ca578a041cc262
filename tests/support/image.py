"""Helpers for Glance tests: an HTTP client on a region's image endpoint, JSON-patch requests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.gateway import ServedGateway

PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
OCTETS = {"Content-Type": "application/octet-stream"}


def image_client(gateway: ServedGateway, token: str, region: str = "RegionOne") -> httpx.Client:
    return httpx.Client(
        base_url=f"{gateway.url}/{region}/image",
        headers={"X-Auth-Token": token},
        timeout=120,
    )


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"disk_format": "raw", "container_format": "bare", **fields}
    response = api.post("/v2/images", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def upload(api: httpx.Client, image_id: str, data: bytes) -> None:
    response = api.put(f"/v2/images/{image_id}/file", content=data, headers=OCTETS)
    assert response.status_code == 204, response.text


def patch(api: httpx.Client, image_id: str, *ops: dict[str, Any]) -> httpx.Response:
    return api.patch(f"/v2/images/{image_id}", json=list(ops), headers=PATCH)


def assert_glance_fault(response: httpx.Response, status: int, phrase: str) -> str:
    """Glance's webob body: ``{"code": "404 Not Found", "title": ..., "message": ...}``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == f"{status} {phrase}" and body["title"] == phrase, body
    message: str = body["message"]
    assert message
    return message
