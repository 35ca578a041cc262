"""The network service's ``ServerNetworking`` (what compute boots servers with), on every backend.

Runs the services layer over each conformance backend: ports made for a server, the server's
fixed and floating addresses, and release.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Literal

import pytest

from interstack.backends.contract import Backend
from interstack.errors import BadRequest, Conflict, InterstackError
from interstack.services.context import RequestContext
from interstack.services.interfaces import RequestedNetwork, ServerNetworking
from interstack.services.listing import Page
from interstack.services.network.floating_ips import FloatingIpCreate
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.ports import PortCreate
from interstack.services.network.routers import GatewayRequest, RouterCreate
from interstack.services.network.service import NetworkServices
from interstack.services.network.subnets import SubnetCreate

REGION = "conformance"


def _network(services: NetworkServices, ctx: RequestContext, cidr: str, name: str = "") -> str:
    net = services.networks.create(ctx, REGION, NetworkCreate(name=name or f"net-{cidr}"))
    services.subnets.create(ctx, REGION, SubnetCreate(network_id=net.id, cidr=cidr))
    return net.id


@pytest.mark.requires("networks", "security_groups")
def test_auto_allocates_a_port_on_the_one_network_and_release_deletes_it(
    services: NetworkServices, project: Callable[..., RequestContext]
) -> None:
    networking: ServerNetworking = services.server_networking
    ctx = project()
    network_id = _network(services, ctx, "10.10.0.0/24", "private")
    ports = networking.allocate_for_server(ctx, REGION, "server-1", "auto", ["default"])
    (port,) = ports
    assert port.network_id == network_id and port.fixed_ips[0].startswith("10.10.0.")
    assert port.native_ref is not None
    shown = services.ports.get(ctx, REGION, port.port_id)
    assert shown.device_id == "server-1" and shown.device_owner.startswith("compute:")
    addresses = networking.addresses(REGION, ["server-1", "server-2"])
    assert [(a.network_name, a.address, a.kind, a.version) for a in addresses["server-1"]] == [
        ("private", port.fixed_ips[0], "fixed", 4)
    ]
    assert addresses["server-2"] == []
    networking.release_for_server(REGION, "server-1")
    networking.release_for_server(REGION, "server-1")  # idempotent
    assert networking.addresses(REGION, ["server-1"])["server-1"] == []
    assert networking.allocate_for_server(ctx, REGION, "server-3", "none", []) == []


@pytest.mark.requires("networks")
def test_no_network_named_uses_the_only_one(
    services: NetworkServices, project: Callable[..., RequestContext]
) -> None:
    """As Nova: ``auto`` refuses when there is no network, no request at all (before 2.37)
    allocates nothing then; one network is used; several are Nova's 409."""
    ctx = project()
    allocate = services.server_networking.allocate_for_server
    with pytest.raises(BadRequest):
        allocate(ctx, REGION, "s", "auto", [])
    assert allocate(ctx, REGION, "s", [], []) == []
    choices: list[Literal["auto"] | list[RequestedNetwork]] = ["auto", []]
    only = _network(services, ctx, "10.11.0.0/24")
    for requested in choices:
        (port,) = allocate(ctx, REGION, f"s-{len(requested)}", requested, [])
        assert port.network_id == only
    _network(services, ctx, "10.12.0.0/24")
    for requested in choices:
        with pytest.raises(Conflict, match="Multiple possible networks"):
            allocate(ctx, REGION, "s", requested, [])


@pytest.mark.requires("networks", "security_groups")
def test_a_failure_leaves_nothing_allocated(
    services: NetworkServices, project: Callable[..., RequestContext]
) -> None:
    ctx = project()
    good = _network(services, ctx, "10.13.0.0/24")
    brought = services.ports.create(ctx, REGION, PortCreate(network_id=good))
    requested = [
        RequestedNetwork(network_id=good),
        RequestedNetwork(port_id=brought.id),
        RequestedNetwork(network_id=str(uuid.uuid4())),
    ]
    with pytest.raises(InterstackError):
        services.server_networking.allocate_for_server(ctx, REGION, "s", requested, [])
    listed = services.ports.list_page(ctx, REGION, {"network_id": [good]}, Page())
    remaining = [p for p in listed if p.device_owner != "network:dhcp"]
    assert [p.id for p in remaining] == [brought.id]
    assert remaining[0].device_id == ""
    with pytest.raises(InterstackError):
        services.server_networking.allocate_for_server(
            ctx, REGION, "s", [RequestedNetwork(network_id=good)], ["no-such-group"]
        )


@pytest.mark.requires("networks", "security_groups", "floating_ips")
def test_floating_ip_shows_in_the_addresses_and_release_keeps_brought_ports(
    services: NetworkServices, backend: Backend, project: Callable[..., RequestContext]
) -> None:
    admin = project("admin", "member", "reader")
    public = services.networks.create(admin, REGION, NetworkCreate(name="public", external=True))
    # a cloud with an external network of its own gives floating IPs only from its range
    own = backend.network.external_network()
    services.subnets.create(
        admin,
        REGION,
        SubnetCreate(network_id=public.id, cidr="203.0.113.0/24", enable_dhcp=False)
        if own is None
        else SubnetCreate(
            network_id=public.id,
            cidr=own.cidr,
            gateway_ip=own.gateway_ip,
            enable_dhcp=False,
            allocation_pools=(own.allocation_pool,),
        ),
    )
    ctx = project()
    net = _network(services, ctx, "10.14.0.0/24", "private")
    subnet_id = services.networks.get(ctx, REGION, net).subnet_ids[0]
    router = services.routers.create(
        ctx, REGION, RouterCreate(name="r", gateway=GatewayRequest(network_id=public.id))
    )
    services.router_interfaces.add(ctx, REGION, router.id, subnet_id, None)
    brought = services.ports.create(ctx, REGION, PortCreate(network_id=net))
    (port,) = services.server_networking.allocate_for_server(
        ctx, REGION, "server-9", [RequestedNetwork(port_id=brought.id)], []
    )
    fip = services.floating_ips.create(
        ctx, REGION, FloatingIpCreate(floating_network_id=public.id, port_id=port.port_id)
    )
    kinds = {
        (a.kind, a.address)
        for a in services.server_networking.addresses(REGION, ["server-9"])["server-9"]
    }
    assert kinds == {("fixed", port.fixed_ips[0]), ("floating", fip.floating_ip_address)}
    services.server_networking.release_for_server(REGION, "server-9")
    kept = services.ports.get(ctx, REGION, brought.id)
    assert kept.device_id == ""
    # Nova only unbinds a port the user brought: its floating IP stays associated
    assert services.floating_ips.get(ctx, REGION, fip.id).port_id == brought.id
