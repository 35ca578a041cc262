"""A create the backend refuses leaves no record behind: networks, subnets, groups, rules; a
subnet deleted while the backend makes it leaves nothing in the backend either."""

from __future__ import annotations

import pytest

from interstack.backends.contract import NativeRef, SubnetSpec
from interstack.errors import NotFound
from interstack.services.container import Services
from interstack.services.listing import Page
from interstack.services.network.networks import NetworkCreate
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


def test_a_subnet_deleted_while_the_backend_makes_it_leaves_nothing_there(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its deletion finds no backend ref to delete yet; the create, told the row is gone when
    it writes the ref, deletes the backend's subnet (it stayed there, named by nothing)."""
    erin = caller("erin-deleting")
    subnets = services.network.subnets
    network = services.network.networks.create(erin, REGION, NetworkCreate(name="n"))
    backend = services.regions.backend(REGION)
    cloud = backend.network
    making = cloud.create_subnet
    held = sim_holdings(backend)

    def create_subnet(spec: SubnetSpec) -> NativeRef:
        native = making(spec)
        subnets.delete(erin, REGION, spec.gateway_id)  # the user's deletion, meanwhile
        return native

    monkeypatch.setattr(cloud, "create_subnet", create_subnet)
    with pytest.raises(NotFound):
        subnets.create(erin, REGION, SubnetCreate(network_id=network.id, cidr="10.9.1.0/24"))
    assert subnets.list_page(erin, REGION, {}, Page()) == []
    assert new_since(held, sim_holdings(backend)) == {}
