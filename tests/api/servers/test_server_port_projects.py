"""A server's ports are those of its project: another project's port naming the server as its
device (Neutron lets a project give its own port any device id) is none of the server's
interfaces or groups, cannot be detached or released through the server, and no project's port
is bound to a server of another project (Nova's PortNotUsable)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from interstack.client.networks import server_port
from tests.api.servers.conftest import (
    IMAGE,
    boot_active,
    new_network,
    nova,
    ports_of,
    wait_gone,
)
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique
from tests.support.network import created


@pytest.fixture(scope="module")
def network(net_api: httpx.Client) -> dict[str, Any]:
    return new_network(net_api, "10.71.0.0/24")


@pytest.fixture(scope="module")
def their_network(strangers_neutron: httpx.Client) -> dict[str, Any]:
    return new_network(strangers_neutron, "10.72.0.0/24")


def _group(net: httpx.Client, name: str) -> dict[str, Any]:
    return created(
        net.post("/security-groups", json={"security_group": {"name": name}}), "security_group"
    )


def test_another_projects_port_naming_a_server_is_none_of_its_own(
    api: httpx.Client,
    net_api: httpx.Client,
    strangers_neutron: httpx.Client,
    network: dict[str, Any],
    their_network: dict[str, Any],
) -> None:
    victim = boot_active(api, unique("victim"), networks=[{"uuid": network["id"]}])
    intruder = _group(strangers_neutron, unique("intruder"))
    body = {
        "network_id": their_network["id"],
        "device_owner": "compute:nova",
        "device_id": victim["id"],
        "security_groups": [intruder["id"]],
    }
    planted = created(strangers_neutron.post("/ports", json={"port": body}), "port")

    listed = api.get(f"/servers/{victim['id']}/os-interface")
    assert listed.status_code == 200, listed.text
    port_ids = {i["port_id"] for i in listed.json()["interfaceAttachments"]}
    assert len(port_ids) == 1 and planted["id"] not in port_ids
    groups = api.get(f"/servers/{victim['id']}/os-security-groups").json()["security_groups"]
    assert intruder["name"] not in {g["name"] for g in groups}
    assert {g["name"] for g in groups} == {"default"}

    detached = api.delete(f"/servers/{victim['id']}/os-interface/{planted['id']}")
    assert detached.status_code == 404, detached.text

    # the server's own group changes reach its own ports, not stopped by the planted one
    own = _group(net_api, unique("own"))
    added = api.post(
        f"/servers/{victim['id']}/action", json={"addSecurityGroup": {"name": own["name"]}}
    )
    assert added.status_code == 202, added.text
    (own_port,) = port_ids
    assert own["id"] in net_api.get(f"/ports/{own_port}").json()["port"]["security_groups"]

    # deleting the server leaves the other project's port as that project made it
    assert api.delete(f"/servers/{victim['id']}").status_code == 204
    wait_gone(api, victim["id"])
    after = strangers_neutron.get(f"/ports/{planted['id']}")
    assert after.status_code == 200, after.text
    kept = after.json()["port"]
    assert (kept["device_id"], kept["device_owner"]) == (victim["id"], "compute:nova")
    assert kept["security_groups"] == [intruder["id"]]


def test_an_admin_binds_no_port_to_a_server_of_another_project(
    api: httpx.Client,
    admin_api: httpx.Client,
    strangers_neutron: httpx.Client,
    network: dict[str, Any],
    their_network: dict[str, Any],
) -> None:
    """Nova's PortNotUsable (400): the admin sees every project's ports, but a port is bound
    only to a server of its own project, at boot and at interface attach."""
    theirs = created(
        strangers_neutron.post("/ports", json={"port": {"network_id": their_network["id"]}}), "port"
    )
    server = boot_active(api, unique("ifc-owner"), networks=[{"uuid": network["id"]}])

    attached = admin_api.post(
        f"/servers/{server['id']}/os-interface",
        json={"interfaceAttachment": {"port_id": theirs["id"]}},
    )
    assert attached.status_code == 400, attached.text
    assert theirs["id"] in attached.json()["badRequest"]["message"]

    booted = admin_api.post(
        "/servers",
        json={
            "server": {
                "name": unique("admin-boot"),
                "flavorRef": "1",
                "imageRef": IMAGE,
                "networks": [{"port": theirs["id"]}],
            }
        },
    )
    assert booted.status_code == 400, booted.text

    port = strangers_neutron.get(f"/ports/{theirs['id']}").json()["port"]
    assert (port["device_id"], port["device_owner"]) == ("", "")
    interfaces = api.get(f"/servers/{server['id']}/os-interface").json()["interfaceAttachments"]
    assert theirs["id"] not in {i["port_id"] for i in interfaces}
    api.delete(f"/servers/{server['id']}")


def test_an_admins_interface_on_a_server_is_of_the_servers_project(
    api: httpx.Client,
    admin_api: httpx.Client,
    net_api: httpx.Client,
    member: Member,
    network: dict[str, Any],
) -> None:
    """As Nova makes it in the instance's project: the port an admin's attach by network
    makes for a member's server is the member's, so it is among the server's interfaces."""
    server = boot_active(api, unique("admin-ifc"), networks=[{"uuid": network["id"]}])
    second = new_network(net_api, "10.74.0.0/24")
    attached = admin_api.post(
        f"/servers/{server['id']}/os-interface",
        json={"interfaceAttachment": {"net_id": second["id"]}},
    )
    assert attached.status_code == 200, attached.text
    port_id = attached.json()["interfaceAttachment"]["port_id"]
    port = net_api.get(f"/ports/{port_id}")
    assert port.status_code == 200, port.text
    assert port.json()["port"]["project_id"] == member.project_id
    interfaces = api.get(f"/servers/{server['id']}/os-interface").json()["interfaceAttachments"]
    assert port_id in {i["port_id"] for i in interfaces}
    api.delete(f"/servers/{server['id']}")


