"""Microversion negotiation: headers, latest, defaults, 400 and 406, response headers."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import Depends, FastAPI

from interstack.api.faults import FaultFormats, install_fault_handlers, nova_fault
from interstack.api.microversions import (
    APIVersion,
    MicroversionHeadersMiddleware,
    VersionRange,
    microversion,
)
from interstack.errors import BadRequest, NotAcceptable

COMPUTE = VersionRange(
    service_type="compute",
    minimum=APIVersion(2, 1),
    maximum=APIVersion(2, 79),
    default=APIVersion(2, 1),
    legacy_header="X-OpenStack-Nova-API-Version",
)


def test_parse_and_order() -> None:
    assert APIVersion.parse("2.10") > APIVersion.parse("2.9")
    assert str(APIVersion.parse(" 3.0 ")) == "3.0"
    for bad in ("2", "2.", "a.b", "2.01", "02.1", ""):
        with pytest.raises(BadRequest):
            APIVersion.parse(bad)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "2.1"),
        ({"openstack-api-version": "compute 2.27"}, "2.27"),
        ({"openstack-api-version": "volume 3.5, compute 2.60"}, "2.60"),
        ({"openstack-api-version": "volume 3.5"}, "2.1"),
        ({"x-openstack-nova-api-version": "2.2"}, "2.2"),
        ({"openstack-api-version": "compute 2.30", "x-openstack-nova-api-version": "2.2"}, "2.30"),
        ({"openstack-api-version": "compute latest"}, "2.79"),
        ({"x-openstack-nova-api-version": "LATEST"}, "2.79"),
    ],
)
def test_negotiate(headers: dict[str, str], expected: str) -> None:
    assert str(COMPUTE.negotiate(headers)) == expected


def test_out_of_range_is_not_acceptable() -> None:
    with pytest.raises(NotAcceptable, match=r"Minimum is 2\.1 and maximum is 2\.79"):
        COMPUTE.negotiate({"openstack-api-version": "compute 2.80"})
    with pytest.raises(NotAcceptable):
        COMPUTE.negotiate({"x-openstack-nova-api-version": "2.0"})


def test_default_must_lie_in_range() -> None:
    with pytest.raises(ValueError, match="default"):
        VersionRange("volume", APIVersion(3, 0), APIVersion(3, 70), APIVersion(2, 0))


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(MicroversionHeadersMiddleware)
    install_fault_handlers(app, FaultFormats(default=nova_fault), auth_uri="http://x")

    @app.get("/servers")
    def servers(version: APIVersion = Depends(microversion(COMPUTE))) -> dict[str, str]:  # noqa: B008
        return {"version": str(version)}

    return app


def _get(app: FastAPI, headers: dict[str, str]) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.get("/servers", headers=headers)

    return asyncio.run(call())


def test_served_headers_on_success_and_error() -> None:
    app = _app()
    ok = _get(app, {"OpenStack-API-Version": "compute 2.42"})
    assert ok.json() == {"version": "2.42"}
    assert ok.headers["openstack-api-version"] == "compute 2.42"
    assert ok.headers["x-openstack-nova-api-version"] == "2.42"
    assert "OpenStack-API-Version" in ok.headers["vary"]

    too_new = _get(app, {"X-OpenStack-Nova-API-Version": "2.200"})
    assert too_new.status_code == 406
    assert too_new.json()["notAcceptable"]["code"] == 406
    assert too_new.headers["openstack-api-version"] == "compute 2.1"

    malformed = _get(app, {"OpenStack-API-Version": "compute two"})
    assert malformed.status_code == 400
    assert "invalid format" in malformed.json()["badRequest"]["message"]
