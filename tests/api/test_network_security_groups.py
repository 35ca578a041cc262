"""Security groups and rules over raw HTTP: the default group, validation, in-use groups."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import member_of, unique
from tests.support.network import created, fault, neutron_of


@pytest.fixture(scope="module")
def api(gateway: ServedGateway) -> Iterator[httpx.Client]:
    """A project of its own, so that its default group starts untouched."""
    with neutron_of(gateway, member_of(gateway)) as neutron_client:
        yield neutron_client


@pytest.fixture(scope="module")
def target(api: httpx.Client) -> dict[str, Any]:
    """One group that every invalid rule is tried on (the project may hold only ten)."""
    return _group(api)


def _group(api: httpx.Client) -> dict[str, Any]:
    body = {"security_group": {"name": unique("sg"), "description": "web"}}
    return created(api.post("/security-groups", json=body), "security_group")


def _rule(api: httpx.Client, **rule: Any) -> httpx.Response:
    return api.post("/security-group-rules", json={"security_group_rule": rule})


def test_default_group_is_created_on_first_use_with_neutrons_rules(api: httpx.Client) -> None:
    groups = api.get("/security-groups").json()["security_groups"]
    (default,) = [g for g in groups if g["name"] == "default"]
    rules = {
        (r["direction"], r["ethertype"], r["remote_group_id"], r["protocol"])
        for r in default["security_group_rules"]
    }
    assert rules == {
        ("egress", "IPv4", None, None),
        ("egress", "IPv6", None, None),
        ("ingress", "IPv4", default["id"], None),
        ("ingress", "IPv6", default["id"], None),
    }
    again = api.get("/security-groups", params={"name": "default"}).json()["security_groups"]
    assert [g["id"] for g in again] == [default["id"]]
    refused = fault(api.delete(f"/security-groups/{default['id']}"), 409)
    assert refused["type"] == "SecurityGroupCannotRemoveDefault"
    taken = api.post("/security-groups", json={"security_group": {"name": "default"}})
    fault(taken, 409)


def test_rules_by_protocol_name_or_number_with_remote_group_or_prefix(api: httpx.Client) -> None:
    group, other = _group(api), _group(api)
    ssh = created(
        _rule(
            api,
            security_group_id=group["id"],
            direction="ingress",
            protocol="tcp",
            port_range_min=22,
            port_range_max=22,
            remote_ip_prefix="10.0.0.7/8",
        ),
        "security_group_rule",
    )
    assert ssh["remote_ip_prefix"] == "10.0.0.0/8" and ssh["ethertype"] == "IPv4"
    udp = created(
        _rule(
            api,
            security_group_id=group["id"],
            direction="ingress",
            protocol="17",
            port_range_min=53,
            port_range_max=53,
            remote_group_id=other["id"],
        ),
        "security_group_rule",
    )
    assert udp["protocol"] == "17" and udp["remote_group_id"] == other["id"]
    icmp6 = created(
        _rule(
            api,
            security_group_id=group["id"],
            direction="ingress",
            ethertype="IPv6",
            protocol="ipv6-icmp",
            port_range_min=128,
        ),
        "security_group_rule",
    )
    assert icmp6["port_range_min"] == 128 and icmp6["port_range_max"] is None
    duplicate = _rule(
        api,
        security_group_id=group["id"],
        direction="ingress",
        protocol="6",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="10.0.0.0/8",
    )
    assert fault(duplicate, 409)["type"] == "SecurityGroupRuleExists"
    shown = api.get(f"/security-groups/{group['id']}").json()["security_group"]
    assert {ssh["id"], udp["id"], icmp6["id"]} <= {r["id"] for r in shown["security_group_rules"]}
    assert api.delete(f"/security-group-rules/{ssh['id']}").status_code == 204
    fault(api.get(f"/security-group-rules/{ssh['id']}"), 404)
    # as Neutron's: the rules of other groups naming a group go with it
    assert api.delete(f"/security-groups/{other['id']}").status_code == 204
    fault(api.get(f"/security-group-rules/{udp['id']}"), 404)


@pytest.mark.parametrize(
    ("rule", "kind"),
    [
        (
            {"protocol": "tcp", "port_range_min": 80, "port_range_max": 20},
            "SecurityGroupInvalidPortRange",
        ),
        ({"protocol": "tcp", "port_range_min": 0, "port_range_max": 70000}, None),
        ({"protocol": "tcp", "port_range_max": 6}, "SecurityGroupInvalidPortRange"),
        ({"protocol": "udp", "port_range_min": 6}, "SecurityGroupInvalidPortRange"),
        ({"protocol": "bogus"}, "SecurityGroupRuleInvalidProtocol"),
        ({"protocol": "300"}, "SecurityGroupRuleInvalidProtocol"),
        ({"port_range_min": 22, "port_range_max": 22}, None),
        ({"direction": "sideways"}, None),
        (
            {"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"},
            "SecurityGroupRuleParameterConflict",
        ),
        ({"protocol": "icmp", "port_range_min": 300}, "SecurityGroupInvalidIcmpValue"),
        ({"protocol": "icmp", "port_range_max": 6}, "SecurityGroupMissingIcmpType"),
    ],
)
def test_invalid_rules_are_400(
    api: httpx.Client, target: dict[str, Any], rule: dict[str, Any], kind: str | None
) -> None:
    group = target
    body = {"security_group_id": group["id"], "direction": "ingress", **rule}
    error = fault(_rule(api, **body), 400)
    if kind is not None:
        assert error["type"] == kind


def test_group_in_use_by_a_port_cannot_be_deleted(api: httpx.Client) -> None:
    group = _group(api)
    net = created(api.post("/networks", json={"network": {"name": unique("net")}}), "network")
    port = created(
        api.post(
            "/ports", json={"port": {"network_id": net["id"], "security_groups": [group["id"]]}}
        ),
        "port",
    )
    assert port["security_groups"] == [group["id"]]
    assert fault(api.delete(f"/security-groups/{group['id']}"), 409)["type"] == "SecurityGroupInUse"
    cleared = api.put(f"/ports/{port['id']}", json={"port": {"security_groups": []}})
    assert cleared.status_code == 200 and cleared.json()["port"]["security_groups"] == []
    assert api.delete(f"/security-groups/{group['id']}").status_code == 204
    fault(api.get(f"/security-groups/{group['id']}"), 404)
