"""A local host's subnets from before DHCP ports: at start-up each gets an address on its
network's DHCP port, its dnsmasq namespace's own if no port holds it (the namespace is left as
it is), else another, and the namespace moves there. openstacksdk against a restarted gateway
whose region is ``local``; the namespaces are looked at with ``ip``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from interstack.backends.local.cleanup import cleanup_host
from interstack.backends.local.network import names
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.local import host_lock_wait, in_netns, local_settings, local_unavailable
from tests.support.network import forget_dhcp_ports

REGION = "RegionOne"


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[ServedGateway]:
    reason = local_unavailable()
    if reason is not None:
        pytest.skip(f"the local backend cannot run here: {reason}")
    data = tmp_path / "data"
    config = {"regions": [{"name": REGION, "backend": "local", "settings": local_settings()}]}
    served = ServedGateway(data, config=config).start(timeout=120 + host_lock_wait())
    yield served
    served.stop()
    cleanup_host([data / "backends" / REGION], lock_wait=host_lock_wait())


def dhcp_addresses(subnet_id: str) -> str:
    namespace = names.renamed(names.DHCP, names.ref(names.SUBNET, subnet_id))
    return in_netns(namespace, "ip", "-4", "-o", "addr", "show", names.DHCP_IFNAME)


def test_old_subnets_get_their_dnsmasq_address_or_move_it(cloud: ServedGateway) -> None:
    conn = cloud.connect("interstack")
    net = conn.network.create_network(name=unique("old-local"))
    kept = conn.network.create_subnet(network_id=net.id, cidr="10.77.0.0/28", ip_version=4)
    moved = conn.network.create_subnet(network_id=net.id, cidr="10.77.1.0/28", ip_version=4)
    (port,) = conn.network.ports(network_id=net.id, device_owner="network:dhcp")
    old = {ip["subnet_id"]: ip["ip_address"] for ip in port.fixed_ips}
    forget_dhcp_ports(cloud, net.id)
    user = conn.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": old[moved.id]}])

    cloud.stop()
    cloud.start(timeout=120 + host_lock_wait())
    conn = cloud.connect("interstack")
    (dhcp,) = conn.network.ports(network_id=net.id, device_owner="network:dhcp")
    held = {ip["subnet_id"]: ip["ip_address"] for ip in dhcp.fixed_ips}
    assert held[kept.id] == old[kept.id]
    assert f" {old[kept.id]}/28 " in dhcp_addresses(kept.id)
    assert held[moved.id] != old[moved.id]
    on_moved = dhcp_addresses(moved.id)
    assert f" {held[moved.id]}/28 " in on_moved and f" {old[moved.id]}/" not in on_moved
    conn.network.delete_port(user)
    conn.network.delete_network(net)
