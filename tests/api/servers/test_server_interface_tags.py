"""Device role tags given with ``networks`` at server create (2.32+): kept with the server's
interfaces, as Nova keeps them with its virtual interfaces, and shown by ``os-interface`` from
2.70; Neutron's ports do not get them as tags (Nova does not tag ports)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.servers.conftest import IMAGE, boot_active, new_network, nova, ports_of
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique
from tests.support.network import created


def test_tags_given_at_create_are_the_interfaces_tags(
    compute_gateway: ServedGateway, member: Member, api: httpx.Client, net_api: httpx.Client
) -> None:
    network: dict[str, Any] = new_network(net_api, "10.33.0.0/24")
    brought = created(net_api.post("/ports", json={"port": {"network_id": network["id"]}}), "port")
    networks = [
        {"port": brought["id"], "tag": "data"},
        {"uuid": network["id"], "tag": "mgmt"},
        {"uuid": network["id"]},
    ]
    server = boot_active(api, unique("tagged"), networks=networks)
    path = f"/servers/{server['id']}/os-interface"
    try:
        ports = ports_of(net_api, server["id"])
        assert len(ports) == 3
        assert all(p["tags"] == [] for p in ports)
        made = {p["id"] for p in ports} - {brought["id"]}
        with nova(compute_gateway, member.token(compute_gateway), "2.70") as newer:
            listed = newer.get(path).json()["interfaceAttachments"]
            tags = {i["port_id"]: i["tag"] for i in listed}
            assert tags[brought["id"]] == "data"
            assert sorted(str(tags[p]) for p in made) == ["None", "mgmt"]
            shown = newer.get(f"{path}/{brought['id']}").json()["interfaceAttachment"]
            assert shown["tag"] == "data"
        with nova(compute_gateway, member.token(compute_gateway), "2.69") as older:
            assert all("tag" not in i for i in older.get(path).json()["interfaceAttachments"])
    finally:
        api.delete(f"/servers/{server['id']}")


def test_device_tags_are_refused_where_nova_has_none(
    compute_gateway: ServedGateway, member: Member, net_api: httpx.Client
) -> None:
    network: dict[str, Any] = new_network(net_api, "10.34.0.0/24")
    body = {
        "server": {
            "name": unique("tag-too-early"),
            "flavorRef": "1",
            "imageRef": IMAGE,
            "networks": [{"uuid": network["id"], "tag": "mgmt"}],
        }
    }
    token = member.token(compute_gateway)
    for version in ("2.31", "2.37", "2.41"):
        with nova(compute_gateway, token, version) as client:
            before = {s["id"] for s in client.get("/servers").json()["servers"]}
            answer = client.post("/servers", json=body)
            assert answer.status_code == 400, (version, answer.text)
            fault = answer.json()["badRequest"]
            assert "tag" in fault["message"] and "2.42" in fault["message"]
            # none new (the server of the test before may go meanwhile: not waited for)
            assert {s["id"] for s in client.get("/servers").json()["servers"]} <= before
    with nova(compute_gateway, token, "2.42") as client:
        accepted = client.post("/servers", json=body)
        assert accepted.status_code == 202, accepted.text
        client.delete(f"/servers/{accepted.json()['server']['id']}")