def test_the_client_finds_a_servers_own_port_as_an_admin(
    compute_gateway: ServedGateway,
    api: httpx.Client,
    net_api: httpx.Client,
    strangers_neutron: httpx.Client,
    network: dict[str, Any],
    their_network: dict[str, Any],
) -> None:
    """The tools' ``server_port`` (where their floating IP goes), run by an admin who sees
    every project's ports, picks the server's own port, not one another project named it on
    and that an admin's listing shows first (ports are listed by id)."""
    # the server boots on a port of the upper half of ids, so that each planted port is
    # listed before it by even odds (a port of any id would leave 1 in 33 runs with none)
    spare: list[str] = []
    while len(spare) < 32 and not (spare and spare[-1] >= "8"):
        made = created(net_api.post("/ports", json={"port": {"network_id": network["id"]}}), "port")
        spare.append(made["id"])
    upper = spare.pop()
    for port_id in spare:
        assert net_api.delete(f"/ports/{port_id}").status_code == 204
    server = boot_active(api, unique("tool"), networks=[{"port": upper}])
    (own,) = ports_of(net_api, server["id"])
    body = {"network_id": their_network["id"], "device_owner": "compute:nova"}
    planted: list[str] = []
    while len(planted) < 32 and all(p > own["id"] for p in planted):
        made = created(
            strangers_neutron.post("/ports", json={"port": {**body, "device_id": server["id"]}}),
            "port",
        )
        planted.append(made["id"])
    assert min(planted) < own["id"], "no planted port listed before the server's own"
    conn = compute_gateway.connect("interstack-admin")
    try:
        found = server_port(conn, conn.compute.get_server(server["id"]))
    finally:
        conn.close()
    assert found.id == own["id"]
    api.delete(f"/servers/{server['id']}")


def test_an_admins_attach_without_a_network_takes_the_servers_projects_network(
    compute_gateway: ServedGateway,
    admin_api: httpx.Client,
    strangers_neutron: httpx.Client,
    stranger: Member,
    their_network: dict[str, Any],
) -> None:
    """As Nova picks it for the instance's project: an admin's attach naming no network to
    another project's server takes the one network of the server's project, not the admin's."""
    with nova(compute_gateway, stranger.token(compute_gateway)) as theirs:
        server = boot_active(theirs, unique("their-ifc"), networks=[{"uuid": their_network["id"]}])
        attached = admin_api.post(
            f"/servers/{server['id']}/os-interface", json={"interfaceAttachment": {}}
        )
        assert attached.status_code == 200, attached.text
        port_id = attached.json()["interfaceAttachment"]["port_id"]
        port = strangers_neutron.get(f"/ports/{port_id}")
        assert port.status_code == 200, port.text
        assert port.json()["port"]["network_id"] == their_network["id"]
        assert port.json()["port"]["project_id"] == stranger.project_id
        theirs.delete(f"/servers/{server['id']}")
