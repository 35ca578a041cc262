"""A local host's subnets from before DHCP ports: at start-up each gets an address on its
network's DHCP port, its dnsmasq namespace's own if no port holds it (the namespace is left as
it is), else another, and the namespace moves there. openstacksdk against a restarted gateway
whose region is ``local`` (this directory's conftest); the namespaces are looked at with ``ip``.
"""

from __future__ import annotations

from tests.backends.local.cloud import dhcp_leg
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.local import host_lock_wait
from tests.support.network import addresses_by_subnet, dhcp_ports, forget_dhcp_ports


def test_old_subnets_get_their_dnsmasq_address_or_move_it(cloud: ServedGateway) -> None:
    conn = cloud.connect("interstack")
    net = conn.network.create_network(name=unique("old-local"))
    kept = conn.network.create_subnet(network_id=net.id, cidr="10.77.0.0/28", ip_version=4)
    moved = conn.network.create_subnet(network_id=net.id, cidr="10.77.1.0/28", ip_version=4)
    (port,) = dhcp_ports(conn, net.id)
    old = addresses_by_subnet(port)
    forget_dhcp_ports(cloud, net.id)
    user = conn.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": old[moved.id]}])

    cloud.stop()
    cloud.start(timeout=120 + host_lock_wait())
    conn = cloud.connect("interstack")
    (dhcp,) = dhcp_ports(conn, net.id)
    held = addresses_by_subnet(dhcp)
    assert held[kept.id] == old[kept.id]
    assert f" {old[kept.id]}/28 " in dhcp_leg(kept.id)[0]
    assert held[moved.id] != old[moved.id]
    on_moved = dhcp_leg(moved.id)[0]
    assert f" {held[moved.id]}/28 " in on_moved and f" {old[moved.id]}/" not in on_moved
    conn.network.delete_port(user)
    conn.network.delete_network(net)
