"""A server's ports come in the order its networks were asked for (Nova's NIC order: the first
is the guest's first interface), brought ports and ports made for it mixed."""

from __future__ import annotations

from interstack.services.container import Services
from interstack.services.interfaces import RequestedNetwork
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.ports import PortCreate
from interstack.services.network.subnets import SubnetCreate
from tests.support.image import REGION, caller


def test_a_servers_ports_keep_the_order_asked_for(services: Services) -> None:
    network, ctx = services.network, caller("nic-order")
    ids = []
    for n in range(3):
        made = network.networks.create(ctx, REGION, NetworkCreate(name=f"n{n}"))
        cidr = f"10.5{n}.0.0/24"
        network.subnets.create(ctx, REGION, SubnetCreate(network_id=made.id, cidr=cidr))
        ids.append(made.id)
    brought = network.ports.create(ctx, REGION, PortCreate(network_id=ids[1]))
    requested = [
        RequestedNetwork(network_id=ids[0]),
        RequestedNetwork(port_id=brought.id),
        RequestedNetwork(network_id=ids[2]),
    ]
    ports = network.server_networking.allocate_for_server(ctx, REGION, "s-order", requested, [])
    assert [p.network_id for p in ports] == ids
    assert ports[1].port_id == brought.id
    network.server_networking.release_for_server(REGION, "s-order")
