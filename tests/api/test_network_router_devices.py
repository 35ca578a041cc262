"""A router's ports are found by their device id, so a project may not give its own port a
router's device owner naming another project's router (Neutron's DeviceIDNotOwnedByTenant, 409):
such a port would pass for that router's interface (blocking the router's deletion) or its
gateway (shown as its external address); naming a router of its own stays allowed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.network import created, fault, neutron

OWNERS = ("network:router_interface", "network:router_gateway")


@pytest.fixture(scope="module")
def demo(gateway: ServedGateway, demo_token: str) -> Iterator[httpx.Client]:
    with neutron(gateway, demo_token) as api:
        yield api


@pytest.fixture(scope="module")
def their_network(strangers_neutron: httpx.Client) -> dict[str, Any]:
    network = created(
        strangers_neutron.post("/networks", json={"network": {"name": unique("planted")}}),
        "network",
    )
    body = {"network_id": network["id"], "cidr": "10.73.0.0/24", "ip_version": 4}
    created(strangers_neutron.post("/subnets", json={"subnet": body}), "subnet")
    return network


def _router(api: httpx.Client) -> dict[str, Any]:
    return created(api.post("/routers", json={"router": {"name": unique("r")}}), "router")


def _untouched(demo: httpx.Client, router: dict[str, Any]) -> None:
    """The victim's router shows no address of another project's and can be deleted."""
    shown = demo.get(f"/routers/{router['id']}").json()["router"]
    assert (shown["external_gateway_info"] or {}).get("external_fixed_ips", []) == []
    assert demo.delete(f"/routers/{router['id']}").status_code == 204


@pytest.mark.parametrize("owner", OWNERS)
def test_a_port_naming_another_projects_router_is_refused(
    demo: httpx.Client, strangers_neutron: httpx.Client, their_network: dict[str, Any], owner: str
) -> None:
    router = _router(demo)
    port = {"network_id": their_network["id"], "device_owner": owner, "device_id": router["id"]}
    refused = fault(strangers_neutron.post("/ports", json={"port": port}), 409)
    assert refused["type"] == "DeviceIDNotOwnedByTenant"
    assert router["id"] in refused["message"]
    _untouched(demo, router)


def test_an_update_naming_another_projects_router_is_refused(
    demo: httpx.Client, strangers_neutron: httpx.Client, their_network: dict[str, Any]
) -> None:
    router = _router(demo)
    port = created(
        strangers_neutron.post("/ports", json={"port": {"network_id": their_network["id"]}}), "port"
    )
    both = {"device_owner": OWNERS[0], "device_id": router["id"]}
    refused = fault(strangers_neutron.put(f"/ports/{port['id']}", json={"port": both}), 409)
    assert refused["type"] == "DeviceIDNotOwnedByTenant"
    # nor in two steps: the device first (an ordinary owner), then the router's owner
    named = strangers_neutron.put(
        f"/ports/{port['id']}",
        json={"port": {"device_owner": "compute:nova", "device_id": router["id"]}},
    )
    assert named.status_code == 200, named.text
    owner = {"device_owner": OWNERS[0]}
    refused = fault(strangers_neutron.put(f"/ports/{port['id']}", json={"port": owner}), 409)
    assert refused["type"] == "DeviceIDNotOwnedByTenant"
    kept = strangers_neutron.get(f"/ports/{port['id']}").json()["port"]
    assert kept["device_owner"] == "compute:nova"
    _untouched(demo, router)
    assert strangers_neutron.delete(f"/ports/{port['id']}").status_code == 204


def test_a_port_naming_a_router_of_its_own_project_is_allowed(
    strangers_neutron: httpx.Client, their_network: dict[str, Any]
) -> None:
    router = _router(strangers_neutron)
    port = {"network_id": their_network["id"], "device_owner": OWNERS[0], "device_id": router["id"]}
    made = created(strangers_neutron.post("/ports", json={"port": port}), "port")
    assert (made["device_owner"], made["device_id"]) == (OWNERS[0], router["id"])
    removed = strangers_neutron.put(
        f"/routers/{router['id']}/remove_router_interface", json={"port_id": made["id"]}
    )
    assert removed.status_code == 200, removed.text
    assert strangers_neutron.delete(f"/routers/{router['id']}").status_code == 204
