"""Helpers for Glance tests: an HTTP client on a region's image endpoint, JSON-patch requests,
and the image services of an app built in the test process (for what only compute calls)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from interstack.app import create_app
from interstack.config import RegionConfig, Settings
from interstack.services.container import Services
from interstack.services.context import RequestContext
from tests.support.gateway import ServedGateway

REGION = "RegionOne"

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


def caller(project_id: str, *roles: str) -> RequestContext:
    """A caller of a project with the member role (or ``roles``), as a token would carry it."""
    issued = datetime.now(UTC)
    return RequestContext(
        user_id=f"user-{project_id}",
        user_name=f"user-{project_id}",
        user_domain_id="default",
        user_domain_name="Default",
        methods=("password",),
        expires_at=issued,
        issued_at=issued,
        audit_ids=(),
        project_id=project_id,
        roles=roles or ("member", "reader"),
    )


@contextmanager
def started_services(
    data_dir: Path, sim: Mapping[str, Any] | None = None, database: str | None = None
) -> Iterator[Services]:
    """The services of an app on ``data_dir`` with its region backends started (RegionOne on
    sim, with the ``sim`` settings if given), its store at ``database`` if given."""
    region = RegionConfig(name="RegionOne", backend="sim", settings=dict(sim or {}))
    app = create_app(Settings(data_dir=data_dir, database=database, regions=[region]))
    services: Services = app.state.services
    services.regions.start()
    try:
        yield services
    finally:
        services.regions.close()
