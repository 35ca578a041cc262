"""How often a security group change reaches the backend: once per change, not twice.

The backend calls are recorded by wrapping the sim driver's two methods that apply a group's
rules; the sim backend's own record then shows that what it holds is the gateway's rule set.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete

from interstack.backends.contract import NativeRef, SecurityGroupRule, SecurityGroupSpec
from interstack.backends.sim.network import SimNetwork
from interstack.backends.sim.state import Kind
from interstack.errors import NotFound
from interstack.services.container import Services
from interstack.services.network.security_groups import GroupCreate
from interstack.services.network.sg_rules import RuleCreate
from interstack.store.models import SecurityGroup
from tests.support.group_turns import ingress_tcp, second_request_during_first_backend_call
from tests.support.image import REGION, caller


class Applications:
    """Each application of rules to the backend: ("create" | "set", rule count)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []


@pytest.fixture
def applied(services: Services, monkeypatch: pytest.MonkeyPatch) -> Applications:
    network = services.regions.backend(REGION).network
    assert isinstance(network, SimNetwork)
    record = Applications()
    create, set_rules = network.create_security_group, network.set_security_group_rules

    def recorded_create(spec: SecurityGroupSpec) -> NativeRef:
        record.calls.append(("create", len(spec.rules)))
        return create(spec)

    def recorded_set(ref: NativeRef, rules: tuple[SecurityGroupRule, ...]) -> None:
        record.calls.append(("set", len(rules)))
        set_rules(ref, rules)

    monkeypatch.setattr(network, "create_security_group", recorded_create)
    monkeypatch.setattr(network, "set_security_group_rules", recorded_set)
    return record


def _held_rules(services: Services, group_id: str) -> list[dict[str, Any]]:
    network = services.regions.backend(REGION).network
    assert isinstance(network, SimNetwork)
    with network.state.session() as session:
        held = network.state.by_gateway_id(session, Kind.SECURITY_GROUP, group_id)
        assert held is not None
        rules: list[dict[str, Any]] = held.data["rules"]
        return rules


def test_a_new_group_reaches_the_backend_once_with_its_rules(
    services: Services, applied: Applications
) -> None:
    alice = caller("alice-groups")
    services.network.security_groups.ensure_default(REGION, "alice-groups")
    applied.calls.clear()

    group = services.network.security_groups.create(alice, REGION, GroupCreate(name="web"))

    assert applied.calls == [("create", 2)]
    assert sorted(r["ethertype"] for r in _held_rules(services, group.id)) == [4, 6]


def test_a_new_rule_reaches_the_backend_once(services: Services, applied: Applications) -> None:
    alice = caller("alice-rules")
    groups = services.network.security_groups
    group = groups.create(alice, REGION, GroupCreate(name="ssh"))
    applied.calls.clear()

    rule = groups.create_rule(
        alice,
        REGION,
        RuleCreate(
            security_group_id=group.id,
            direction="ingress",
            protocol="tcp",
            port_range_min=22,
            port_range_max=22,
        ),
    )
    assert applied.calls == [("set", 3)]
    groups.delete_rule(alice, REGION, rule.id)
    assert applied.calls == [("set", 3), ("set", 2)]
    assert len(_held_rules(services, group.id)) == 2


def test_a_group_naming_itself_is_made_with_its_other_rules_then_given_all_once(
    services: Services, applied: Applications
) -> None:
    """The default group's ingress rules name the group, whose ref exists only once made; its
    egress rules come with the create (on aws: no revoke of EC2's egress rule to re-add it)."""
    default_id = services.network.security_groups.ensure_default(REGION, "bob-default")

    assert applied.calls == [("create", 2), ("set", 4)]
    held = _held_rules(services, default_id)
    assert len(held) == 4
    assert sum(1 for r in held if r["remote_group"] is not None) == 2


def test_two_rule_requests_at_once_leave_both_rules_on_the_backend(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second request's rule is written while the first request gives the backend the
    rules it read: the set given last is the newest (before, the first request's older set was
    given last and revoked the second rule on the backend, while the API showed it)."""
    alice = caller("alice-race")
    groups = services.network.security_groups
    group = groups.create(alice, REGION, GroupCreate(name="web"))
    network = services.regions.backend(REGION).network
    web = ingress_tcp(group.id, 80)
    with second_request_during_first_backend_call(
        network, monkeypatch, group.id, lambda: groups.create_rule(alice, REGION, web)
    ):
        groups.create_rule(alice, REGION, ingress_tcp(group.id, 22))

    held = _held_rules(services, group.id)
    assert sorted(r["port_min"] for r in held if r["port_min"] is not None) == [22, 80]
    assert len(held) == len(groups.get(alice, REGION, group.id).rules) == 4


def test_a_rule_create_during_a_rule_delete_leaves_the_backend_as_the_api_shows(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule's DELETE gives the backend the rules without it in the group's turn, then
    forgets it: a create meanwhile waits for that turn and gives the backend its rule and not
    the deleted one."""
    alice = caller("alice-delete-race")
    groups = services.network.security_groups
    group = groups.create(alice, REGION, GroupCreate(name="web"))
    ssh = groups.create_rule(alice, REGION, ingress_tcp(group.id, 22))
    network = services.regions.backend(REGION).network
    web = ingress_tcp(group.id, 80)
    with second_request_during_first_backend_call(
        network, monkeypatch, group.id, lambda: groups.create_rule(alice, REGION, web)
    ):
        groups.delete_rule(alice, REGION, ssh.id)

    held = _held_rules(services, group.id)
    assert [r["port_min"] for r in held if r["port_min"] is not None] == [80]
    assert len(held) == len(groups.get(alice, REGION, group.id).rules) == 3


def test_a_rule_naming_a_group_deleted_meanwhile_is_its_404_and_not_kept(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule's create naming a group the backend lacks, which is deleted between the create's
    look at it and its realization: the create is SecurityGroupNotFound (before, the store's
    NoResultFound, a 500) and its rule is not kept."""
    alice = caller("alice-remote-gone")
    groups = services.network.security_groups
    web = groups.create(alice, REGION, GroupCreate(name="web"))
    db_group = groups.create(alice, REGION, GroupCreate(name="db"))
    with services.db.session() as session:  # the backend lacks it: realized at its first use
        row = session.get(SecurityGroup, db_group.id)
        assert row is not None
        row.native_ref = None
    other_ref = groups._other_ref

    def deleted_first(region: str, other_id: str, seen: frozenset[str]) -> NativeRef:
        with services.db.session() as session:  # a deletion's last step, in another request
            session.execute(delete(SecurityGroup).where(SecurityGroup.id == other_id))
        return other_ref(region, other_id, seen)

    monkeypatch.setattr(groups, "_other_ref", deleted_first)
    rule = RuleCreate(web.id, "ingress", remote_group_id=db_group.id)
    with pytest.raises(NotFound) as gone:
        groups.create_rule(alice, REGION, rule)

    assert gone.value.kind == "SecurityGroupNotFound"
    assert len(groups.get(alice, REGION, web.id).rules) == 2
