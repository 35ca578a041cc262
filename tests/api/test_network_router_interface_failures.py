"""An interface the cloud refuses to add leaves nothing: added by subnet, no port; added by
port, the port unbound again and held by no router (its project may delete it or add it again).
On a sim gateway whose cloud refuses interfaces on routers named ``doomed-*``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.network import created, fault, neutron, new_router, routed_subnets

REFUSING = {
    "regions": [
        {
            "name": "RegionOne",
            "backend": "sim",
            "settings": {"fail_on": {"add_router_interface": {"name": "doomed-*"}}},
        }
    ]
}


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    data: Path = tmp_path_factory.mktemp("refusing") / "data"
    with ServedGateway(data, config=REFUSING) as served:
        yield served


@pytest.fixture(scope="module")
def demo(refusing: ServedGateway) -> Iterator[httpx.Client]:
    with neutron(refusing, refusing.token("interstack")) as api:
        yield api


def _subnet(demo: httpx.Client) -> tuple[dict[str, Any], dict[str, Any]]:
    network = created(demo.post("/networks", json={"network": {"name": unique("n")}}), "network")
    body = {"network_id": network["id"], "cidr": "10.76.0.0/24", "ip_version": 4}
    return network, created(demo.post("/subnets", json={"subnet": body}), "subnet")


def test_a_refused_interface_by_subnet_leaves_no_port(
    refusing: ServedGateway, demo: httpx.Client
) -> None:
    network, subnet = _subnet(demo)
    router = new_router(demo, "doomed")
    path = f"/routers/{router['id']}"
    refused = demo.put(f"{path}/add_router_interface", json={"subnet_id": subnet["id"]})
    assert refused.status_code == 500, refused.text
    assert demo.get("/ports", params={"device_id": router["id"]}).json()["ports"] == []
    assert routed_subnets(refusing, router["id"]) == set()
    assert demo.delete(path).status_code == 204
    assert demo.delete(f"/networks/{network['id']}").status_code == 204


def test_a_refused_interface_by_port_leaves_the_port_unbound(
    refusing: ServedGateway, demo: httpx.Client
) -> None:
    network, subnet = _subnet(demo)
    port = created(demo.post("/ports", json={"port": {"network_id": network["id"]}}), "port")
    doomed = new_router(demo, "doomed")
    refused = demo.put(
        f"/routers/{doomed['id']}/add_router_interface", json={"port_id": port["id"]}
    )
    assert refused.status_code == 500, refused.text
    shown = demo.get(f"/ports/{port['id']}").json()["port"]
    assert (shown["device_owner"], shown["device_id"], shown["status"]) == ("", "", "DOWN")
    removed = demo.put(
        f"/routers/{doomed['id']}/remove_router_interface", json={"port_id": port["id"]}
    )
    assert fault(removed, 404)["type"] == "RouterInterfaceNotFound"
    assert demo.delete(f"/routers/{doomed['id']}").status_code == 204

    # unbound, it may be another router's interface
    router = new_router(demo, "fine")
    path = f"/routers/{router['id']}"
    added = demo.put(f"{path}/add_router_interface", json={"port_id": port["id"]})
    assert added.status_code == 200, added.text
    assert routed_subnets(refusing, router["id"]) == {subnet["id"]}
    removed = demo.put(f"{path}/remove_router_interface", json={"port_id": port["id"]})
    assert removed.status_code == 200, removed.text
    assert demo.delete(path).status_code == 204
    assert demo.delete(f"/networks/{network['id']}").status_code == 204
