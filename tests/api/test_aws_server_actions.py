"""Nova's actions EC2 has no verb for, through openstacksdk on an ``aws`` region (moto), with
boto3 against the same emulator as the witness: pause and suspend stop the instance and show
the state OpenStack clients wait for (``PAUSED``, ``SUSPENDED``; only unpause or resume start it
again), a resize stops it, changes its instance type and starts it (revert: back to the old
type; confirm: kept); the region's flavors are its configured instance types, a boot or a
resize runs exactly the type its flavor names, and a shared flavor (m1.*) or a type outside the
list is refused, naming the region's flavors. Metadata changed after
the boot is mirrored in the instance's ``meta:`` tags, as the boot wrote it. A boot EC2 refuses
is Nova's fault naming EC2's code, nothing of it left.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interstack.store.models import Server
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.moto import AWS, aws_gateway_booting, aws_sdk, ec2

#: the region's instance types (its flavors): t3.nano, t3.micro and t3.medium are left out
CONFIGURED = ["t3.small", "t3.large"]
POWER_TAG = "interstack:power"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    data: Path = tmp_path_factory.mktemp("aws-actions") / "data"
    with aws_gateway_booting(data, "actions-image", instance_types=CONFIGURED) as served:
        yield served


@pytest.fixture(scope="module")
def sdk(gateway: ServedGateway) -> Iterator[Any]:
    with aws_sdk(gateway) as conn:
        yield conn


def instance_of(server_id: str) -> dict[str, Any]:
    """The instance whose ``openstack_id`` tag is the server's id, with its tags as a dict."""
    reply = ec2().describe_instances(Filters=[{"Name": "tag:openstack_id", "Values": [server_id]}])
    (instance,) = [
        i
        for r in reply["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]
    instance["TagMap"] = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    return dict(instance)


def settle(sdk: Any, server: Any, status: str) -> Any:
    return sdk.compute.wait_for_server(
        sdk.compute.get_server(server), status=status, wait=60, interval=0.2
    )


def booted(sdk: Any, flavor: str, **extra: Any) -> Any:
    image = next(i for i in sdk.image.images() if i.name == "actions-image")
    server = sdk.compute.create_server(
        name=unique("actions"), flavor_id=flavor, image_id=image.id, networks="none", **extra
    )
    return sdk.compute.wait_for_server(server, status="ACTIVE", wait=120, interval=0.2)


def deleted(sdk: Any, server: Any) -> None:
    sdk.compute.delete_server(server)
    sdk.compute.wait_for_delete(server, wait=60, interval=0.2)
    live = ["pending", "running", "shutting-down", "stopping", "stopped"]
    reply = ec2().describe_instances(
        Filters=[
            {"Name": "tag:openstack_id", "Values": [server.id]},
            {"Name": "instance-state-name", "Values": live},
        ]
    )
    assert reply["Reservations"] == []


def test_pause_and_suspend_stop_the_instance_and_show_novas_states(sdk: Any) -> None:
    server = booted(sdk, "t3.small")
    for stop, status, resume in (
        (sdk.compute.pause_server, "PAUSED", sdk.compute.unpause_server),
        (sdk.compute.suspend_server, "SUSPENDED", sdk.compute.resume_server),
    ):
        stop(server)
        shown = settle(sdk, server, status)
        assert shown.vm_state == status.lower()
        instance = instance_of(server.id)
        assert instance["State"]["Name"] == "stopped"
        assert instance["TagMap"][POWER_TAG] == status.lower()
        # EC2 has neither state: only Nova's way back starts it, a plain start is refused
        refused = sdk.compute.post(
            f"/servers/{server.id}/action", json={"os-start": None}, raise_exc=False
        )
        assert refused.status_code == 409, refused.text
        assert instance_of(server.id)["State"]["Name"] == "stopped"
        resume(server)
        settle(sdk, server, "ACTIVE")
        instance = instance_of(server.id)
        assert instance["State"]["Name"] == "running"
        assert POWER_TAG not in instance["TagMap"]
    deleted(sdk, server)


def test_a_resize_changes_the_instance_type_reverted_or_confirmed(sdk: Any) -> None:
    server = booted(sdk, "t3.small")
    assert instance_of(server.id)["InstanceType"] == "t3.small"

    sdk.compute.resize_server(server, "t3.large")
    settle(sdk, server, "VERIFY_RESIZE")
    instance = instance_of(server.id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("t3.large", "running")
    sdk.compute.revert_server_resize(server)
    reverted = settle(sdk, server, "ACTIVE")
    assert reverted.flavor.original_name == "t3.small"
    instance = instance_of(server.id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("t3.small", "running")

    sdk.compute.stop_server(server)
    settle(sdk, server, "SHUTOFF")
    sdk.compute.resize_server(server, "t3.large")
    settle(sdk, server, "VERIFY_RESIZE")
    sdk.compute.confirm_server_resize(server)
    resized = settle(sdk, server, "SHUTOFF")  # a stopped server's resize leaves it stopped
    (large,) = ec2().describe_instance_types(InstanceTypes=["t3.large"])["InstanceTypes"]
    assert (resized.flavor.original_name, resized.flavor.vcpus, resized.flavor.ram) == (
        "t3.large",
        large["VCpuInfo"]["DefaultVCpus"],
        large["MemoryInfo"]["SizeInMiB"],
    )
    instance = instance_of(server.id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("t3.large", "stopped")
    # a shared flavor is none of this region's: the resize is refused, naming its flavors
    refused = sdk.compute.post(
        f"/servers/{server.id}/action", json={"resize": {"flavorRef": "3"}}, raise_exc=False
    )
    assert refused.status_code == 400, refused.text
    assert all(t in refused.json()["badRequest"]["message"] for t in CONFIGURED), refused.text
    deleted(sdk, server)


def test_a_server_booted_with_a_shared_flavor_before_resizes_and_reverts(
    sdk: Any, gateway: ServedGateway
) -> None:
    """A server booted before the region's flavors were its instance types keeps m1.small
    (1 vCPU, 2 GiB, 20 GB: it runs on t3.small, the smallest type holding it): it is shown,
    resizes to an instance type (its EBS root keeps its size) and reverts to the type it had."""
    server = booted(sdk, "t3.small")
    # before 2.47 a server names its flavor by id and links it in its region: a t3.small
    v21 = {"OpenStack-API-Version": "compute 2.1"}
    named = sdk.compute.get(f"/servers/{server.id}", headers=v21).json()["server"]["flavor"]
    root = sdk.compute.get_endpoint().split("/v2.1")[0]
    assert named == {
        "id": "t3.small",
        "links": [{"rel": "bookmark", "href": f"{root}/flavors/t3.small"}],
    }, named
    linked = sdk.compute.get("/flavors/t3.small", headers=v21).json()["flavor"]
    assert (linked["name"], linked["disk"]) == ("t3.small", 0)
    old = {"id": "2", "original_name": "m1.small", "vcpus": 1, "ram": 2048, "disk": 20}
    with gateway.store() as db, db.session() as session:
        row = session.get(Server, server.id)
        assert row is not None
        row.flavor_id, row.flavor = "2", {**row.flavor, **old}
    assert sdk.compute.get_server(server.id).flavor.original_name == "m1.small"

    sdk.compute.resize_server(server, "t3.large")
    settle(sdk, server, "VERIFY_RESIZE")
    assert instance_of(server.id)["InstanceType"] == "t3.large"
    sdk.compute.revert_server_resize(server)
    reverted = settle(sdk, server, "ACTIVE")
    assert (reverted.flavor.original_name, reverted.flavor.disk) == ("m1.small", 20)
    instance = instance_of(server.id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("t3.small", "running")
    deleted(sdk, server)


def test_a_shared_or_unconfigured_flavor_is_refused_naming_the_regions_flavors(
    sdk: Any,
) -> None:
    """m1.tiny (the gateway's shared flavors) and t3.nano (an instance type EC2 has but the
    region does not list) are not the region's flavors: a boot with either is Nova's 400 for
    a flavor it does not know, naming the region's instance types, and nothing is made."""
    image = next(i for i in sdk.image.images() if i.name == "actions-image")
    for flavor in ("1", "m1.tiny", "t3.nano"):
        answer = sdk.compute.post(
            "/servers",
            json={"server": {"name": unique("shared"), "flavorRef": flavor,
                             "imageRef": image.id, "networks": "none"}},
            raise_exc=False,
            microversion="2.37",
        )  # fmt: skip
        assert answer.status_code == 400, answer.text
        message = answer.json()["badRequest"]["message"]
        assert f"Flavor {flavor} could not be found" in message, message
        assert all(name in message for name in CONFIGURED), message
    assert list(sdk.compute.servers()) == []
    live = {"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]}
    assert ec2().describe_instances(Filters=[live])["Reservations"] == []


def test_metadata_changed_after_the_boot_is_mirrored_in_the_instances_tags(sdk: Any) -> None:
    server = booted(sdk, "t3.small", metadata={"owner": "ops", "tier": "web"})

    def meta_tags() -> dict[str, str]:
        found = instance_of(server.id)["TagMap"]
        return {k: v for k, v in found.items() if k.startswith("meta:")}

    assert meta_tags() == {"meta:owner": "ops", "meta:tier": "web"}
    sdk.compute.set_server_metadata(server, tier="db", zone="b")  # merged
    assert meta_tags() == {"meta:owner": "ops", "meta:tier": "db", "meta:zone": "b"}
    gone = sdk.compute.delete(f"/servers/{server.id}/metadata/owner")
    assert gone.status_code == 204, gone.text
    assert meta_tags() == {"meta:tier": "db", "meta:zone": "b"}
    replaced = sdk.compute.put(
        f"/servers/{server.id}/metadata", json={"metadata": {"only": "this"}}
    )  # the whole metadata replaced
    assert replaced.status_code == 200, replaced.text
    assert meta_tags() == {"meta:only": "this"}
    assert instance_of(server.id)["TagMap"]["openstack_id"] == server.id  # the others stay
    assert sdk.compute.get_server_metadata(server).metadata == {"only": "this"}
    deleted(sdk, server)


def test_a_boot_ec2_refuses_is_novas_fault_with_ec2s_code(sdk: Any) -> None:
    """The subnet deleted in EC2 behind the gateway's back: the boot's port, an ENI in it, is
    refused; Nova's fault names EC2's code, and neither server nor port is left."""
    net = sdk.network.create_network(name=unique("gone"))
    subnet = sdk.network.create_subnet(network_id=net.id, cidr="10.90.0.0/24", ip_version=4)
    (aws_subnet,) = ec2().describe_subnets(
        Filters=[{"Name": "tag:interstack:gateway-id", "Values": [subnet.id]}]
    )["Subnets"]
    ec2().delete_subnet(SubnetId=aws_subnet["SubnetId"])
    image = next(i for i in sdk.image.images() if i.name == "actions-image")
    created = sdk.compute.post(
        "/servers",
        json={"server": {"name": unique("refused"), "flavorRef": "t3.small", "imageRef": image.id,
                         "networks": [{"uuid": net.id}]}},
        raise_exc=False,
    )  # fmt: skip
    assert created.status_code == 400, created.text
    assert "InvalidSubnetID.NotFound" in created.json()["badRequest"]["message"]
    assert list(sdk.compute.servers()) == []  # nothing half-made
    ports = sdk.network.ports(network_id=net.id)
    assert [p.device_owner for p in ports] == ["network:dhcp"]  # the network's own only
    mine = [{"Name": "tag:interstack:region", "Values": [AWS]}]  # not moto's primary ENIs
    assert ec2().describe_network_interfaces(Filters=mine)["NetworkInterfaces"] == []
    live = {"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]}
    assert ec2().describe_instances(Filters=[live])["Reservations"] == []
    sdk.network.delete_subnet(subnet)
    sdk.network.delete_network(net)
