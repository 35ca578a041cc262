"""A router interface's removal (and Neutron's 400s about a port's subnets), in-process on the
sim cloud: refused while an extra route's next hop is on its subnet (Neutron's
RouterInterfaceInUseByRoute); still the router's if the cloud refuses to stop routing it; and
a floating IP associated through it meanwhile (the removal made from within the cloud's
association call) is undone, not left reaching its port through a router without an interface
on the port's subnet."""

from __future__ import annotations

from typing import Any

import pytest

from interstack.errors import BadRequest, Conflict, NotFound
from interstack.services.container import Services
from interstack.services.network.floating_ips import FloatingIpCreate
from interstack.services.network.ipam import IpRequest
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.ports import PortCreate
from interstack.services.network.routers import GatewayRequest, RouterCreate
from interstack.services.network.subnets import SubnetCreate
from tests.support.image import REGION, caller
from tests.support.network import refused


def test_an_interface_a_route_goes_through_stays(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    network, ctx = services.network, caller("route-race")
    private = network.networks.create(ctx, REGION, NetworkCreate(name="private"))
    subnet = network.subnets.create(
        ctx, REGION, SubnetCreate(network_id=private.id, cidr="10.32.0.0/24", enable_dhcp=False)
    )
    router = network.routers.create(ctx, REGION, RouterCreate(name="r"))
    network.router_interfaces.add(ctx, REGION, router.id, subnet.id, None)
    routes = {"routes": [("10.99.0.0/24", "10.32.0.9")]}
    network.routers.update(ctx, REGION, router.id, routes)
    with pytest.raises(Conflict) as caught:
        network.router_interfaces.remove(ctx, REGION, router.id, subnet.id, None)
    assert caught.value.kind == "RouterInterfaceInUseByRoute"
    assert "10.32.0.9" in caught.value.message
    # the cloud refuses to stop routing it: still the router's, removed once it answers
    network.routers.update(ctx, REGION, router.id, {"routes": []})
    with refused(services, monkeypatch, "remove_router_interface"):
        network.router_interfaces.remove(ctx, REGION, router.id, subnet.id, None)
    with pytest.raises(Conflict):
        network.routers.delete(ctx, REGION, router.id)
    network.router_interfaces.remove(ctx, REGION, router.id, subnet.id, None)
    network.routers.delete(ctx, REGION, router.id)


def test_an_association_through_an_interface_removed_meanwhile_is_undone(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    network = services.network
    admin, ctx = caller("admin-race", "admin", "member"), caller("fip-race")
    public = network.networks.create(admin, REGION, NetworkCreate(name="public", external=True))
    network.subnets.create(
        admin,
        REGION,
        SubnetCreate(network_id=public.id, cidr="198.51.100.0/24", enable_dhcp=False),
    )
    private = network.networks.create(ctx, REGION, NetworkCreate(name="private"))
    subnet = network.subnets.create(
        ctx, REGION, SubnetCreate(network_id=private.id, cidr="10.31.0.0/24", enable_dhcp=False)
    )
    router = network.routers.create(
        ctx, REGION, RouterCreate(name="r", gateway=GatewayRequest(network_id=public.id))
    )
    network.router_interfaces.add(ctx, REGION, router.id, subnet.id, None)
    port = network.ports.create(ctx, REGION, PortCreate(network_id=private.id))
    fip = network.floating_ips.create(ctx, REGION, FloatingIpCreate(floating_network_id=public.id))

    cloud = services.regions.backend(REGION).network
    associate = cloud.associate_floating_ip
    told: list[Any] = []

    def associating(ref: Any, port_ref: Any, fixed: str | None = None) -> None:
        told.append(port_ref)
        associate(ref, port_ref, fixed)
        if port_ref is not None:  # the interface goes while the cloud forwards
            network.router_interfaces.remove(ctx, REGION, router.id, subnet.id, None)

    monkeypatch.setattr(cloud, "associate_floating_ip", associating)
    with pytest.raises(NotFound) as caught:
        network.floating_ips.associate(ctx, REGION, fip.id, port.id)
    assert caught.value.kind == "ExternalGatewayForFloatingIPNotFound"

    assert told[-1] is None  # the cloud told to forward it nowhere again
    shown = network.floating_ips.get(ctx, REGION, fip.id)
    assert (shown.port_id, shown.router_id, shown.status) == (None, None, "DOWN")


def test_a_port_and_a_subnet_that_do_not_match_are_neutrons_400(services: Services) -> None:
    network, ctx = services.network, caller("mismatch")
    private = network.networks.create(ctx, REGION, NetworkCreate(name="private"))
    subnets = [
        network.subnets.create(
            ctx, REGION, SubnetCreate(network_id=private.id, cidr=cidr, enable_dhcp=False)
        )
        for cidr in ("10.33.0.0/24", "10.34.0.0/24")
    ]
    router = network.routers.create(ctx, REGION, RouterCreate(name="r"))
    # a port on both IPv4 subnets is no router's port (Neutron keeps one IPv4 subnet a port)
    both = network.ports.create(
        ctx,
        REGION,
        PortCreate(
            network_id=private.id,
            fixed_ips=tuple(IpRequest(subnet_id=s.id) for s in subnets),
        ),
    )
    with pytest.raises(BadRequest) as caught:
        network.router_interfaces.add(ctx, REGION, router.id, None, both.id)
    assert "multiple IPv4 subnets" in caught.value.message
    added = network.router_interfaces.add(ctx, REGION, router.id, subnets[0].id, None)
    with pytest.raises(BadRequest) as mismatch:
        network.router_interfaces.remove(ctx, REGION, router.id, subnets[1].id, added.port_id)
    assert mismatch.value.kind == "SubnetMismatchForPort"
    network.router_interfaces.remove(ctx, REGION, router.id, subnets[0].id, added.port_id)
    network.routers.delete(ctx, REGION, router.id)


def test_a_router_routes_no_prefix_two_ways(services: Services) -> None:
    """Neutron's overlap check counts the gateway network's subnets: an interface overlapping
    them, or a gateway whose network overlaps an interface, is a 400, nothing changed."""
    network, ctx = services.network, caller("overlap")
    admin = caller("admin-overlap", "admin", "member")
    public = network.networks.create(admin, REGION, NetworkCreate(name="pub", external=True))
    network.subnets.create(
        admin, REGION, SubnetCreate(network_id=public.id, cidr="192.0.2.0/24", enable_dhcp=False)
    )
    private = network.networks.create(ctx, REGION, NetworkCreate(name="private"))
    inside = network.subnets.create(
        ctx, REGION, SubnetCreate(network_id=private.id, cidr="192.0.2.0/25", enable_dhcp=False)
    )
    routed = network.routers.create(
        ctx, REGION, RouterCreate(name="out", gateway=GatewayRequest(network_id=public.id))
    )
    with pytest.raises(BadRequest) as caught:
        network.router_interfaces.add(ctx, REGION, routed.id, inside.id, None)
    assert "overlaps" in caught.value.message
    inner = network.routers.create(ctx, REGION, RouterCreate(name="in"))
    network.router_interfaces.add(ctx, REGION, inner.id, inside.id, None)
    with pytest.raises(BadRequest):
        network.routers.update(ctx, REGION, inner.id, {"gateway": GatewayRequest(public.id)})
    assert network.routers.get(ctx, REGION, inner.id).gateway_network_id is None
