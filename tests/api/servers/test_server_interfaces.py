"""A server's interfaces (``os-interface``): attached and detached through openstacksdk, the
``openstack`` CLI and raw HTTP, with ``addresses`` agreeing with Neutron's ports afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.servers.conftest import (
    BARE_IMAGE,
    BARE_REGION,
    boot_active,
    new_network,
    nova,
    ports_of,
    wait_status,
)
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, cli_as, unique
from tests.support.network import created, neutron


@pytest.fixture(scope="module")
def first(net_api: httpx.Client) -> dict[str, Any]:
    return new_network(net_api, "10.31.0.0/24")


@pytest.fixture(scope="module")
def second(net_api: httpx.Client) -> dict[str, Any]:
    """IPAM gives its ports (the DHCP port's too) addresses at random from the pool: the one a
    test asks for, 10.32.0.77, lies outside it, so no port holds it by chance."""
    pool = [{"start": "10.32.0.2", "end": "10.32.0.50"}]
    return new_network(net_api, "10.32.0.0/24", allocation_pools=pool)


@pytest.fixture
def server(api: httpx.Client, first: dict[str, Any]) -> Iterator[dict[str, Any]]:
    booted = boot_active(api, unique("ifc"), networks=[{"uuid": first["id"]}])
    yield booted
    api.delete(f"/servers/{booted['id']}")


def addresses_of(api: httpx.Client, server_id: str) -> dict[str, set[str]]:
    shown = api.get(f"/servers/{server_id}").json()["server"]["addresses"]
    return {name: {a["addr"] for a in entries} for name, entries in shown.items()}


def neutron_addresses(net_api: httpx.Client, server_id: str) -> set[str]:
    return {ip["ip_address"] for p in ports_of(net_api, server_id) for ip in p["fixed_ips"]}


def test_sdk_attach_by_network_then_detach(
    conn: Any,
    api: httpx.Client,
    net_api: httpx.Client,
    second: dict[str, Any],
    server: dict[str, Any],
) -> None:
    sid = server["id"]
    attached = conn.compute.create_server_interface(sid, net_id=second["id"])
    assert attached.net_id == second["id"]
    assert attached.port_state == "ACTIVE"
    (ip,) = attached.fixed_ips
    assert ip["subnet_id"] == second["subnet"]["id"]

    listed = {i.port_id: i for i in conn.compute.server_interfaces(sid)}
    assert attached.port_id in listed and len(listed) == 2
    shown = conn.compute.get_server_interface(attached.port_id, server=sid)
    assert shown.mac_addr == attached.mac_addr

    port = net_api.get(f"/ports/{attached.port_id}").json()["port"]
    assert (port["device_id"], port["device_owner"]) == (sid, "compute:nova")
    assert addresses_of(api, sid)[second["name"]] == {ip["ip_address"]}
    assert neutron_addresses(net_api, sid) == set().union(*addresses_of(api, sid).values())

    conn.compute.delete_server_interface(attached.port_id, server=sid)
    assert second["name"] not in addresses_of(api, sid)
    # a port made for the server goes with the detach, as Nova deletes it
    assert net_api.get(f"/ports/{attached.port_id}").status_code == 404
    assert [i.port_id for i in conn.compute.server_interfaces(sid)] == [
        p["id"] for p in ports_of(net_api, sid)
    ]


def test_cli_add_and_remove_a_port(
    compute_gateway: ServedGateway,
    member: Member,
    api: httpx.Client,
    net_api: httpx.Client,
    second: dict[str, Any],
    server: dict[str, Any],
) -> None:
    sid = server["id"]
    port = created(
        net_api.post("/ports", json={"port": {"network_id": second["id"], "name": "brought"}}),
        "port",
    )
    compute_gateway.cli(
        "interstack", "server", "add", "port", sid, port["id"], extra=cli_as(member)
    )
    bound = net_api.get(f"/ports/{port['id']}").json()["port"]
    assert bound["device_id"] == sid and bound["status"] == "ACTIVE"
    assert addresses_of(api, sid)[second["name"]] == {port["fixed_ips"][0]["ip_address"]}
    listed = compute_gateway.cli(
        "interstack", "port", "list", "--server", sid, "-f", "json", extra=cli_as(member)
    )
    assert port["id"] in {p["ID"] for p in json.loads(listed.stdout)}

    compute_gateway.cli(
        "interstack", "server", "remove", "port", sid, port["id"], extra=cli_as(member)
    )
    kept = net_api.get(f"/ports/{port['id']}").json()["port"]  # the user's port stays
    assert (kept["device_id"], kept["device_owner"]) == ("", "")
    assert second["name"] not in addresses_of(api, sid)


def test_cli_add_a_fixed_ip_on_a_network(
    compute_gateway: ServedGateway,
    member: Member,
    api: httpx.Client,
    net_api: httpx.Client,
    second: dict[str, Any],
    server: dict[str, Any],
) -> None:
    sid = server["id"]
    compute_gateway.cli(
        "interstack",
        "server",
        "add",
        "fixed",
        "ip",
        "--fixed-ip-address",
        "10.32.0.77",
        sid,
        second["id"],
        extra=cli_as(member),
    )
    assert addresses_of(api, sid)[second["name"]] == {"10.32.0.77"}
    compute_gateway.cli(
        "interstack", "server", "remove", "network", sid, second["id"], extra=cli_as(member)
    )
    assert second["name"] not in addresses_of(api, sid)
    assert "10.32.0.77" not in neutron_addresses(net_api, sid)


def test_attach_faults(
    api: httpx.Client,
    net_api: httpx.Client,
    first: dict[str, Any],
    second: dict[str, Any],
    server: dict[str, Any],
) -> None:
    sid = server["id"]
    path = f"/servers/{sid}/os-interface"
    before = ports_of(net_api, sid)
    both = api.post(
        path, json={"interfaceAttachment": {"net_id": second["id"], "port_id": before[0]["id"]}}
    )
    assert both.status_code == 400
    assert "both" in both.json()["badRequest"]["message"]
    ip_only = api.post(
        path, json={"interfaceAttachment": {"fixed_ips": [{"ip_address": "10.32.0.5"}]}}
    )
    assert ip_only.status_code == 400
    assert "network_id" in ip_only.json()["badRequest"]["message"]
    not_uuid = api.post(path, json={"interfaceAttachment": {"net_id": "nope"}})
    assert not_uuid.status_code == 400
    unknown_net = api.post(
        path, json={"interfaceAttachment": {"net_id": "5e1c0a77-0000-4000-8000-00000000beef"}}
    )
    assert unknown_net.status_code == 404, unknown_net.text
    unknown_port = api.post(
        path, json={"interfaceAttachment": {"port_id": "5e1c0a77-0000-4000-8000-00000000beef"}}
    )
    assert unknown_port.status_code == 404
    in_use = api.post(path, json={"interfaceAttachment": {"port_id": before[0]["id"]}})
    assert in_use.status_code == 409
    assert "in use" in in_use.json()["conflictingRequest"]["message"]
    taken = before[0]["fixed_ips"][0]["ip_address"]
    same_ip = api.post(
        path,
        json={"interfaceAttachment": {"net_id": first["id"], "fixed_ips": [{"ip_address": taken}]}},
    )
    assert same_ip.status_code == 409, same_ip.text
    two_networks = api.post(path, json={})  # neither: the project's only network, here 2
    assert two_networks.status_code == 400
    assert "Multiple possible networks" in two_networks.json()["badRequest"]["message"]
    assert ports_of(net_api, sid) == before  # nothing half-attached

    missing = api.delete(f"{path}/5e1c0a77-0000-4000-8000-00000000beef")
    assert missing.status_code == 404
    assert "not attached" in missing.json()["itemNotFound"]["message"]
    assert api.get(f"{path}/5e1c0a77-0000-4000-8000-00000000beef").status_code == 404


def test_states_locks_and_other_projects(
    compute_gateway: ServedGateway,
    stranger: Member,
    api: httpx.Client,
    net_api: httpx.Client,
    second: dict[str, Any],
    server: dict[str, Any],
) -> None:
    sid = server["id"]
    path = f"/servers/{sid}/os-interface"
    body = {"interfaceAttachment": {"net_id": second["id"]}}
    with nova(compute_gateway, stranger.token(compute_gateway)) as other:
        assert other.get(path).status_code == 404
        assert other.post(path, json=body).status_code == 404

    assert api.post(f"/servers/{sid}/action", json={"lock": None}).status_code == 202
    locked = api.post(path, json=body)
    assert locked.status_code == 409 and "locked" in locked.text
    assert api.post(f"/servers/{sid}/action", json={"unlock": None}).status_code == 202

    assert api.post(f"/servers/{sid}/action", json={"os-stop": None}).status_code == 202
    wait_status(api, sid, "SHUTOFF")
    stopped = api.post(path, json=body)  # Nova attaches to stopped servers too
    assert stopped.status_code == 200, stopped.text
    port_id = stopped.json()["interfaceAttachment"]["port_id"]
    assert api.delete(f"{path}/{port_id}").status_code == 202


def test_tags_by_microversion(
    compute_gateway: ServedGateway,
    member: Member,
    second: dict[str, Any],
    server: dict[str, Any],
) -> None:
    path = f"/servers/{server['id']}/os-interface"
    body = {"interfaceAttachment": {"net_id": second["id"], "tag": "data"}}
    token = member.token(compute_gateway)
    with nova(compute_gateway, token, "2.48") as old:
        assert old.post(path, json=body).status_code == 400  # no tag before 2.49
    with nova(compute_gateway, token, "2.49") as tagging:
        attached = tagging.post(path, json=body)
        assert attached.status_code == 200, attached.text
        assert "tag" not in attached.json()["interfaceAttachment"]
    port_id = attached.json()["interfaceAttachment"]["port_id"]
    with nova(compute_gateway, token, "2.70") as newer:
        shown = newer.get(f"{path}/{port_id}").json()["interfaceAttachment"]
        assert shown["tag"] == "data"
        listed = newer.get(path).json()["interfaceAttachments"]
        assert {i["port_id"]: i["tag"] for i in listed}[port_id] == "data"
        assert newer.delete(f"{path}/{port_id}").status_code == 202


def test_backend_without_hot_plug(bare_gateway: ServedGateway) -> None:
    token = bare_gateway.token("interstack")
    with (
        nova(bare_gateway, token, region=BARE_REGION) as bare,
        neutron(bare_gateway, token, region=BARE_REGION) as net,
    ):
        network = new_network(net, "10.41.0.0/24")
        booted = boot_active(
            bare, unique("bare"), imageRef=BARE_IMAGE, networks=[{"uuid": network["id"]}]
        )
        path = f"/servers/{booted['id']}/os-interface"
        (port,) = ports_of(net, booted["id"])
        refused = bare.post(path, json={"interfaceAttachment": {"net_id": network["id"]}})
        assert refused.status_code == 400
        message = refused.json()["badRequest"]["message"]
        assert message.startswith("Attaching interfaces is not supported")
        assert ports_of(net, booted["id"]) == [port]
        listed = bare.get(path).json()["interfaceAttachments"]
        assert [i["port_id"] for i in listed] == [port["id"]]
        detach = bare.delete(f"{path}/{port['id']}")
        assert detach.status_code == 501
        assert "Detaching interfaces is not supported" in detach.json()["notImplemented"]["message"]
        assert bare.delete(f"/servers/{booted['id']}").status_code == 204
