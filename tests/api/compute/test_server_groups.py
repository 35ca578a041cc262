"""Server groups, availability zones and compute services: the openstack CLI, openstacksdk, HTTP."""

from __future__ import annotations

import uuid

import pytest

from tests.support.compute import REGION, assert_nova_fault, cli_json, nova
from tests.support.gateway import ServedGateway
from tests.support.identity import member_of


def unique() -> str:
    return f"group-{uuid.uuid4().hex[:8]}"


def test_cli_creates_lists_and_deletes(gateway: ServedGateway) -> None:
    name = unique()
    created = cli_json(
        gateway, "interstack", "server", "group", "create", "--policy", "anti-affinity", name
    )
    assert created["name"] == name
    assert "anti-affinity" in str(created.get("policy", created.get("policies")))
    listed = cli_json(gateway, "interstack", "server", "group", "list")
    assert name in {row["Name"] for row in listed}
    shown = cli_json(gateway, "interstack", "server", "group", "show", name)
    assert shown["id"] == created["id"]
    gateway.cli("interstack", "server", "group", "delete", name)
    listed = cli_json(gateway, "interstack", "server", "group", "list")
    assert name not in {row["Name"] for row in listed}


def test_sdk_server_groups(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    group = conn.compute.create_server_group(name=unique(), policy="soft-affinity")
    assert conn.compute.get_server_group(group.id).policy == "soft-affinity"
    assert group.id in {g.id for g in conn.compute.server_groups()}
    conn.compute.delete_server_group(group)
    assert conn.compute.find_server_group(group.id) is None


def test_shapes_by_microversion(gateway: ServedGateway, demo_token: str) -> None:
    old = nova(gateway, demo_token, "2.1").post(
        "/os-server-groups", json={"server_group": {"name": unique(), "policies": ["affinity"]}}
    )
    assert old.status_code == 200, old.text
    body = old.json()["server_group"]
    assert body["policies"] == ["affinity"] and body["members"] == [] and body["metadata"] == {}
    assert "project_id" not in body
    rules = {"name": unique(), "policy": "anti-affinity", "rules": {"max_server_per_host": 2}}
    new = nova(gateway, demo_token, "2.64").post("/os-server-groups", json={"server_group": rules})
    assert new.status_code == 200, new.text
    body = new.json()["server_group"]
    assert body["policy"] == "anti-affinity" and body["rules"] == {"max_server_per_host": 2}
    assert body["project_id"] and body["user_id"] and "policies" not in body
    again = nova(gateway, demo_token, "2.13").get(f"/os-server-groups/{body['id']}").json()
    assert again["server_group"]["policies"] == ["anti-affinity"]


@pytest.mark.parametrize(
    ("version", "group"),
    [
        ("2.1", {"name": "g", "policies": ["soft-affinity"]}),
        ("2.15", {"name": "g", "policies": ["affinity", "anti-affinity"]}),
        ("2.15", {"name": "g", "policy": "affinity"}),
        ("2.64", {"name": "g", "policies": ["affinity"]}),
        ("2.64", {"name": "g", "policy": "spread"}),
        ("2.64", {"name": "g", "policy": "affinity", "rules": {"max_server_per_host": 2}}),
        ("2.64", {"name": "g", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}}),
        ("2.64", {"name": "", "policy": "affinity"}),
    ],
)
def test_invalid_groups(
    gateway: ServedGateway, demo_token: str, version: str, group: dict[str, object]
) -> None:
    response = nova(gateway, demo_token, version).post(
        "/os-server-groups", json={"server_group": group}
    )
    assert_nova_fault(response, 400, "badRequest")


def test_projects_do_not_see_each_others_groups(
    gateway: ServedGateway, demo_token: str, admin_token: str
) -> None:
    demo = nova(gateway, demo_token, "2.64")
    group = demo.post(
        "/os-server-groups", json={"server_group": {"name": unique(), "policy": "affinity"}}
    ).json()["server_group"]
    other = member_of(gateway)
    theirs = nova(gateway, other.token(gateway), "2.64")
    assert_nova_fault(theirs.get(f"/os-server-groups/{group['id']}"), 404, "itemNotFound")
    assert_nova_fault(theirs.delete(f"/os-server-groups/{group['id']}"), 404, "itemNotFound")
    assert theirs.get("/os-server-groups", params={"all_projects": "True"}).json() == {
        "server_groups": []
    }

    admin = nova(gateway, admin_token, "2.64")
    own_only = {g["id"] for g in admin.get("/os-server-groups").json()["server_groups"]}
    assert group["id"] not in own_only
    every = admin.get("/os-server-groups", params={"all_projects": "True"}).json()
    assert group["id"] in {g["id"] for g in every["server_groups"]}
    assert admin.get(f"/os-server-groups/{group['id']}").status_code == 200
    assert demo.delete(f"/os-server-groups/{group['id']}").status_code == 204
    assert_nova_fault(demo.get(f"/os-server-groups/{group['id']}"), 404, "itemNotFound")


def test_paging_with_limit_and_offset(gateway: ServedGateway) -> None:
    member = member_of(gateway)
    api = nova(gateway, member.token(gateway), "2.64")
    ids = [
        api.post(
            "/os-server-groups", json={"server_group": {"name": unique(), "policy": "affinity"}}
        ).json()["server_group"]["id"]
        for _ in range(3)
    ]
    page = api.get("/os-server-groups", params={"limit": 2, "offset": 1}).json()
    assert [g["id"] for g in page["server_groups"]] == ids[1:3]
    assert_nova_fault(api.get("/os-server-groups", params={"offset": "-1"}), 400, "badRequest")


def test_availability_zones(gateway: ServedGateway, demo_token: str, admin_token: str) -> None:
    rows = cli_json(gateway, "interstack", "availability", "zone", "list", "--compute")
    assert [(r["Zone Name"], r["Zone Status"]) for r in rows] == [("nova", "available")]
    detail = nova(gateway, admin_token).get("/os-availability-zone/detail").json()
    (zone,) = detail["availabilityZoneInfo"]
    assert zone["zoneName"] == "nova" and REGION in zone["hosts"]
    refused = nova(gateway, demo_token).get("/os-availability-zone/detail")
    assert_nova_fault(refused, 403, "forbidden")
    hosts = cli_json(
        gateway, "interstack-admin", "availability", "zone", "list", "--compute", "--long"
    )
    assert {r["Host Name"] for r in hosts} == {REGION}


def test_sdk_availability_zones(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    assert [z.name for z in conn.compute.availability_zones()] == ["nova"]
    assert isinstance(conn.list_availability_zone_names(), list)


def test_compute_service_list(gateway: ServedGateway, demo_token: str, admin_token: str) -> None:
    rows = cli_json(gateway, "interstack-admin", "compute", "service", "list")
    assert {(r["Binary"], r["Host"], r["Zone"], r["State"]) for r in rows} >= {
        ("nova-compute", REGION, "nova", "up")
    }
    computes = nova(gateway, admin_token, "2.53").get(
        "/os-services", params={"binary": "nova-compute"}
    )
    (service,) = computes.json()["services"]
    assert service["forced_down"] is False and len(service["id"]) == 36
    refused = nova(gateway, demo_token).get("/os-services")
    assert_nova_fault(refused, 403, "forbidden")
