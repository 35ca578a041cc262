"""What Nova's update, rebuild and create answers carry at each microversion, down to the fields
that Tempest's response schemas refuse when they are there too early."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.servers.conftest import (
    IMAGE,
    OTHER_IMAGE,
    boot,
    boot_active,
    nova,
    server_of,
    wait_gone,
    wait_status,
)
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique
from tests.support.network import created, neutron

#: what only GET shows before 2.75
GET_ONLY = {
    "OS-EXT-AZ:availability_zone",
    "config_drive",
    "key_name",
    "OS-SRV-USG:launched_at",
    "OS-EXT-STS:vm_state",
    "os-extended-volumes:volumes_attached",
    "security_groups",
}


def _address_keys(server: dict[str, Any]) -> set[str]:
    return {key for listed in server["addresses"].values() for a in listed for key in a}


def test_update_and_rebuild_answer_without_get_only_fields_before_275(
    compute_gateway: ServedGateway, member: Member, api: httpx.Client
) -> None:
    token = member.token(compute_gateway)
    with neutron(compute_gateway, token) as net_api:
        network = created(
            net_api.post("/networks", json={"network": {"name": unique("net")}}), "network"
        )
        subnet = {"network_id": network["id"], "cidr": "10.30.0.0/24", "ip_version": 4}
        created(net_api.post("/subnets", json={"subnet": subnet}), "subnet")
    server = boot_active(api, "answered", networks=[{"uuid": network["id"]}])
    assert _address_keys(server) > {"version", "addr"}
    with nova(compute_gateway, token, "2.1") as old:
        updated = old.put(f"/servers/{server['id']}", json={"server": {"name": "renamed"}})
        assert updated.status_code == 200, updated.text
        body = updated.json()["server"]
        assert body["name"] == "renamed"
        assert not GET_ONLY & set(body), sorted(GET_ONLY & set(body))
        assert _address_keys(body) <= {"version", "addr"}
        shown = old.get(f"/servers/{server['id']}").json()["server"]
        assert set(shown) >= GET_ONLY

        rebuilt = old.post(
            f"/servers/{server['id']}/action", json={"rebuild": {"imageRef": OTHER_IMAGE}}
        )
        assert rebuilt.status_code == 202, rebuilt.text
        body = rebuilt.json()["server"]
        assert body["adminPass"]
        assert not GET_ONLY & set(body), sorted(GET_ONLY & set(body))
    wait_status(api, server["id"], "ACTIVE")
    with nova(compute_gateway, token, "2.75") as new:
        updated = new.put(f"/servers/{server['id']}", json={"server": {"name": "again"}})
        assert updated.status_code == 200, updated.text
        assert set(updated.json()["server"]) >= GET_ONLY
    assert api.delete(f"/servers/{server['id']}").status_code == 204


def test_min_count_alone_creates_that_many(api: httpx.Client) -> None:
    response = api.post(
        "/servers",
        json={
            "server": {
                "name": "pair",
                "flavorRef": "1",
                "imageRef": IMAGE,
                "networks": "none",
                "min_count": 2,
                "return_reservation_id": True,
            }
        },
    )
    assert response.status_code == 202, response.text
    reservation = response.json()["reservation_id"]
    found = api.get("/servers/detail", params={"reservation_id": reservation}).json()["servers"]
    assert sorted(s["name"] for s in found) == ["pair-1", "pair-2"]
    for server in found:
        assert api.delete(f"/servers/{server['id']}").status_code == 204
    for server in found:
        wait_gone(api, server["id"])


def test_access_ips_are_kept_in_canonical_form(api: httpx.Client) -> None:
    server_id = boot(api, "canonical", accessIPv6="0000:0000:0000:0000:0000:babe:220.12.22.2")
    assert server_of(api, server_id)["accessIPv6"] == "::babe:dc0c:1602"
    updated = api.put(f"/servers/{server_id}", json={"server": {"accessIPv6": "2001:DB8:0::1"}})
    assert updated.status_code == 200, updated.text
    assert updated.json()["server"]["accessIPv6"] == "2001:db8::1"
    assert api.delete(f"/servers/{server_id}").status_code == 204
    wait_gone(api, server_id)


def test_compute_answers_carry_x_compute_request_id_of_the_action(api: httpx.Client) -> None:
    response = api.post(
        "/servers",
        json={
            "server": {"name": "traced", "flavorRef": "1", "imageRef": IMAGE, "networks": "none"}
        },
    )
    assert response.status_code == 202, response.text
    request_id = response.headers["x-compute-request-id"]
    assert request_id == response.headers["x-openstack-request-id"]
    server_id = response.json()["server"]["id"]
    action = api.get(f"/servers/{server_id}/os-instance-actions/{request_id}")
    assert action.status_code == 200, action.text
    assert action.json()["instanceAction"]["action"] == "create"
    assert api.delete(f"/servers/{server_id}").status_code == 204
    wait_gone(api, server_id)


def test_only_nova_answers_carry_x_compute_request_id(
    compute_gateway: ServedGateway, member: Member
) -> None:
    token = member.token(compute_gateway)
    response = httpx.get(
        f"{compute_gateway.url}/RegionOne/image/v2/images", headers={"X-Auth-Token": token}
    )
    assert response.status_code == 200, response.text
    assert "x-openstack-request-id" in response.headers
    assert "x-compute-request-id" not in response.headers


def test_ips_by_network(compute_gateway: ServedGateway, member: Member, api: httpx.Client) -> None:
    token = member.token(compute_gateway)
    with neutron(compute_gateway, token) as net_api:
        name = unique("ipnet")
        network = created(net_api.post("/networks", json={"network": {"name": name}}), "network")
        subnet = {"network_id": network["id"], "cidr": "10.31.0.0/24", "ip_version": 4}
        created(net_api.post("/subnets", json={"subnet": subnet}), "subnet")
    server = boot_active(api, "addressed", networks=[{"uuid": network["id"]}])
    listed = api.get(f"/servers/{server['id']}/ips")
    assert listed.status_code == 200, listed.text
    (address,) = listed.json()["addresses"][name]
    assert set(address) == {"version", "addr"} and address["addr"].startswith("10.31.0.")
    one = api.get(f"/servers/{server['id']}/ips/{name}")
    assert one.status_code == 200 and one.json() == {name: [address]}, one.text
    assert api.get(f"/servers/{server['id']}/ips/elsewhere").status_code == 404
    assert api.get("/servers/00000000-0000-0000-0000-000000000000/ips").status_code == 404
    assert api.delete(f"/servers/{server['id']}").status_code == 204
    wait_gone(api, server["id"])
