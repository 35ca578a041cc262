"""A store made before networks had DHCP ports: at start-up each DHCP-enabled subnet without
an address on its network's DHCP port gets one, the address its DHCP server answers on when no
port holds it (nothing moves), another one of its pools (the server moved there) when a user's
port does. Seen with openstacksdk on a restarted sim gateway."""

from __future__ import annotations

from typing import Any

from interstack.store.models import SimResource, Subnet
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.network import addresses_by_subnet, dhcp_ports, forget_dhcp_ports


def _served_at(gateway: ServedGateway, subnet_id: str) -> Any:
    """Where the sim cloud's DHCP server of the subnet answers."""
    with gateway.store() as database, database.session() as session:
        native = session.get_one(Subnet, subnet_id).native_ref
        return session.get_one(SimResource, native).data["dhcp"]["address"]


def test_subnets_without_a_dhcp_port_get_one_at_start_up(restartable: ServedGateway) -> None:
    conn = restartable.connect("interstack")
    net = conn.network.create_network(name=unique("old-net"))
    kept = conn.network.create_subnet(network_id=net.id, cidr="10.88.0.0/24", ip_version=4)
    moved = conn.network.create_subnet(network_id=net.id, cidr="10.88.1.0/24", ip_version=4)
    plain = conn.network.create_subnet(
        network_id=net.id, cidr="10.88.2.0/24", ip_version=4, is_dhcp_enabled=False
    )
    old = {s.id: _served_at(restartable, s.id) for s in (kept, moved)}
    forget_dhcp_ports(restartable, net.id)
    assert list(conn.network.ports(network_id=net.id)) == []
    # a user's pool could give a port the address the DHCP server was on
    user = conn.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": old[moved.id]}])

    restartable.restart()
    conn = restartable.connect("interstack")
    (dhcp,) = dhcp_ports(conn, net.id)
    held = addresses_by_subnet(dhcp)
    assert set(held) == {kept.id, moved.id}
    assert held[kept.id] == old[kept.id] == _served_at(restartable, kept.id)
    assert held[moved.id] != old[moved.id]
    assert held[moved.id].startswith("10.88.1.")
    assert _served_at(restartable, moved.id) == held[moved.id]
    assert dhcp.device_id.endswith(f"-{net.id}") and plain.id not in held

    restartable.restart()  # nothing left to give: the same port
    conn = restartable.connect("interstack")
    (again,) = dhcp_ports(conn, net.id)
    assert (again.id, again.fixed_ips) == (dhcp.id, dhcp.fixed_ips)
    conn.network.delete_port(user)
    conn.network.delete_network(net)
