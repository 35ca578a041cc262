"""A router's gateway address as Neutron shows it (``external_fixed_ips``) is the address the
local backend gives the router on the external network and SNATs its subnets to.

openstacksdk against a served gateway whose region is ``local`` (this directory's conftest);
the router's namespace is looked at with ``ip`` and ``nft``, and the host pings the address on
its external bridge.
"""

from __future__ import annotations

import ipaddress
import subprocess
import uuid
from typing import Any

import pytest

from interstack.backends.local.network import links, names
from tests.backends.local.cloud import dhcp_leg
from tests.support.gateway import ServedGateway
from tests.support.local import in_netns
from tests.support.network import addresses_by_subnet, dhcp_ports


@pytest.fixture(scope="module")
def admin(cloud: ServedGateway) -> Any:
    return cloud.connect("interstack-admin")


def in_namespace(router_id: str, *command: str) -> str:
    return in_netns(names.ref(names.ROUTER, router_id), *command)


def test_the_routers_external_fixed_ip_is_its_address_and_snat_source(conn: Any) -> None:
    public = next(n for n in conn.network.networks() if n.is_router_external)
    network = conn.network.create_network(name=f"gw-{uuid.uuid4().hex[:6]}")
    subnet = conn.network.create_subnet(network_id=network.id, cidr="10.73.0.0/24", ip_version=4)
    router = conn.network.create_router(
        name=f"gw-{uuid.uuid4().hex[:6]}", external_gateway_info={"network_id": public.id}
    )
    conn.network.add_interface_to_router(router, subnet=subnet.id)
    try:
        fixed = router.external_gateway_info["external_fixed_ips"]
        assert len(fixed) == 1
        address = fixed[0]["ip_address"]

        addresses = in_namespace(router.id, "ip", "-4", "-o", "addr", "show")
        assert f" {address}/" in addresses
        rules = in_namespace(router.id, "nft", "list", "table", "ip", names.TABLE)
        assert f"snat to {address}" in rules
        # the host reaches the router at that address over the external bridge
        ping = subprocess.run(
            ["busybox", "ping", "-c", "1", "-W", "3", address],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert ping.returncode == 0, ping.stdout + ping.stderr
    finally:
        conn.network.remove_interface_from_router(router, subnet=subnet.id)
        conn.network.delete_router(router)
        conn.network.delete_network(network)


def free_address_from_the_top(admin: Any, network_id: str, pool: dict[str, str]) -> str:
    """The highest address of ``pool`` that no port and no floating IP holds (IPAM gives the
    external network's addresses at random, and a floating IP holds no port)."""
    held = {
        fixed["ip_address"]
        for port in admin.network.ports(network_id=network_id)
        for fixed in port.fixed_ips
    }
    held |= {fip.floating_ip_address for fip in admin.network.ips(floating_network_id=network_id)}
    first, last = ipaddress.IPv4Address(pool["start"]), ipaddress.IPv4Address(pool["end"])
    candidate = last
    while str(candidate) in held:
        candidate -= 1
        assert candidate >= first, f"the external pool {pool} is full"
    return str(candidate)


def test_a_gateway_address_asked_for_is_the_one_the_router_uses(admin: Any) -> None:
    """An admin may choose the gateway's address from the external subnet's pool: the backend
    takes that one too."""
    public = next(n for n in admin.network.networks() if n.is_router_external)
    subnet = next(admin.network.subnets(network_id=public.id))
    start = free_address_from_the_top(admin, public.id, subnet.allocation_pools[0])
    router = admin.network.create_router(
        name=f"gw-{uuid.uuid4().hex[:6]}",
        external_gateway_info={
            "network_id": public.id,
            "external_fixed_ips": [{"subnet_id": subnet.id, "ip_address": start}],
        },
    )
    try:
        assert router.external_gateway_info["external_fixed_ips"][0]["ip_address"] == start
        addresses = in_namespace(router.id, "ip", "-4", "-o", "addr", "show")
        assert f" {start}/" in addresses
    finally:
        admin.network.delete_router(router)


def test_the_external_network_has_no_tenant_bridge(conn: Any) -> None:
    """``public`` is the host's external bridge: no bridge of its own beside it."""
    public = next(n for n in conn.network.networks() if n.is_router_external)
    assert links.link_exists(names.EXTERNAL_BRIDGE)
    assert not links.link_exists(names.ref(names.NETWORK, public.id))
    tenant = conn.network.create_network(name=f"gw-{uuid.uuid4().hex[:6]}")
    try:
        assert links.link_exists(names.ref(names.NETWORK, tenant.id))
    finally:
        conn.network.delete_network(tenant)


def test_the_dhcp_namespace_wears_its_dhcp_ports_address_and_mac(conn: Any) -> None:
    """Tempest's subnets are /28s: the pool is every host but the gateway, and the DHCP server
    is on the address (and MAC) of its port, which IPAM gives no other port."""
    network = conn.network.create_network(name=f"gw-{uuid.uuid4().hex[:6]}")
    try:
        subnet = conn.network.create_subnet(
            network_id=network.id, cidr="10.74.0.0/28", ip_version=4
        )
        assert subnet.allocation_pools == [{"start": "10.74.0.2", "end": "10.74.0.14"}]
        (port,) = dhcp_ports(conn, network.id)
        address = port.fixed_ips[0]["ip_address"]
        dhcp = names.renamed(names.DHCP, names.ref(names.SUBNET, subnet.id))
        assert f" {address}/28 " in in_netns(dhcp, "ip", "-o", "addr", "show", names.DHCP_IFNAME)
        shown = in_netns(dhcp, "ip", "-o", "link", "show", names.DHCP_IFNAME)
        assert f"link/ether {port.mac_address} " in shown
        conn.network.update_subnet(subnet, enable_dhcp=False)
        assert not links.netns_exists(dhcp)
        conn.network.update_subnet(subnet, enable_dhcp=True)
        (again,) = dhcp_ports(conn, network.id)
        assert links.netns_exists(dhcp)
        shown = in_netns(dhcp, "ip", "-4", "-o", "addr", "show")
        assert f" {again.fixed_ips[0]['ip_address']}/28 " in shown
    finally:
        conn.network.delete_network(network)
    assert not links.netns_exists(dhcp)


def test_each_subnet_serves_dhcp_on_the_networks_dhcp_port_address_there(conn: Any) -> None:
    """One DHCP port per network, as Neutron's: each subnet's dnsmasq namespace is on the
    port's address on that subnet; the first wears the port's MAC, the second one of its own
    (a bridge cannot deliver one MAC to two legs), and it keeps serving when the first goes."""
    network = conn.network.create_network(name=f"gw-{uuid.uuid4().hex[:6]}")
    try:
        first = conn.network.create_subnet(network_id=network.id, cidr="10.75.0.0/28", ip_version=4)
        second = conn.network.create_subnet(
            network_id=network.id, cidr="10.75.1.0/28", ip_version=4
        )
        (port,) = dhcp_ports(conn, network.id)
        held = addresses_by_subnet(port)
        (first_addresses, first_mac), (second_addresses, second_mac) = (
            dhcp_leg(first.id),
            dhcp_leg(second.id),
        )
        assert f" {held[first.id]}/28 " in first_addresses
        assert f" {held[second.id]}/28 " in second_addresses
        assert first_mac == port.mac_address and second_mac != port.mac_address
        conn.network.delete_subnet(first)
        (kept,) = dhcp_ports(conn, network.id)
        assert kept.id == port.id and [ip["subnet_id"] for ip in kept.fixed_ips] == [second.id]
        assert f" {held[second.id]}/28 " in dhcp_leg(second.id)[0]
    finally:
        conn.network.delete_network(network)
