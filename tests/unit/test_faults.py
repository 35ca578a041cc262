"""Each service's own fault body, chosen by path prefix; no trace ever in a response."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from interstack.api.faults import (
    FaultFormats,
    glance_fault,
    install_fault_handlers,
    keystone_fault,
    neutron_fault,
    nova_fault,
    swift_fault,
)
from interstack.errors import Conflict, NotFound


def _app() -> FastAPI:
    formats = FaultFormats(default=keystone_fault)
    formats.register("/R/compute", nova_fault)
    formats.register("/R/network", neutron_fault)
    formats.register("/R/image", glance_fault)
    formats.register("/R/object", swift_fault)
    app = FastAPI()
    install_fault_handlers(app, formats, auth_uri="http://gw")

    @app.get("/R/{service}/missing")
    def missing(service: str) -> None:
        raise NotFound(f"No such thing in {service} <here>.")

    @app.get("/R/network/exhausted")
    def exhausted() -> None:
        raise Conflict("No more IP addresses available.", kind="IpAddressGenerationFailure")

    @app.get("/R/compute/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    return app


def _get(path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.get(path)

    return asyncio.run(call())


def test_each_service_gets_its_own_format() -> None:
    assert _get("/R/identity/missing").json()["error"]["code"] == 404
    assert _get("/R/compute/missing").json()["itemNotFound"]["code"] == 404
    assert _get("/R/network/missing").json()["NeutronError"]["type"] == "HTTPNotFound"
    assert _get("/R/image/missing").json()["code"] == "404 Not Found"
    swift = _get("/R/object/missing")
    assert swift.status_code == 404
    assert swift.headers["content-type"].startswith("text/html")
    assert "&lt;here&gt;" in swift.text


def test_neutron_carries_the_specific_type() -> None:
    response = _get("/R/network/exhausted")
    assert response.status_code == 409
    assert response.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"


def test_unexpected_errors_are_generic_500s() -> None:
    response = _get("/R/compute/boom")
    assert response.status_code == 500
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["computeFault"]["code"] == 500


def test_unknown_route_is_404_in_the_service_format() -> None:
    assert _get("/R/compute/nothing/here").json()["itemNotFound"]["code"] == 404
