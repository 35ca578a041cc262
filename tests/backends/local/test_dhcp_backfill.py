"""A local host's subnets from before DHCP ports: after a start each gets an address on its
network's DHCP port, its dnsmasq namespace's own if no port holds it (the namespace is left as
it is), else another, and the namespace moves there. The start only queues that work for the
task runner (5342d24), so the test waits for it, bounded. openstacksdk against a restarted gateway
whose region is ``local`` (this directory's conftest); the namespaces are looked at with ``ip``.
"""

from __future__ import annotations

import subprocess

from tests.backends.local.cloud import dhcp_leg
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.local import host_lock_wait
from tests.support.network import addresses_by_subnet, dhcp_ports, forget_dhcp_ports
from tests.support.waiting import eventually


def _leg_addresses(subnet_id: str) -> str:
    """The subnet's DHCP leg's addresses, or "" while its namespace is being made anew."""
    try:
        return dhcp_leg(subnet_id)[0]
    except subprocess.CalledProcessError:
        return ""


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
    (dhcp,) = eventually(
        lambda: dhcp_ports(conn, net.id),
        lambda found: len(found) == 1 and len(found[0].fixed_ips) == 2,
        "the DHCP port holding an address on both subnets",
    )
    held = addresses_by_subnet(dhcp)
    assert held[kept.id] == old[kept.id]
    assert f" {old[kept.id]}/28 " in dhcp_leg(kept.id)[0]
    assert held[moved.id] != old[moved.id]
    eventually(
        lambda: _leg_addresses(moved.id),
        lambda leg: f" {held[moved.id]}/28 " in leg and f" {old[moved.id]}/" not in leg,
        "the moved subnet's dnsmasq namespace on its new address",
    )
    conn.network.delete_port(user)
    conn.network.delete_network(net)
