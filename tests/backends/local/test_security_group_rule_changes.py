"""A security group's rules change while other requests make ports (the local network driver).

The first server of a project realizes its ``default`` group, whose rules name the group itself,
so they are set once the group exists (``set_security_group_rules``); Tempest boots servers of
other projects at the same time. After the change the connections of the group's ports are
forgotten (judged again by the new rules): those ports are read with the change, under the
driver's lock, never from its port table while another request adds to it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

import pytest

from interstack.backends.contract import AddressPair, FixedIp, PortSpec, SecurityGroupRule
from interstack.backends.local.network import conntrack
from interstack.backends.local.network.state import PortRecord
from tests.backends.local.lab import ALL_EGRESS, INGRESS, Lab
from tests.backends.local.stand_ins import can_create_namespaces

_reason = can_create_namespaces()
pytestmark = pytest.mark.skipif(_reason is not None, reason=_reason or "")

TCP_8080 = SecurityGroupRule(INGRESS, protocol="tcp", port_min=8080, port_max=8080)


def test_a_port_made_while_a_groups_rules_change_breaks_nothing(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another request makes a port between the change and the forgetting of connections (the
    driver's lock is free there). The port table was read then: the change failed with
    "dictionary changed size during iteration", a 500 of ``POST /servers``."""
    net, subnet = lab.network("10.91.15.0/24")
    group = lab.group(ALL_EGRESS)
    lab.port(net, subnet, "10.91.15.10", (group,))
    forget = lab.driver._forget_connections
    made_meanwhile: list[str] = []

    def another_port_first(ports: Sequence[PortRecord]) -> None:
        other = threading.Thread(
            target=lambda: made_meanwhile.append(lab.port(net, subnet, "10.91.15.11", (group,))[0])
        )
        other.start()
        other.join(30)  # a bound: a driver held by the change would keep the other waiting
        forget(ports)

    monkeypatch.setattr(lab.driver, "_forget_connections", another_port_first)
    lab.driver.set_security_group_rules(group, (ALL_EGRESS, TCP_8080))

    assert len(made_meanwhile) == 1
    monkeypatch.undo()
    # the change was made whole: setting the same rules again is a repeat
    lab.driver.set_security_group_rules(group, (ALL_EGRESS, TCP_8080))


def test_a_rule_change_forgets_the_connections_of_address_pairs_too(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The addresses of a port's allowed address pairs are its own: their connections are
    judged again like those of its fixed IPs (the ports were read once, for the fixed IPs
    only, and the pairs' connections kept passing under rules that no longer allowed them)."""
    net, subnet = lab.network("10.91.16.0/24")
    group = lab.group(ALL_EGRESS)
    lab.driver.create_port(
        PortSpec(
            str(uuid.uuid4()),
            net,
            "fa:16:3e:5f:00:01",
            (FixedIp(subnet, "10.91.16.10"),),
            (group,),
            (AddressPair("10.91.16.200"),),
        )
    )
    forgotten: list[str] = []
    monkeypatch.setattr(conntrack, "forget", forgotten.extend)

    lab.driver.set_security_group_rules(group, (ALL_EGRESS, TCP_8080))

    assert sorted(forgotten) == ["10.91.16.10", "10.91.16.200"]
