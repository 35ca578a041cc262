"""Limits and quota sets through the openstack CLI, openstacksdk and raw HTTP: defaults, admin
updates, usage counted from the resources, microversion shapes, policy and bad input."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.compute import assert_nova_fault, cli_json, nova
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, member_of


@pytest.fixture(scope="module")
def member(gateway: ServedGateway) -> Member:
    """A project of the module's own, so its quotas and usage are the test's to control."""
    return member_of(gateway)


@pytest.fixture(scope="module")
def admin(gateway: ServedGateway, admin_token: str) -> httpx.Client:
    return nova(gateway, admin_token, "2.79")


def quota_limits(gateway: ServedGateway, cloud: str, *args: str) -> dict[str, object]:
    """``openstack quota show`` as {resource: limit} (or the whole row with ``--usage``)."""
    rows = cli_json(gateway, cloud, "quota", "show", *args)
    if "--usage" in args:
        return {row["Resource"]: row for row in rows}
    return {row["Resource"]: row["Limit"] for row in rows}


def test_limits_show_absolute(gateway: ServedGateway) -> None:
    rows = cli_json(gateway, "interstack", "limits", "show", "--absolute")
    limits = {row["Name"]: row["Value"] for row in rows}
    assert limits["max_total_instances"] == 10
    assert limits["max_total_cores"] == 20
    assert limits["max_total_ram_size"] == 51200
    assert limits["max_total_keypairs"] == 100
    assert limits["instances_used"] == 0


def test_sdk_compute_limits(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    limits = conn.get_compute_limits()
    assert limits.max_total_instances == 10
    assert limits.total_cores_used == 0
    assert conn.compute.get_limits().absolute.server_groups == 10


def test_limits_by_microversion(gateway: ServedGateway, demo_token: str) -> None:
    old = nova(gateway, demo_token, "2.1").get("/limits").json()["limits"]
    assert old["rate"] == []
    assert {"maxTotalFloatingIps", "maxImageMeta", "maxPersonality"} <= set(old["absolute"])
    new = nova(gateway, demo_token, "2.57").get("/limits").json()["limits"]["absolute"]
    assert not {"maxTotalFloatingIps", "maxImageMeta", "maxPersonality"} & set(new)


def test_limits_of_another_project(
    gateway: ServedGateway, demo_token: str, admin: httpx.Client, member: Member
) -> None:
    refused = nova(gateway, demo_token).get("/limits", params={"tenant_id": member.project_id})
    assert_nova_fault(refused, 403, "forbidden")
    assert admin.get("/limits", params={"tenant_id": member.project_id}).status_code == 200


def test_quota_show_and_defaults_with_the_cli(gateway: ServedGateway) -> None:
    shown = quota_limits(gateway, "interstack")
    assert shown["instances"] == 10 and shown["cores"] == 20 and shown["ram"] == 51200
    assert shown["key-pairs"] == 100 and shown["server-groups"] == 10
    defaults = quota_limits(gateway, "interstack", "--default")
    assert defaults["instances"] == 10


def test_admin_sets_quotas_with_the_cli(gateway: ServedGateway, member: Member) -> None:
    gateway.cli(
        "interstack-admin", "quota", "set", "--instances", "25", "--cores", "50", member.project_id
    )
    shown = quota_limits(gateway, "interstack-admin", member.project_id)
    assert (shown["instances"], shown["cores"]) == (25, 50)
    api = nova(gateway, member.token(gateway))
    own = api.get(f"/os-quota-sets/{member.project_id}").json()["quota_set"]
    assert own["id"] == member.project_id and own["instances"] == 25
    defaults = api.get(f"/os-quota-sets/{member.project_id}/defaults").json()["quota_set"]
    assert defaults["instances"] == 10


def test_members_cannot_set_or_read_others_quotas(
    gateway: ServedGateway, demo_token: str, member: Member
) -> None:
    demo = nova(gateway, demo_token)
    body = {"quota_set": {"instances": 1000}}
    conn = gateway.connect("interstack")
    own_project = conn.current_project_id
    assert_nova_fault(demo.put(f"/os-quota-sets/{own_project}", json=body), 403, "forbidden")
    assert_nova_fault(demo.get(f"/os-quota-sets/{member.project_id}"), 403, "forbidden")
    refused = gateway.cli(
        "interstack", "quota", "set", "--instances", "99", own_project, check=False
    )
    assert refused.returncode != 0


def test_usage_counts_key_pairs_and_server_groups(
    gateway: ServedGateway, admin: httpx.Client
) -> None:
    fresh = member_of(gateway)
    api = nova(gateway, fresh.token(gateway), "2.79")
    set_to_one = {"quota_set": {"key_pairs": 1, "server_groups": 1}}
    assert admin.put(f"/os-quota-sets/{fresh.project_id}", json=set_to_one).status_code == 200

    assert api.post("/os-keypairs", json={"keypair": {"name": "one"}}).status_code == 201
    over = api.post("/os-keypairs", json={"keypair": {"name": "two"}})
    assert "Quota exceeded" in assert_nova_fault(over, 403, "forbidden")
    group = {"server_group": {"name": "g", "policy": "affinity"}}
    assert api.post("/os-server-groups", json=group).status_code == 200
    assert_nova_fault(api.post("/os-server-groups", json=group), 403, "forbidden")

    detail = api.get(f"/os-quota-sets/{fresh.project_id}/detail").json()["quota_set"]
    assert detail["key_pairs"] == {"limit": 1, "in_use": 1, "reserved": 0}
    assert detail["server_groups"] == {"limit": 1, "in_use": 1, "reserved": 0}
    assert detail["instances"] == {"limit": 10, "in_use": 0, "reserved": 0}
    usage = quota_limits(gateway, "interstack-admin", "--usage", fresh.project_id)
    assert usage["server-groups"] == {
        "Resource": "server-groups",
        "Limit": 1,
        "In Use": 1,
        "Reserved": 0,
    }
    sdk = gateway.connect("interstack-admin").compute.get_quota_set(fresh.project_id, usage=True)
    assert sdk.usage["server_groups"] == 1

    below = admin.put(
        f"/os-quota-sets/{fresh.project_id}", json={"quota_set": {"server_groups": 0}}
    )
    assert "already used" in assert_nova_fault(below, 400, "badRequest")
    forced = {"quota_set": {"server_groups": 0, "force": True}}
    assert admin.put(f"/os-quota-sets/{fresh.project_id}", json=forced).status_code == 200
    assert admin.delete(f"/os-quota-sets/{fresh.project_id}").status_code == 202
    reverted = api.get(f"/os-quota-sets/{fresh.project_id}").json()["quota_set"]
    assert (reverted["key_pairs"], reverted["server_groups"]) == (100, 10)


def test_quota_set_shape_by_microversion(
    gateway: ServedGateway, admin_token: str, member: Member
) -> None:
    path = f"/os-quota-sets/{member.project_id}"
    old = nova(gateway, admin_token, "2.1").get(path).json()["quota_set"]
    assert {"floating_ips", "injected_files"} <= set(old)
    mid = nova(gateway, admin_token, "2.36").get(path).json()["quota_set"]
    assert "floating_ips" not in mid and "injected_files" in mid
    new = nova(gateway, admin_token, "2.57").get(path).json()["quota_set"]
    assert "injected_files" not in new
    network = nova(gateway, admin_token, "2.36").put(path, json={"quota_set": {"floating_ips": 5}})
    assert_nova_fault(network, 400, "badRequest")
    assert (
        nova(gateway, admin_token, "2.1")
        .put(path, json={"quota_set": {"floating_ips": 5}})
        .status_code
        == 200
    )


@pytest.mark.parametrize(
    "quota_set", [{"instances": -2}, {"instances": "many"}, {"gpus": 1}, {"cores": 2**31}]
)
def test_invalid_quota_values(
    admin: httpx.Client, member: Member, quota_set: dict[str, object]
) -> None:
    response = admin.put(f"/os-quota-sets/{member.project_id}", json={"quota_set": quota_set})
    assert_nova_fault(response, 400, "badRequest")


def test_unknown_project_cannot_get_quotas(admin: httpx.Client) -> None:
    response = admin.put(f"/os-quota-sets/{uuid.uuid4().hex}", json={"quota_set": {"cores": 1}})
    assert_nova_fault(response, 400, "badRequest")
