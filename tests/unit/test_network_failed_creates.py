"""A create the backend refuses leaves no record behind: networks, subnets, groups, rules."""

from __future__ import annotations

import pytest

from interstack.services.container import Services
from interstack.services.listing import Page
from interstack.services.network.networks import NetworkCreate
from interstack.services.network.security_groups import GroupCreate
from interstack.services.network.sg_rules import RuleCreate
from interstack.services.network.subnets import SubnetCreate
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
