"""What a module leaves on the shared local gateway is deleted before the next module on it
(:func:`.shared_cloud.empty_the_cloud`): the next one starts on a cloud holding only its
external network, so no address it asks for is held by a module before it.

openstacksdk against a served gateway whose region is ``local`` (this directory's conftest).
"""

from __future__ import annotations

from typing import Any

from tests.backends.local.cloud import routed_network
from tests.backends.local.shared_cloud import empty_the_cloud
from tests.support.gateway import ServedGateway
from tests.support.identity import unique


def made_by_a_module(conn: Any) -> None:
    """Routers with gateways and interfaces, a port, floating IPs (one on the port) and a
    network with two subnets, as a module leaves them."""
    network, _router = routed_network(conn, "10.97.0.0/24")
    public = next(n for n in conn.network.networks() if n.is_router_external)
    port = conn.network.create_port(network_id=network.id)
    conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
    conn.network.create_ip(floating_network_id=public.id)
    bare = conn.network.create_network(name=unique("left"))
    conn.network.create_subnet(network_id=bare.id, cidr="10.97.1.0/28", ip_version=4)
    conn.network.create_subnet(network_id=bare.id, cidr="10.97.2.0/28", ip_version=4)


def test_a_module_leaves_the_next_one_only_the_external_network(cloud: ServedGateway) -> None:
    conn, admin = cloud.connect("interstack"), cloud.connect("interstack-admin")
    made_by_a_module(conn)
    made_by_a_module(admin)
    public = next(n for n in admin.network.networks() if n.is_router_external)
    public_subnets = sorted(s.id for s in admin.network.subnets(network_id=public.id))

    empty_the_cloud(cloud)

    assert [n.id for n in admin.network.networks()] == [public.id]
    assert sorted(s.id for s in admin.network.subnets()) == public_subnets
    assert list(admin.network.routers()) == []
    assert list(admin.network.ips()) == []
    assert list(admin.network.ports()) == []
    # the cloud is usable after: the same addresses are free again
    made_by_a_module(conn)
    empty_the_cloud(cloud)
    assert [n.id for n in admin.network.networks()] == [public.id]
