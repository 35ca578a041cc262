"""An ``aws`` region's flavors are its configured EC2 instance types with their real figures:
openstacksdk and the ``openstack`` CLI show, through a served gateway on moto, what boto3's
``describe_instance_types`` says of the same types on the same emulator; Nova's filters, sort
keys and paging work over them; a server made with one runs exactly that type; they cannot be
created, deleted or shared through the API (Nova's 403 saying where they come from). The sim
region beside it keeps the gateway's shared flavors (``m1.*``) untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interstack.services.compute.flavors import DEFAULT_FLAVORS
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.moto import AWS, aws_settings, ec2, register_ami

SIM = "RegionOne"
#: the aws region's instance types, as configured (t3.nano and t3.large are left out)
CONFIGURED = ["t3.micro", "t3.small", "t3.medium"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    settings = aws_settings(instance_types=CONFIGURED)  # resets the emulator
    settings["default_image"] = register_ami("flavors-image")
    data: Path = tmp_path_factory.mktemp("aws-flavors") / "data"
    config = {
        "regions": [
            {"name": SIM, "backend": "sim"},
            {"name": AWS, "backend": "aws", "settings": settings},
        ]
    }
    with ServedGateway(data, config=config) as served:
        yield served


@pytest.fixture(scope="module")
def sdk(gateway: ServedGateway) -> Iterator[Any]:
    conn = gateway.connect("interstack", AWS)
    try:
        yield conn
    finally:
        conn.close()


def described() -> dict[str, tuple[int, int]]:
    """boto3's figures of the configured types: name -> (vCPUs, MiB)."""
    found = ec2().describe_instance_types(InstanceTypes=CONFIGURED)["InstanceTypes"]
    return {
        t["InstanceType"]: (t["VCpuInfo"]["DefaultVCpus"], t["MemoryInfo"]["SizeInMiB"])
        for t in found
    }


def test_the_sdk_lists_and_shows_the_instance_types_with_ec2s_figures(sdk: Any) -> None:
    figures = described()
    assert sorted(figures) == sorted(CONFIGURED)
    listed = list(sdk.compute.flavors(details=True))
    assert {f.id: (f.vcpus, f.ram) for f in listed} == figures
    for flavor in listed:
        assert flavor.name == flavor.id
        assert (flavor.disk, flavor.ephemeral, flavor.swap) == (0, 0, 0)  # EBS only: the AMI's
        assert flavor.is_public is True
        assert "EBS only" in flavor.description
        shown = sdk.compute.get_flavor(flavor.id)
        assert (shown.name, shown.vcpus, shown.ram) == (flavor.id, *figures[flavor.id])
        assert sdk.compute.fetch_flavor_extra_specs(shown).extra_specs == {}


def test_novas_filters_sort_and_paging_work_over_the_instance_types(sdk: Any) -> None:
    figures = described()
    by_ram = sorted(CONFIGURED, key=lambda t: (figures[t][1], t))
    big = [t for t in by_ram if figures[t][1] >= 2048]
    assert big and len(big) < len(CONFIGURED)  # the filter leaves some out
    assert [f.id for f in sdk.compute.flavors(min_ram=2048, sort_key="memory_mb")] == big
    assert [f.id for f in sdk.compute.flavors(min_disk=1)] == []  # root disks are the AMI's
    down = list(sdk.compute.flavors(sort_key="memory_mb", sort_dir="desc"))
    assert [f.id for f in down] == by_ram[::-1]
    first = sdk.compute.get("/flavors?sort_key=memory_mb&limit=1").json()
    assert [f["id"] for f in first["flavors"]] == by_ram[:1]
    assert "flavors_links" in first  # a next page
    rest = sdk.compute.get(f"/flavors?sort_key=memory_mb&marker={by_ram[0]}").json()
    assert [f["id"] for f in rest["flavors"]] == by_ram[1:]
    bad = sdk.compute.get("/flavors?marker=m1.tiny", raise_exc=False)
    assert bad.status_code == 400, bad.text


def test_the_cli_lists_and_shows_the_instance_types(gateway: ServedGateway) -> None:
    figures = described()
    listed, shown = gateway.cli_batch(
        "interstack",
        ["flavor", "list", "-f", "json"],
        ["flavor", "show", "t3.small", "-f", "json"],
        region=AWS,
    )
    assert {f["ID"]: (f["VCPUs"], f["RAM"]) for f in json.loads(listed)} == figures
    small = json.loads(shown)
    assert (small["name"], small["vcpus"], small["ram"], small["disk"]) == (
        "t3.small",
        *figures["t3.small"],
        0,
    )


def test_the_cli_boots_exactly_the_flavors_instance_type(gateway: ServedGateway) -> None:
    (made,) = gateway.cli_batch(
        "interstack",
        [
            "server", "create", unique("typed"), "--flavor", "t3.micro",
            "--image", "flavors-image", "--nic", "none", "--wait", "-f", "json",
        ],
        region=AWS,
    )  # fmt: skip
    server = json.loads(made)
    reply = ec2().describe_instances(
        Filters=[{"Name": "tag:openstack_id", "Values": [server["id"]]}]
    )
    (instance,) = [i for r in reply["Reservations"] for i in r["Instances"]]
    assert instance["InstanceType"] == "t3.micro"
    gateway.cli("interstack", "--os-region-name", AWS, "server", "delete", "--wait", server["id"])


def test_the_instance_types_cannot_be_changed_through_the_api(gateway: ServedGateway) -> None:
    """Nova's 403 with where the flavors come from; policy first: a member gets Nova's own."""
    admin = gateway.connect("interstack-admin", AWS)
    member = gateway.connect("interstack", AWS)
    try:
        project = member.current_project_id
        changes: list[tuple[str, str, Any]] = [
            ("POST", "/flavors", {"flavor": {"name": "x1", "vcpus": 1, "ram": 64, "disk": 1}}),
            ("DELETE", "/flavors/t3.micro", None),
            ("POST", "/flavors/t3.micro/os-extra_specs", {"extra_specs": {"a": "b"}}),
            ("POST", "/flavors/t3.micro/action", {"addTenantAccess": {"tenant": project}}),
        ]
        for method, path, body in changes:
            answer = admin.compute.request(path, method, json=body, raise_exc=False)
            assert answer.status_code == 403, (path, answer.text)
            message = answer.json()["forbidden"]["message"]
            assert "instance_types setting" in message and AWS in message, message
            as_member = member.compute.request(path, method, json=body, raise_exc=False)
            assert as_member.status_code == 403, as_member.text
            assert "Policy doesn't allow" in as_member.json()["forbidden"]["message"]
        access = admin.compute.get("/flavors/t3.micro/os-flavor-access", raise_exc=False)
        assert access.status_code == 404, access.text  # public, as Nova answers for one
        assert {f.id for f in admin.compute.flavors(is_public=None)} == set(CONFIGURED)
        assert admin.compute.get("/flavors?is_public=false").json()["flavors"] == []
        shared = admin.compute.get("/flavors/1", raise_exc=False)
        assert shared.status_code == 404, shared.text
        assert "t3.micro" in shared.json()["itemNotFound"]["message"]
    finally:
        admin.close()
        member.close()


def test_the_sim_region_keeps_the_shared_flavors(gateway: ServedGateway) -> None:
    sim = gateway.connect("interstack", SIM)
    try:
        shown = {f.id: (f.name, f.vcpus, f.ram, f.disk) for f in sim.compute.flavors()}
    finally:
        sim.close()
    assert shown == {i: (n, c, r, d) for i, n, c, r, d in DEFAULT_FLAVORS}
