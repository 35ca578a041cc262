"""``GET /servers/{id}/os-security-groups``: the groups on the server's ports, in Nova's terms
(what openstacksdk's ``fetch_server_security_groups`` and Ansible's ``server`` module read)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.servers.conftest import boot, boot_active, nova, wait_gone
from tests.support.compute import assert_nova_fault
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique
from tests.support.network import created


def _rule(net_api: httpx.Client, group_id: str, **fields: Any) -> dict[str, Any]:
    body = {"security_group_id": group_id, "direction": "ingress", **fields}
    return created(
        net_api.post("/security-group-rules", json={"security_group_rule": body}),
        "security_group_rule",
    )


@pytest.fixture(scope="module")
def web_group(net_api: httpx.Client) -> dict[str, Any]:
    """A group with each kind of rule Nova renders differently, and one egress rule it hides."""
    group = created(
        net_api.post(
            "/security-groups",
            json={"security_group": {"name": unique("web"), "description": "ssh and ping"}},
        ),
        "security_group",
    )
    rules = {
        "ssh": _rule(
            net_api,
            group["id"],
            protocol="tcp",
            port_range_min=22,
            port_range_max=22,
            remote_ip_prefix="0.0.0.0/0",
        ),
        "icmp": _rule(net_api, group["id"], protocol="icmp", remote_ip_prefix="10.0.0.0/8"),
        "all_udp": _rule(net_api, group["id"], protocol="udp", remote_group_id=group["id"]),
    }
    egress = {"direction": "egress", "port_range_min": 80, "port_range_max": 80}
    _rule(net_api, group["id"], protocol="tcp", **egress)
    return {**group, "created_rules": rules}


def test_lists_the_groups_of_the_server_ports_in_nova_format(
    api: httpx.Client, net_api: httpx.Client, web_group: dict[str, Any], member: Member
) -> None:
    network = created(
        net_api.post("/networks", json={"network": {"name": unique("sg-net")}}), "network"
    )
    created(
        net_api.post(
            "/subnets",
            json={"subnet": {"network_id": network["id"], "cidr": "10.51.0.0/24", "ip_version": 4}},
        ),
        "subnet",
    )
    server = boot_active(
        api,
        unique("guarded"),
        networks=[{"uuid": network["id"]}],
        security_groups=[{"name": web_group["name"]}, {"name": "default"}],
    )
    response = api.get(f"/servers/{server['id']}/os-security-groups")
    assert response.status_code == 200, response.text
    groups = response.json()["security_groups"]
    # sorted by project, then name: "default" < "web-..."
    assert [g["name"] for g in groups] == ["default", web_group["name"]]
    web = groups[1]
    assert web["id"] == web_group["id"]
    assert web["description"] == "ssh and ping"
    assert web["tenant_id"] == member.project_id
    rules = {r["id"]: r for r in web["rules"]}
    created_rules = web_group["created_rules"]
    # the egress rule is not shown; ingress ones are, in Nova's terms
    assert set(rules) == {r["id"] for r in created_rules.values()}
    assert rules[created_rules["ssh"]["id"]] == {
        "id": created_rules["ssh"]["id"],
        "parent_group_id": web_group["id"],
        "ip_protocol": "tcp",
        "from_port": 22,
        "to_port": 22,
        "group": {},
        "ip_range": {"cidr": "0.0.0.0/0"},
    }
    icmp = rules[created_rules["icmp"]["id"]]
    assert (icmp["from_port"], icmp["to_port"], icmp["ip_range"]) == (
        -1,
        -1,
        {"cidr": "10.0.0.0/8"},
    )
    udp = rules[created_rules["all_udp"]["id"]]
    assert (udp["from_port"], udp["to_port"], udp["ip_range"]) == (1, 65535, {})
    assert udp["group"] == {"name": web_group["name"], "tenant_id": member.project_id}
    assert api.delete(f"/servers/{server['id']}").status_code == 204
    wait_gone(api, server["id"])


def test_a_server_without_ports_has_no_groups_and_others_see_a_404(
    compute_gateway: ServedGateway, api: httpx.Client, stranger: Member
) -> None:
    server_id = boot(api, unique("portless"))
    response = api.get(f"/servers/{server_id}/os-security-groups")
    assert response.status_code == 200, response.text
    assert response.json() == {"security_groups": []}
    with nova(compute_gateway, stranger.token(compute_gateway)) as other:
        assert_nova_fault(
            other.get(f"/servers/{server_id}/os-security-groups"), 404, "itemNotFound"
        )
    assert_nova_fault(api.get(f"/servers/{unique('nope')}/os-security-groups"), 404, "itemNotFound")
    assert api.delete(f"/servers/{server_id}").status_code == 204
    wait_gone(api, server_id)
