"""Floating IP addresses chosen by Neutron's IPAM from the external subnet's allocation pools
(as a router's gateway address is), an admin's own choice honoured or refused with Neutron's
faults, and exhaustion as Neutron's 409."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.network import created, fault, neutron

#: a /29: gateway .1, pool .2 - .6
CIDR = "198.51.100.0/29"
POOL = {f"198.51.100.{n}" for n in range(2, 7)}


@pytest.fixture(scope="module")
def demo(gateway: ServedGateway, demo_token: str) -> Iterator[httpx.Client]:
    with neutron(gateway, demo_token) as api:
        yield api


def _external(neutron_admin: httpx.Client) -> tuple[str, dict[str, Any]]:
    body = {"network": {"name": unique("public"), "router:external": True}}
    network = created(neutron_admin.post("/networks", json=body), "network")
    subnet = {"network_id": network["id"], "cidr": CIDR, "ip_version": 4, "enable_dhcp": False}
    return network["id"], created(neutron_admin.post("/subnets", json={"subnet": subnet}), "subnet")


def _fip(api: httpx.Client, network_id: str, **extra: object) -> httpx.Response:
    return api.post(
        "/floatingips", json={"floatingip": {"floating_network_id": network_id, **extra}}
    )


def test_addresses_come_from_the_pool_never_the_gateway_until_exhausted(
    neutron_admin: httpx.Client, demo: httpx.Client
) -> None:
    network_id, subnet = _external(neutron_admin)
    assert subnet["gateway_ip"] == "198.51.100.1"
    first = created(_fip(demo, network_id), "floatingip")
    assert first["floating_ip_address"] != subnet["gateway_ip"]
    assert first["floating_ip_address"] in POOL
    rest = [created(_fip(demo, network_id), "floatingip") for _ in range(4)]
    addresses = {f["floating_ip_address"] for f in [first, *rest]}
    assert addresses == POOL
    exhausted = fault(_fip(demo, network_id), 409)
    assert exhausted["type"] == "IpAddressGenerationFailure"
    assert network_id in exhausted["message"]
    # a released address goes back to the pool
    assert demo.delete(f"/floatingips/{first['id']}").status_code == 204
    again = created(_fip(demo, network_id), "floatingip")
    assert again["floating_ip_address"] == first["floating_ip_address"]
    for fip in [again, *rest]:
        assert demo.delete(f"/floatingips/{fip['id']}").status_code == 204


def test_an_admin_may_name_the_address(neutron_admin: httpx.Client, demo: httpx.Client) -> None:
    network_id, subnet = _external(neutron_admin)
    named = created(
        _fip(neutron_admin, network_id, floating_ip_address="198.51.100.4"), "floatingip"
    )
    assert named["floating_ip_address"] == "198.51.100.4"
    assert named["floating_network_id"] == network_id
    in_use = fault(_fip(neutron_admin, network_id, floating_ip_address="198.51.100.4"), 409)
    assert in_use["type"] == "IpAddressAlreadyAllocated"
    gateway = fault(_fip(neutron_admin, network_id, floating_ip_address=subnet["gateway_ip"]), 409)
    assert gateway["type"] == "IpAddressAlreadyAllocated"
    outside = fault(_fip(neutron_admin, network_id, floating_ip_address="192.0.2.5"), 400)
    assert "192.0.2.5" in outside["message"]
    wrong_subnet = _fip(
        neutron_admin, network_id, floating_ip_address="192.0.2.5", subnet_id=subnet["id"]
    )
    fault(wrong_subnet, 400)
    fault(_fip(demo, network_id, floating_ip_address="198.51.100.5"), 403)
    # Neutron's IPAM holds the address: no port on the external network is given it
    port = {"network_id": network_id, "fixed_ips": [{"ip_address": "198.51.100.4"}]}
    taken = fault(neutron_admin.post("/ports", json={"port": port}), 409)
    assert taken["type"] == "IpAddressAlreadyAllocated"
    by_subnet = created(_fip(neutron_admin, network_id, subnet_id=subnet["id"]), "floatingip")
    assert by_subnet["floating_ip_address"] in POOL - {"198.51.100.4"}
    for fip in (named, by_subnet):
        assert neutron_admin.delete(f"/floatingips/{fip['id']}").status_code == 204
    assert neutron_admin.get("/floatingips", params={"floating_network_id": network_id}).json() == {
        "floatingips": []
    }


def test_concurrent_creates_share_out_the_pool(
    neutron_admin: httpx.Client, demo: httpx.Client
) -> None:
    network_id, _ = _external(neutron_admin)

    def create(_: int) -> httpx.Response:
        return _fip(demo, network_id)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(create, range(8)))
    ok = [r.json()["floatingip"] for r in responses if r.status_code == 201]
    failed = [r for r in responses if r.status_code != 201]
    assert {f["floating_ip_address"] for f in ok} == POOL and len(ok) == 5
    assert all(fault(r, 409)["type"] == "IpAddressGenerationFailure" for r in failed)
    for fip in ok:
        assert demo.delete(f"/floatingips/{fip['id']}").status_code == 204


def test_a_routers_gateway_stays_while_its_floating_ips_go_through_it(
    neutron_admin: httpx.Client, demo: httpx.Client
) -> None:
    """Set again on its network, the gateway keeps its port and address (as Neutron); moved to
    another external network or cleared while a floating IP goes through it, Neutron's 409."""
    network_id, _ = _external(neutron_admin)
    other_id, other_subnet = _external(neutron_admin)
    private = created(demo.post("/networks", json={"network": {"name": unique("n")}}), "network")
    body = {"network_id": private["id"], "cidr": "10.41.0.0/24", "ip_version": 4}
    subnet = created(demo.post("/subnets", json={"subnet": body}), "subnet")
    router = created(demo.post("/routers", json={"router": {"name": unique("r")}}), "router")
    path = f"/routers/{router['id']}"

    def gateway(network: str) -> httpx.Response:
        return demo.put(path, json={"router": {"external_gateway_info": {"network_id": network}}})

    first = gateway(network_id)
    assert first.status_code == 200, first.text
    (address,) = first.json()["router"]["external_gateway_info"]["external_fixed_ips"]
    again = gateway(network_id)
    assert again.status_code == 200, again.text
    assert again.json()["router"]["external_gateway_info"]["external_fixed_ips"] == [address]
    added = demo.put(f"{path}/add_router_interface", json={"subnet_id": subnet["id"]})
    assert added.status_code == 200, added.text
    port = created(demo.post("/ports", json={"port": {"network_id": private["id"]}}), "port")
    fip = created(_fip(demo, network_id, port_id=port["id"]), "floatingip")

    for refused in (
        gateway(other_id),
        demo.put(path, json={"router": {"external_gateway_info": {}}}),
    ):
        error = fault(refused, 409)
        assert error["type"] == "RouterExternalGatewayInUseByFloatingIp"
        assert network_id in error["message"]
    shown = demo.get(path).json()["router"]["external_gateway_info"]
    assert (shown["network_id"], shown["external_fixed_ips"]) == (network_id, [address])

    assert demo.delete(f"/floatingips/{fip['id']}").status_code == 204
    moved = gateway(other_id)
    assert moved.status_code == 200, moved.text
    (now_at,) = moved.json()["router"]["external_gateway_info"]["external_fixed_ips"]
    assert now_at["subnet_id"] == other_subnet["id"]
    removed = demo.put(f"{path}/remove_router_interface", json={"subnet_id": subnet["id"]})
    assert removed.status_code == 200, removed.text
    assert demo.put(path, json={"router": {"external_gateway_info": {}}}).status_code == 200
    assert demo.delete(path).status_code == 204
    assert demo.delete(f"/ports/{port['id']}").status_code == 204
    assert demo.delete(f"/networks/{private['id']}").status_code == 204
    for network in (network_id, other_id):
        assert neutron_admin.delete(f"/networks/{network}").status_code == 204
