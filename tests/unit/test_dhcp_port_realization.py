"""The backend serves DHCP from the DHCP port the network service recorded, and a backend that
refuses leaves the record as it was: no port of a subnet never made, no half-made switch."""

from __future__ import annotations

from typing import Any

import pytest

from interstack.backends.contract import SubnetSpec
from interstack.errors import BackendUnavailable
from interstack.services.container import Services
from interstack.services.listing import Page
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.subnets import SubnetCreate
from tests.support.image import REGION, caller
from tests.support.network import refusing

DHCP = "network:dhcp"


def _dhcp_ports(services: Services, project: str, network_id: str) -> list[Any]:
    filters = {"network_id": [network_id], "device_owner": [DHCP]}
    return services.network.ports.list_page(caller(project), REGION, filters, Page())


def test_the_backend_gets_the_dhcp_ports_address_and_mac(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = caller("erin-dhcp")
    network = services.network.networks.create(ctx, REGION, NetworkCreate(name="served"))
    backend = services.regions.backend(REGION).network
    specs: list[SubnetSpec] = []
    switches: list[tuple[Any, ...]] = []
    real_create, real_switch = backend.create_subnet, backend.set_subnet_dhcp

    def create_subnet(spec: SubnetSpec) -> Any:
        specs.append(spec)
        return real_create(spec)

    def set_subnet_dhcp(*args: Any) -> None:
        switches.append(args)
        real_switch(*args)

    monkeypatch.setattr(backend, "create_subnet", create_subnet)
    monkeypatch.setattr(backend, "set_subnet_dhcp", set_subnet_dhcp)
    subnet = services.network.subnets.create(
        ctx, REGION, SubnetCreate(network_id=network.id, cidr="10.91.0.0/24")
    )
    (port,) = _dhcp_ports(services, "erin-dhcp", network.id)
    (spec,) = specs
    assert spec.dhcp and spec.dhcp_address == port.fixed_ips[0].ip_address
    assert spec.dhcp_mac == port.mac_address

    services.network.subnets.update(ctx, REGION, subnet.id, {"enable_dhcp": False})
    services.network.subnets.update(ctx, REGION, subnet.id, {"enable_dhcp": True})
    (again,) = _dhcp_ports(services, "erin-dhcp", network.id)
    native = switches[0][0]
    assert switches == [
        (native, None, None),
        (native, again.fixed_ips[0].ip_address, again.mac_address),
    ]


def test_a_refused_subnet_or_switch_leaves_the_record_as_it_was(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = caller("frank-dhcp")
    subnets = services.network.subnets
    network = services.network.networks.create(ctx, REGION, NetworkCreate(name="refusing"))
    with monkeypatch.context() as patch:
        refusing(services, patch, "create_subnet")
        with pytest.raises(BackendUnavailable):
            subnets.create(ctx, REGION, SubnetCreate(network_id=network.id, cidr="10.92.0.0/24"))
    assert _dhcp_ports(services, "frank-dhcp", network.id) == []
    assert subnets.list_page(ctx, REGION, {}, Page()) == []

    subnet = subnets.create(ctx, REGION, SubnetCreate(network_id=network.id, cidr="10.92.0.0/24"))
    (port,) = _dhcp_ports(services, "frank-dhcp", network.id)
    with monkeypatch.context() as patch:
        refusing(services, patch, "set_subnet_dhcp")
        with pytest.raises(BackendUnavailable):
            subnets.update(ctx, REGION, subnet.id, {"enable_dhcp": False})
    assert subnets.get(ctx, REGION, subnet.id).enable_dhcp is True
    assert [p.id for p in _dhcp_ports(services, "frank-dhcp", network.id)] == [port.id]

    subnets.update(ctx, REGION, subnet.id, {"enable_dhcp": False})
    with monkeypatch.context() as patch:
        refusing(services, patch, "set_subnet_dhcp")
        with pytest.raises(BackendUnavailable):
            subnets.update(ctx, REGION, subnet.id, {"enable_dhcp": True})
    assert subnets.get(ctx, REGION, subnet.id).enable_dhcp is False
    assert _dhcp_ports(services, "frank-dhcp", network.id) == []
