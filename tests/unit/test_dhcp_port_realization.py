"""The backend serves DHCP from the DHCP port the network service recorded, and a backend that
refuses leaves the record as it was: no port of a subnet never made, no half-made switch."""

from __future__ import annotations

from typing import Any

import pytest

from interstack.services.container import Services
from interstack.services.context import RequestContext
from interstack.services.listing import Page
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.records import NetworkInfo
from interstack.services.network.subnets import SubnetCreate
from tests.support.image import REGION, caller
from tests.support.network import refused

DHCP = "network:dhcp"


def _network(services: Services, project: str, name: str) -> tuple[RequestContext, NetworkInfo]:
    """A caller of ``project`` and a network of its own."""
    ctx = caller(project)
    return ctx, services.network.networks.create(ctx, REGION, NetworkCreate(name=name))


def _dhcp_ports(services: Services, ctx: RequestContext, network_id: str) -> list[Any]:
    filters = {"network_id": [network_id], "device_owner": [DHCP]}
    return services.network.ports.list_page(ctx, REGION, filters, Page())


def _calls(monkeypatch: pytest.MonkeyPatch, backend: Any, method: str) -> list[tuple[Any, ...]]:
    """The arguments of each call of the backend's ``method``, which still runs."""
    calls: list[tuple[Any, ...]] = []
    real = getattr(backend, method)

    def recording(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(backend, method, recording)
    return calls


def test_the_backend_gets_the_dhcp_ports_address_and_mac(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, network = _network(services, "erin-dhcp", "served")
    backend = services.regions.backend(REGION).network
    created = _calls(monkeypatch, backend, "create_subnet")
    switches = _calls(monkeypatch, backend, "set_subnet_dhcp")
    subnet = services.network.subnets.create(
        ctx, REGION, SubnetCreate(network_id=network.id, cidr="10.91.0.0/24")
    )
    (port,) = _dhcp_ports(services, ctx, network.id)
    ((spec,),) = created
    assert spec.dhcp and spec.dhcp_address == port.fixed_ips[0].ip_address
    assert spec.dhcp_mac == port.mac_address

    services.network.subnets.update(ctx, REGION, subnet.id, {"enable_dhcp": False})
    services.network.subnets.update(ctx, REGION, subnet.id, {"enable_dhcp": True})
    (again,) = _dhcp_ports(services, ctx, network.id)
    native = switches[0][0]
    assert switches == [
        (native, None, None),
        (native, again.fixed_ips[0].ip_address, again.mac_address),
    ]


def test_a_refused_subnet_or_switch_leaves_the_record_as_it_was(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, network = _network(services, "frank-dhcp", "refusing")
    subnets = services.network.subnets
    with refused(services, monkeypatch, "create_subnet"):
        subnets.create(ctx, REGION, SubnetCreate(network_id=network.id, cidr="10.92.0.0/24"))
    assert _dhcp_ports(services, ctx, network.id) == []
    assert subnets.list_page(ctx, REGION, {}, Page()) == []

    subnet = subnets.create(ctx, REGION, SubnetCreate(network_id=network.id, cidr="10.92.0.0/24"))
    (port,) = _dhcp_ports(services, ctx, network.id)
    with refused(services, monkeypatch, "set_subnet_dhcp"):
        subnets.update(ctx, REGION, subnet.id, {"enable_dhcp": False})
    assert subnets.get(ctx, REGION, subnet.id).enable_dhcp is True
    assert [p.id for p in _dhcp_ports(services, ctx, network.id)] == [port.id]

    subnets.update(ctx, REGION, subnet.id, {"enable_dhcp": False})
    with refused(services, monkeypatch, "set_subnet_dhcp"):
        subnets.update(ctx, REGION, subnet.id, {"enable_dhcp": True})
    assert subnets.get(ctx, REGION, subnet.id).enable_dhcp is False
    assert _dhcp_ports(services, ctx, network.id) == []


def test_each_subnet_of_a_network_is_served_from_the_one_dhcp_ports_address_on_it(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, network = _network(services, "gina-dhcp", "two")
    created = _calls(monkeypatch, services.regions.backend(REGION).network, "create_subnet")
    made = [
        services.network.subnets.create(ctx, REGION, SubnetCreate(network_id=network.id, cidr=cidr))
        for cidr in ("10.93.0.0/24", "10.93.1.0/24")
    ]
    (port,) = _dhcp_ports(services, ctx, network.id)
    held = {ip.subnet_id: ip.ip_address for ip in port.fixed_ips}
    assert [(s.dhcp_address, s.dhcp_mac) for (s,) in created] == [
        (held[subnet.id], port.mac_address) for subnet in made
    ]


def test_a_subnets_new_dns_servers_go_to_the_backend_or_stay_as_they_were(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, network = _network(services, "hugo-dhcp", "resolving")
    subnets = services.network.subnets
    subnet = subnets.create(ctx, REGION, SubnetCreate(network_id=network.id, cidr="10.94.0.0/24"))
    told = _calls(
        monkeypatch, services.regions.backend(REGION).network, "set_subnet_dns_nameservers"
    )

    subnets.update(ctx, REGION, subnet.id, {"dns_nameservers": ["10.94.1.53", "10.94.2.53"]})
    subnets.update(ctx, REGION, subnet.id, {"name": "renamed"})  # the servers did not change
    subnets.update(ctx, REGION, subnet.id, {"dns_nameservers": []})
    native = told[0][0]
    assert told == [(native, ("10.94.1.53", "10.94.2.53")), (native, ())]

    with refused(services, monkeypatch, "set_subnet_dns_nameservers"):
        subnets.update(ctx, REGION, subnet.id, {"dns_nameservers": ["10.94.3.53"]})
    assert subnets.get(ctx, REGION, subnet.id).dns_nameservers == ()
