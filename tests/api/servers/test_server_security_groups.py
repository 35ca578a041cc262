"""Security groups of a server live on its Neutron ports, as with Nova: ``addSecurityGroup`` and
``removeSecurityGroup`` change the ports, and the server's ``security_groups`` are read from
them. Driven by the ``openstack`` CLI, openstacksdk and raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.servers.conftest import (
    IMAGE,
    boot_active,
    new_network,
    nova,
    ports_of,
    sdk_as,
)
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, cli_as, unique
from tests.support.network import created


@pytest.fixture(scope="module")
def network(net_api: httpx.Client) -> dict[str, Any]:
    return new_network(net_api, "10.51.0.0/24")


@pytest.fixture(scope="module")
def web(net_api: httpx.Client) -> dict[str, Any]:
    return created(
        net_api.post("/security-groups", json={"security_group": {"name": unique("web")}}),
        "security_group",
    )


@pytest.fixture
def server(api: httpx.Client, network: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A server with two ports, so that a group goes on both."""
    booted = boot_active(
        api, unique("sg"), networks=[{"uuid": network["id"]}, {"uuid": network["id"]}]
    )
    yield booted
    api.delete(f"/servers/{booted['id']}")


def groups_on_ports(net_api: httpx.Client, server_id: str) -> list[set[str]]:
    return [set(p["security_groups"]) for p in ports_of(net_api, server_id)]


def shown_groups(api: httpx.Client, server_id: str) -> list[str]:
    server = api.get(f"/servers/{server_id}").json()["server"]
    return [g["name"] for g in server.get("security_groups", [])]


def test_cli_add_and_remove_change_the_ports(
    compute_gateway: ServedGateway,
    member: Member,
    api: httpx.Client,
    net_api: httpx.Client,
    web: dict[str, Any],
    server: dict[str, Any],
) -> None:
    sid = server["id"]
    assert shown_groups(api, sid) == ["default", "default"]  # one per port, as Nova lists them
    compute_gateway.cli(
        "interstack", "server", "add", "security", "group", sid, web["name"], extra=cli_as(member)
    )
    ports = groups_on_ports(net_api, sid)
    assert len(ports) == 2 and all(web["id"] in groups for groups in ports)
    assert shown_groups(api, sid) == ["default", web["name"], "default", web["name"]]
    detail = api.get("/servers/detail").json()["servers"]
    (listed,) = [s for s in detail if s["id"] == sid]
    assert web["name"] in {g["name"] for g in listed["security_groups"]}

    compute_gateway.cli(
        "interstack",
        "server",
        "remove",
        "security",
        "group",
        sid,
        web["name"],
        extra=cli_as(member),
    )
    assert all(web["id"] not in groups for groups in groups_on_ports(net_api, sid))
    assert web["name"] not in shown_groups(api, sid)


def test_sdk_by_id_and_a_group_changed_in_neutron_shows(
    compute_gateway: ServedGateway,
    member: Member,
    api: httpx.Client,
    net_api: httpx.Client,
    web: dict[str, Any],
    server: dict[str, Any],
) -> None:
    sid = server["id"]
    conn: Any = sdk_as(compute_gateway, member)
    try:
        conn.compute.add_security_group_to_server(sid, {"name": web["id"]})
        assert web["name"] in shown_groups(api, sid)
        conn.compute.remove_security_group_from_server(sid, {"name": web["id"]})
        assert web["name"] not in shown_groups(api, sid)
    finally:
        conn.close()
    # Neutron is the truth: a group set on the port directly shows on the server
    port = ports_of(net_api, sid)[0]
    updated = net_api.put(f"/ports/{port['id']}", json={"port": {"security_groups": [web["id"]]}})
    assert updated.status_code == 200, updated.text
    assert sorted(shown_groups(api, sid)) == sorted(["default", web["name"]])


def test_faults(
    compute_gateway: ServedGateway,
    stranger: Member,
    strangers_neutron: httpx.Client,
    api: httpx.Client,
    net_api: httpx.Client,
    web: dict[str, Any],
    server: dict[str, Any],
) -> None:
    sid = server["id"]
    action = f"/servers/{sid}/action"
    before = groups_on_ports(net_api, sid)
    unknown = api.post(action, json={"addSecurityGroup": {"name": "no-such-group"}})
    assert unknown.status_code == 404
    assert "no-such-group" in unknown.json()["itemNotFound"]["message"]
    not_on = api.post(action, json={"removeSecurityGroup": {"name": web["name"]}})
    assert not_on.status_code == 404
    assert "not associated" in not_on.json()["itemNotFound"]["message"]
    assert api.post(action, json={"addSecurityGroup": {}}).status_code == 400
    assert groups_on_ports(net_api, sid) == before

    # another project's group is not found; its servers are not either
    theirs = created(
        strangers_neutron.post("/security-groups", json={"security_group": {"name": unique("t")}}),
        "security_group",
    )
    assert api.post(action, json={"addSecurityGroup": {"name": theirs["id"]}}).status_code == 404
    with nova(compute_gateway, stranger.token(compute_gateway)) as other:
        answer = other.post(action, json={"addSecurityGroup": {"name": "default"}})
        assert answer.status_code == 404

    portless = boot_active(api, unique("portless"))  # networks "none"
    answer = api.post(
        f"/servers/{portless['id']}/action", json={"addSecurityGroup": {"name": web["name"]}}
    )
    assert answer.status_code == 404
    assert "any ports" in answer.json()["itemNotFound"]["message"]
    assert "security_groups" not in api.get(f"/servers/{portless['id']}").json()["server"]
    api.delete(f"/servers/{portless['id']}")


def test_create_with_unknown_or_shared_group_name_is_refused_and_leaves_no_port(
    api: httpx.Client, net_api: httpx.Client, network: dict[str, Any]
) -> None:
    def create(group: str) -> httpx.Response:
        body = {
            "name": unique("sg-bad"),
            "flavorRef": "1",
            "imageRef": IMAGE,
            "networks": [{"uuid": network["id"]}],
            "security_groups": [{"name": group}],
        }
        return api.post("/servers", json={"server": body})

    ports_before = {p["id"] for p in net_api.get("/ports").json()["ports"]}
    unknown = create("no-such-group")
    assert unknown.status_code == 400, unknown.text
    message = unknown.json()["badRequest"]["message"]
    assert "Unable to find security_group with name or id" in message
    assert "no-such-group" in message

    shared = unique("twin")
    for _ in range(2):
        net_api.post("/security-groups", json={"security_group": {"name": shared}})
    ambiguous = create(shared)  # Nova's NoUniqueMatch: a 409
    assert ambiguous.status_code == 409, ambiguous.text
    message = ambiguous.json()["conflictingRequest"]["message"]
    assert f"Multiple security groups are named {shared}" in message
    assert "Unable to find" not in message
    # no port is left (an earlier test's server may still be releasing its own)
    assert {p["id"] for p in net_api.get("/ports").json()["ports"]} <= ports_before
