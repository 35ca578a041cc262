"""A create the backend refuses leaves no record behind: networks, subnets, groups, rules; a
network, subnet, port or group deleted while the backend makes it leaves nothing in the backend
either."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from interstack.backends.contract import NativeRef
from interstack.errors import NotFound
from interstack.services.container import Services
from interstack.services.listing import Page
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.port_records import PortCreate
from interstack.services.network.security_groups import GroupCreate
from interstack.services.network.sg_rules import RuleCreate
from interstack.services.network.subnets import SubnetCreate
from tests.support.holdings import new_since, sim_holdings
from tests.support.image import REGION, caller
from tests.support.network import refused


def test_refused_network_and_subnet_leave_no_record(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    carol = caller("carol-failing")
    networks, subnets = services.network.networks, services.network.subnets
    with refused(services, monkeypatch, "create_network"):
        networks.create(carol, REGION, NetworkCreate(name="refused"))
    assert [n.name for n in networks.list_page(carol, REGION, {}, Page())] == []

    network = networks.create(carol, REGION, NetworkCreate(name="kept"))
    with refused(services, monkeypatch, "create_subnet"):
        subnets.create(carol, REGION, SubnetCreate(network_id=network.id, cidr="10.9.0.0/24"))
    assert subnets.list_page(carol, REGION, {}, Page()) == []


def test_refused_group_and_rule_leave_no_record(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    dave = caller("dave-failing")
    groups = services.network.security_groups
    groups.ensure_default(REGION, "dave-failing")
    with refused(services, monkeypatch, "create_security_group"):
        groups.create(dave, REGION, GroupCreate(name="refused"))
    assert [g.name for g in groups.list_page(dave, REGION, {}, Page())] == ["default"]

    group = groups.create(dave, REGION, GroupCreate(name="kept"))
    with refused(services, monkeypatch, "set_security_group_rules"):
        groups.create_rule(
            dave, REGION, RuleCreate(security_group_id=group.id, direction="ingress")
        )
    assert len(groups.get(dave, REGION, group.id).rules) == 2  # the two egress rules only


@contextmanager
def deleted_while_made(
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    delete: Callable[[str], None],
) -> Iterator[None]:
    """Within, the backend's ``method`` makes what it is asked, then the row it was asked for
    is deleted through ``delete`` (a user's deletion, meanwhile), which finds no backend ref
    to delete yet; the create made there must fail with the row's 404, and leave nothing the
    backend did not hold before (it stayed there, named by nothing)."""
    backend = services.regions.backend(REGION)
    making = getattr(backend.network, method)
    held = sim_holdings(backend)

    def make(spec: Any) -> NativeRef:
        native: NativeRef = making(spec)
        delete(spec.gateway_id)
        return native

    with monkeypatch.context() as patch:
        patch.setattr(backend.network, method, make)
        with pytest.raises(NotFound):
            yield
    assert new_since(held, sim_holdings(backend)) == {}


def test_what_is_deleted_while_the_backend_makes_it_leaves_nothing_there(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    erin = caller("erin-deleting")
    network = services.network
    kept = network.networks.create(erin, REGION, NetworkCreate(name="kept"))
    network.ports.create(erin, REGION, PortCreate(network_id=kept.id))  # its default group made

    def delete_network(network_id: str) -> None:
        network.networks.delete(erin, REGION, network_id)

    with deleted_while_made(services, monkeypatch, "create_network", delete_network):
        network.networks.create(erin, REGION, NetworkCreate(name="n"))

    def delete_subnet(subnet_id: str) -> None:
        network.subnets.delete(erin, REGION, subnet_id)

    with deleted_while_made(services, monkeypatch, "create_subnet", delete_subnet):
        network.subnets.create(erin, REGION, SubnetCreate(network_id=kept.id, cidr="10.9.1.0/24"))

    def delete_port(port_id: str) -> None:
        network.ports.delete(erin, REGION, port_id)

    with deleted_while_made(services, monkeypatch, "create_port", delete_port):
        network.ports.create(erin, REGION, PortCreate(network_id=kept.id))

    def delete_group(group_id: str) -> None:
        network.security_groups.delete(erin, REGION, group_id)

    with deleted_while_made(services, monkeypatch, "create_security_group", delete_group):
        network.security_groups.create(erin, REGION, GroupCreate(name="g"))
    assert [n.name for n in network.networks.list_page(erin, REGION, {}, Page())] == ["kept"]
    assert network.subnets.list_page(erin, REGION, {}, Page()) == []
    assert len(network.ports.list_page(erin, REGION, {}, Page())) == 1
    groups = network.security_groups.list_page(erin, REGION, {}, Page())
    assert [g.name for g in groups] == ["default"]
