"""What a module leaves on the shared local gateway is deleted before the next module on it
(:func:`.shared_cloud.empty_the_cloud`): the next one starts on a cloud holding only its
external network, so no address it asks for is held by a module before it.

openstacksdk against a served gateway whose region is ``local`` (this directory's conftest);
a next module of other settings gets a gateway of its own at once (a stand-in gateway).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from tests.backends.local.cloud import routed_network
from tests.backends.local.shared_cloud import SharedCloud, empty_the_cloud
from tests.support.gateway import ServedGateway
from tests.support.identity import unique


def made_by_a_module(conn: Any) -> Any:
    """Routers with gateways and interfaces, a port, floating IPs (one on the port) and a
    network with two subnets, as a module leaves them; the routed network."""
    network, _router = routed_network(conn, "10.97.0.0/24")
    public = next(n for n in conn.network.networks() if n.is_router_external)
    port = conn.network.create_port(network_id=network.id)
    conn.network.create_ip(floating_network_id=public.id, port_id=port.id)
    conn.network.create_ip(floating_network_id=public.id)
    bare = conn.network.create_network(name=unique("left"))
    conn.network.create_subnet(network_id=bare.id, cidr="10.97.1.0/28", ip_version=4)
    conn.network.create_subnet(network_id=bare.id, cidr="10.97.2.0/28", ip_version=4)
    return network


def made_elsewhere_by_a_module(conn: Any) -> None:
    """Two security groups whose rules name each other (as the LAMP stack's web and database
    groups do), a keypair, a volume with a snapshot and a bare volume."""
    group = conn.network.create_security_group(name=unique("left"))
    conn.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", protocol="tcp", port_range_min=22,
        port_range_max=22, remote_ip_prefix="0.0.0.0/0",
    )  # fmt: skip
    other = conn.network.create_security_group(name=unique("left"))
    for mine, theirs in ((group, other), (other, group)):
        conn.network.create_security_group_rule(
            security_group_id=mine.id, direction="ingress", protocol="tcp", port_range_min=3306,
            port_range_max=3306, remote_group_id=theirs.id,
        )  # fmt: skip
    conn.compute.create_keypair(name=unique("left"))
    for name in (unique("left"), unique("left")):
        conn.block_storage.create_volume(name=name, size=1)
    volume = conn.block_storage.wait_for_status(
        conn.block_storage.find_volume(name), "available", wait=120
    )
    snapshot = conn.block_storage.create_snapshot(volume_id=volume.id, name=unique("left"))
    conn.block_storage.wait_for_status(snapshot, "available", wait=120)


def test_a_module_leaves_the_next_one_only_the_external_network(cloud: ServedGateway) -> None:
    conn, admin = cloud.connect("interstack"), cloud.connect("interstack-admin")
    routed = made_by_a_module(conn)
    made_by_a_module(admin)
    conn.create_server(
        name=unique("left"),
        image="debian-12",
        flavor="m1.tiny",
        network=routed.id,
        auto_ip=True,
        wait=True,
        timeout=600,
    )
    public = next(n for n in admin.network.networks() if n.is_router_external)
    public_subnets = sorted(s.id for s in admin.network.subnets(network_id=public.id))
    defaults = sorted(g.id for g in admin.network.security_groups() if g.name == "default")
    made_elsewhere_by_a_module(conn)
    made_elsewhere_by_a_module(admin)

    empty_the_cloud(cloud)

    assert [n.id for n in admin.network.networks()] == [public.id]
    assert sorted(s.id for s in admin.network.subnets()) == public_subnets
    assert list(admin.network.routers()) == []
    assert list(admin.network.ips()) == []
    assert list(admin.network.ports()) == []
    assert list(admin.compute.servers(all_projects=True)) == []
    assert sorted(g.id for g in admin.network.security_groups()) == defaults
    assert list(admin.block_storage.volumes(all_projects=True)) == []
    assert list(admin.block_storage.snapshots(all_projects=True)) == []
    assert list(conn.compute.keypairs()) == list(admin.compute.keypairs()) == []
    # the cloud is usable after: the same addresses are free again
    made_by_a_module(conn)
    empty_the_cloud(cloud)
    assert [n.id for n in admin.network.networks()] == [public.id]


class StandInGateway:
    """A running gateway's stand-in: any call to it but its process's poll fails the test."""

    process = SimpleNamespace(poll=lambda: None)  # still running

    def connect(self, cloud: str) -> Any:
        raise AssertionError(f"the gateway was called ({cloud}) while it was to be stopped")


def test_a_next_module_of_other_settings_stops_the_gateway_without_emptying_it() -> None:
    """Its servers are not deleted through the API (nor waited for): the host's clean-up
    stops them."""
    shared, stopped = SharedCloud(), []
    served = cast(ServedGateway, StandInGateway())
    shared.take({"a": 1}, lambda config: (served, lambda: stopped.append(config)))
    shared.next_config = {"a": 2}
    shared.module_done()
    assert stopped == [{"a": 1}] and shared.served is None
