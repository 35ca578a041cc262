"""Flavors through the openstack CLI, openstacksdk and raw HTTP: defaults, admin management,
extra specs, private flavors and their access, paging, microversions and faults."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.compute import assert_nova_fault, cli_json, compute_root, nova
from tests.support.gateway import ServedGateway
from tests.support.identity import Member, unique


@pytest.fixture(scope="module")
def admin(gateway: ServedGateway, admin_token: str) -> httpx.Client:
    return nova(gateway, admin_token)


def create_flavor(admin: httpx.Client, **fields: object) -> dict[str, object]:
    body = {"name": unique("flavor"), "ram": 256, "vcpus": 1, "disk": 1, **fields}
    response = admin.post("/flavors", json={"flavor": body})
    assert response.status_code == 200, response.text
    created: dict[str, object] = response.json()["flavor"]
    return created


def test_default_flavors_are_listed(gateway: ServedGateway) -> None:
    rows = cli_json(gateway, "interstack", "flavor", "list")
    by_name = {row["Name"]: row for row in rows}
    assert {"m1.tiny", "m1.small", "m1.medium", "m1.large"} <= set(by_name)
    tiny = by_name["m1.tiny"]
    assert (tiny["VCPUs"], tiny["RAM"], tiny["Disk"]) == (1, 512, 1)
    assert tiny["Is Public"] is True


def test_sdk_lists_and_finds_flavors(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    names = {f.name for f in conn.compute.flavors()}
    assert "m1.small" in names
    small = conn.compute.find_flavor("m1.small", ignore_missing=False)
    assert (small.vcpus, small.ram, small.disk) == (1, 2048, 20)
    assert conn.get_flavor_by_ram(4000).name == "m1.medium"


def test_admin_creates_shows_and_deletes_with_the_cli(gateway: ServedGateway) -> None:
    name = unique("cli")
    created = cli_json(
        gateway,
        "interstack-admin",
        "flavor",
        "create",
        "--ram",
        "1024",
        "--disk",
        "10",
        "--vcpus",
        "2",
        "--ephemeral",
        "5",
        "--swap",
        "128",
        "--description",
        "made by a test",
        name,
    )
    assert (created["ram"], created["disk"], created["vcpus"]) == (1024, 10, 2)
    uuid.UUID(created["id"])  # an id nobody gave is a UUID
    shown = cli_json(gateway, "interstack", "flavor", "show", name)
    assert shown["id"] == created["id"]
    assert shown["OS-FLV-EXT-DATA:ephemeral"] == 5
    assert shown["swap"] == 128
    gateway.cli("interstack-admin", "flavor", "delete", name)
    gone = gateway.cli("interstack", "flavor", "show", name, check=False)
    assert gone.returncode != 0
    assert "No Flavor found" in gone.stderr or "could not be found" in gone.stderr


def test_given_id_and_duplicates(admin: httpx.Client) -> None:
    flavor_id = unique("id")
    created = create_flavor(admin, id=flavor_id)
    assert created["id"] == flavor_id
    same_name = admin.post(
        "/flavors", json={"flavor": {"name": created["name"], "ram": 1, "vcpus": 1, "disk": 0}}
    )
    assert "already exists" in assert_nova_fault(same_name, 409, "conflictingRequest")
    same_id = admin.post(
        "/flavors",
        json={"flavor": {"name": unique("x"), "id": flavor_id, "ram": 1, "vcpus": 1, "disk": 0}},
    )
    assert_nova_fault(same_id, 409, "conflictingRequest")
    assert admin.delete(f"/flavors/{flavor_id}").status_code == 202
    assert_nova_fault(admin.get(f"/flavors/{flavor_id}"), 404, "itemNotFound")
    assert_nova_fault(admin.delete(f"/flavors/{flavor_id}"), 404, "itemNotFound")


@pytest.mark.parametrize(
    "flavor",
    [
        {"name": "bad", "ram": 0, "vcpus": 1, "disk": 1},
        {"name": "bad", "ram": 64, "vcpus": -1, "disk": 1},
        {"name": "bad", "ram": 64, "vcpus": 1, "disk": "lots"},
        {"name": "", "ram": 64, "vcpus": 1, "disk": 1},
        {"name": " padded ", "ram": 64, "vcpus": 1, "disk": 1},
        {"name": "bad", "ram": 64, "vcpus": 1, "disk": 1, "id": "no/slash"},
        {"name": "bad", "ram": 64, "vcpus": 1, "disk": 1, "description": "before 2.55"},
        {"name": "bad", "ram": 64, "vcpus": 1},
    ],
)
def test_invalid_flavor_is_a_bad_request(admin: httpx.Client, flavor: dict[str, object]) -> None:
    assert_nova_fault(admin.post("/flavors", json={"flavor": flavor}), 400, "badRequest")


def test_members_cannot_manage_flavors(gateway: ServedGateway, demo_token: str) -> None:
    demo = nova(gateway, demo_token)
    body = {"flavor": {"name": unique("nope"), "ram": 64, "vcpus": 1, "disk": 1}}
    assert_nova_fault(demo.post("/flavors", json=body), 403, "forbidden")
    assert_nova_fault(demo.delete("/flavors/1"), 403, "forbidden")
    specs = {"extra_specs": {"k": "v"}}
    assert_nova_fault(demo.post("/flavors/1/os-extra_specs", json=specs), 403, "forbidden")
    refused = gateway.cli(
        "interstack", "flavor", "create", "--ram", "64", unique("nope"), check=False
    )
    assert refused.returncode != 0 and "403" in refused.stderr


def test_microversions_shape_the_flavor(gateway: ServedGateway, admin_token: str) -> None:
    at_255 = nova(gateway, admin_token, "2.55")
    response = at_255.post(
        "/flavors",
        json={
            "flavor": {"name": unique("v"), "ram": 64, "vcpus": 1, "disk": 1, "description": "d"}
        },
    )
    assert response.status_code == 200, response.text
    flavor = response.json()["flavor"]
    assert flavor["description"] == "d"
    assert "extra_specs" not in flavor
    assert flavor["swap"] == ""
    flavor_id = flavor["id"]
    assert (
        at_255.post(
            f"/flavors/{flavor_id}/os-extra_specs", json={"extra_specs": {"a": 1}}
        ).status_code
        == 200
    )
    later = nova(gateway, admin_token, "2.75").get(f"/flavors/{flavor_id}").json()["flavor"]
    assert later["extra_specs"] == {"a": "1"}
    assert later["swap"] == 0
    old = nova(gateway, admin_token, "2.1").get(f"/flavors/{flavor_id}").json()["flavor"]
    assert "description" not in old and "extra_specs" not in old
    updated = at_255.put(f"/flavors/{flavor_id}", json={"flavor": {"description": "new"}})
    assert updated.json()["flavor"]["description"] == "new"
    too_old = nova(gateway, admin_token, "2.54").put(
        f"/flavors/{flavor_id}", json={"flavor": {"description": "x"}}
    )
    assert_nova_fault(too_old, 404, "itemNotFound")


def test_extra_specs_with_the_cli(gateway: ServedGateway, admin: httpx.Client) -> None:
    flavor = create_flavor(admin)
    name = str(flavor["name"])
    gateway.cli(
        "interstack-admin",
        "flavor",
        "set",
        "--property",
        "hw:cpu_policy=dedicated",
        "--property",
        "quota:disk_read_iops_sec=100",
        name,
    )
    shown = cli_json(gateway, "interstack", "flavor", "show", name)
    assert shown["properties"] == {
        "hw:cpu_policy": "dedicated",
        "quota:disk_read_iops_sec": "100",
    }
    gateway.cli("interstack-admin", "flavor", "unset", "--property", "hw:cpu_policy", name)
    specs = admin.get(f"/flavors/{flavor['id']}/os-extra_specs").json()
    assert specs == {"extra_specs": {"quota:disk_read_iops_sec": "100"}}


def test_extra_spec_keys_over_http(
    admin: httpx.Client, demo_token: str, gateway: ServedGateway
) -> None:
    flavor_id = create_flavor(admin)["id"]
    base = f"/flavors/{flavor_id}/os-extra_specs"
    assert admin.put(f"{base}/k1", json={"k1": "v1"}).json() == {"k1": "v1"}
    assert nova(gateway, demo_token).get(f"{base}/k1").json() == {"k1": "v1"}
    mismatch = admin.put(f"{base}/k1", json={"k2": "v"})
    assert "mismatch" in assert_nova_fault(mismatch, 400, "badRequest")
    assert_nova_fault(admin.post(base, json={"extra_specs": {"bad key!": "v"}}), 400, "badRequest")
    assert admin.delete(f"{base}/k1").status_code == 200
    assert_nova_fault(admin.get(f"{base}/k1"), 404, "itemNotFound")
    assert_nova_fault(admin.delete(f"{base}/k1"), 404, "itemNotFound")


def test_private_flavor_access(
    gateway: ServedGateway, admin: httpx.Client, stranger: Member
) -> None:
    name = unique("private")
    created = cli_json(
        gateway, "interstack-admin", "flavor", "create", "--private", "--ram", "64", name
    )
    flavor_id = created["id"]
    outsider = nova(gateway, stranger.token(gateway))
    assert_nova_fault(outsider.get(f"/flavors/{flavor_id}"), 404, "itemNotFound")
    assert flavor_id not in {f["id"] for f in outsider.get("/flavors").json()["flavors"]}

    gateway.cli("interstack-admin", "flavor", "set", "--project", stranger.project_id, name)
    assert outsider.get(f"/flavors/{flavor_id}").status_code == 200
    assert flavor_id in {f["id"] for f in outsider.get("/flavors/detail").json()["flavors"]}
    access = admin.get(f"/flavors/{flavor_id}/os-flavor-access").json()
    assert access == {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": stranger.project_id}]}
    again = admin.post(
        f"/flavors/{flavor_id}/action", json={"addTenantAccess": {"tenant": stranger.project_id}}
    )
    assert_nova_fault(again, 409, "conflictingRequest")
    demo_sees = cli_json(gateway, "interstack", "flavor", "list", "--all")
    assert name not in {row["Name"] for row in demo_sees}

    gateway.cli("interstack-admin", "flavor", "unset", "--project", stranger.project_id, name)
    assert_nova_fault(outsider.get(f"/flavors/{flavor_id}"), 404, "itemNotFound")
    gone = admin.post(
        f"/flavors/{flavor_id}/action", json={"removeTenantAccess": {"tenant": stranger.project_id}}
    )
    assert_nova_fault(gone, 404, "itemNotFound")
    no_project = admin.post(
        f"/flavors/{flavor_id}/action", json={"addTenantAccess": {"tenant": "no-such-project"}}
    )
    assert_nova_fault(no_project, 400, "badRequest")


def test_access_rules_of_public_flavors(admin: httpx.Client, stranger: Member) -> None:
    assert_nova_fault(admin.get("/flavors/1/os-flavor-access"), 404, "itemNotFound")
    body = {"addTenantAccess": {"tenant": stranger.project_id}}
    assert_nova_fault(admin.post("/flavors/1/action", json=body), 409, "conflictingRequest")
    unknown = admin.post("/flavors/1/action", json={"resize": {}})
    assert_nova_fault(unknown, 400, "badRequest")


def test_admin_lists_private_flavors_on_request(admin: httpx.Client) -> None:
    private = create_flavor(admin, **{"os-flavor-access:is_public": False})
    default = {f["id"] for f in admin.get("/flavors").json()["flavors"]}
    assert private["id"] not in default
    only_private = {f["id"] for f in admin.get("/flavors?is_public=false").json()["flavors"]}
    assert private["id"] in only_private and "1" not in only_private
    everything = {f["id"] for f in admin.get("/flavors?is_public=none").json()["flavors"]}
    assert {private["id"], "1"} <= everything
    assert_nova_fault(admin.get("/flavors?is_public=maybe"), 400, "badRequest")


def test_filters_sorting_and_paging(gateway: ServedGateway, demo_token: str) -> None:
    demo = nova(gateway, demo_token)
    big = demo.get("/flavors/detail", params={"minRam": 4096, "minDisk": 40}).json()["flavors"]
    assert big and all(f["ram"] >= 4096 and f["disk"] >= 40 for f in big)
    by_ram = demo.get(
        "/flavors/detail", params={"sort_key": "memory_mb", "sort_dir": "desc"}
    ).json()["flavors"]
    rams = [f["ram"] for f in by_ram]
    assert rams == sorted(rams, reverse=True)

    every = [f["id"] for f in demo.get("/flavors").json()["flavors"]]
    first = demo.get("/flavors", params={"limit": 2}).json()
    assert [f["id"] for f in first["flavors"]] == every[:2]
    (link,) = first["flavors_links"]
    assert link["rel"] == "next"
    assert link["href"].startswith(f"{compute_root(gateway)}/v2.1/flavors?")
    second = httpx.get(link["href"], headers={"X-Auth-Token": demo_token}, timeout=30).json()
    assert [f["id"] for f in second["flavors"]] == every[2:4]
    assert "flavors_links" not in demo.get("/flavors", params={"limit": 1000}).json()

    assert "marker" in assert_nova_fault(
        demo.get("/flavors", params={"marker": "no-such-flavor"}), 400, "badRequest"
    )
    for bad in ({"minRam": "x"}, {"limit": "-1"}, {"sort_key": "color"}, {"sort_dir": "up"}):
        assert_nova_fault(demo.get("/flavors", params=bad), 400, "badRequest")


def test_flavor_faults_carry_microversion_headers(gateway: ServedGateway, demo_token: str) -> None:
    response = nova(gateway, demo_token, "2.61").get("/flavors/no-such-flavor")
    assert_nova_fault(response, 404, "itemNotFound")
    assert response.headers["OpenStack-API-Version"] == "compute 2.61"
