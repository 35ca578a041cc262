"""A router's interface on another project's subnet (a shared network's, an external one's) is
an admin's to add, as Neutron (LP 1757482): a project's router would take that subnet's gateway
address, and every other project's instances on it would route through the router of whoever
attached first. By port alike when the port's address lies outside the subnet's pools (a
project chooses such an address on a shared network, the gateway address among them); one of
the pools is an instance's address, which Neutron lets a router's interface take. Nor does a
project choose an address of such a subnet for a port (the gateway's, a neighbour's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.network import (
    created,
    external_network,
    fault,
    new_port,
    new_router,
    routed_subnets,
)


@pytest.fixture(scope="module")
def shared(neutron_admin: httpx.Client) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The admin's shared network and its subnet (gateway 10.97.0.1, pool from .10)."""
    network = created(
        neutron_admin.post(
            "/networks", json={"network": {"name": unique("shared"), "shared": True}}
        ),
        "network",
    )
    body = {
        "network_id": network["id"],
        "cidr": "10.97.0.0/24",
        "ip_version": 4,
        "enable_dhcp": False,
        "allocation_pools": [{"start": "10.97.0.10", "end": "10.97.0.200"}],
    }
    subnet = created(neutron_admin.post("/subnets", json={"subnet": body}), "subnet")
    yield network, subnet
    neutron_admin.delete(f"/networks/{network['id']}")


def test_a_project_adds_no_interface_on_another_projects_subnet(
    gateway: ServedGateway,
    neutron_admin: httpx.Client,
    strangers_neutron: httpx.Client,
    shared: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    network, subnet = shared
    router = new_router(strangers_neutron)
    path = f"/routers/{router['id']}"
    by_subnet = strangers_neutron.put(
        f"{path}/add_router_interface", json={"subnet_id": subnet["id"]}
    )
    refused = fault(by_subnet, 400)
    assert subnet["id"] in refused["message"] and "not owned" in refused["message"]
    # the gateway address is still free: nothing took it
    assert neutron_admin.get("/ports", params={"network_id": network["id"]}).json()["ports"] == []
    # nor may it choose the gateway address for a port of its own on the shared network
    # (Neutron's create_port:fixed_ips:ip_address: the network's project or an admin only)
    gateway_ip = {"network_id": network["id"], "fixed_ips": [{"ip_address": subnet["gateway_ip"]}]}
    refused = fault(strangers_neutron.post("/ports", json={"port": gateway_ip}), 403)
    assert "fixed_ips:ip_address" in refused["message"]
    # by a port of its project on the gateway address (an admin made it): refused alike
    planted = str(
        created(
            neutron_admin.post(
                "/ports", json={"port": {**gateway_ip, "project_id": router["project_id"]}}
            ),
            "port",
        )["id"]
    )
    by_port = strangers_neutron.put(f"{path}/add_router_interface", json={"port_id": planted})
    refused = fault(by_port, 400)
    assert planted in refused["message"] and subnet["id"] in refused["message"]
    kept = strangers_neutron.get(f"/ports/{planted}").json()["port"]
    assert (kept["device_owner"], kept["device_id"]) == ("", "")
    assert routed_subnets(gateway, router["id"]) == set()
    # an address of the pools is an instance's, which a router may take as Neutron lets it
    in_pool = new_port(strangers_neutron, network["id"])["id"]
    added = strangers_neutron.put(f"{path}/add_router_interface", json={"port_id": in_pool})
    assert added.status_code == 200, added.text
    assert routed_subnets(gateway, router["id"]) == {subnet["id"]}
    removed = strangers_neutron.put(f"{path}/remove_router_interface", json={"port_id": in_pool})
    assert removed.status_code == 200, removed.text
    assert strangers_neutron.delete(f"/ports/{planted}").status_code == 204
    assert strangers_neutron.delete(path).status_code == 204


def test_a_project_adds_no_interface_on_an_external_subnet(
    neutron_admin: httpx.Client, strangers_neutron: httpx.Client
) -> None:
    public = external_network(neutron_admin)
    (subnet,) = neutron_admin.get("/subnets", params={"network_id": public["id"]}).json()["subnets"]
    router = new_router(strangers_neutron)
    path = f"/routers/{router['id']}"
    added = strangers_neutron.put(f"{path}/add_router_interface", json={"subnet_id": subnet["id"]})
    assert subnet["id"] in fault(added, 400)["message"]
    assert strangers_neutron.delete(path).status_code == 204
    assert neutron_admin.delete(f"/networks/{public['id']}").status_code == 204


def test_an_admin_adds_an_interface_on_any_projects_subnet(
    gateway: ServedGateway,
    neutron_admin: httpx.Client,
    strangers_neutron: httpx.Client,
    shared: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, subnet = shared
    router = new_router(strangers_neutron)
    path = f"/routers/{router['id']}"
    added = neutron_admin.put(f"{path}/add_router_interface", json={"subnet_id": subnet["id"]})
    assert added.status_code == 200, added.text
    assert routed_subnets(gateway, router["id"]) == {subnet["id"]}
    removed = neutron_admin.put(f"{path}/remove_router_interface", json={"subnet_id": subnet["id"]})
    assert removed.status_code == 200, removed.text
    assert strangers_neutron.delete(path).status_code == 204
