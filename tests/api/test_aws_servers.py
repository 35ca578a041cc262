"""Servers in an ``aws`` region on moto, through the gateway: Glance lists the AMIs the settings
select (the account's own and the configured filters' matches), openstacksdk and the
``openstack`` CLI boot a server from one on a network with a key pair, a security group, user
data and metadata, attach a floating IP, power it, read its console, capture it as an AMI and
delete it. After each step boto3 against the same emulator shows what docs/aws-backend.md
promises, and nothing is left after deletion.
"""

from __future__ import annotations

import base64
import functools
import json
import operator
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interstack.client import networks as cloud
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.moto import AWS, aws_gateway, aws_sdk, aws_settings, ec2, register_ami
from tests.support.network import external_network, neutron
from tests.support.waiting import eventually

#: a few of moto's Amazon AMIs (the filter a region's settings would carry)
AMI_FILTER = {"owners": ["amazon"], "filters": {"name": ["al2023-ami-2023*-x86_64"]}}
OWN_AMI = "own-golden-image"
USER_DATA = b"#cloud-config\nruncmd: [echo hello]\n"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    # every image listing reads the AMIs again (the default waits a minute between reads)
    settings = aws_settings(images=[AMI_FILTER], image_refresh_seconds=0)  # resets the emulator
    register_ami(OWN_AMI)
    data = tmp_path_factory.mktemp("aws-servers") / "data"
    with aws_gateway(data, AWS, settings) as served:
        with neutron(served, served.token("interstack-admin"), AWS) as admin:
            external_network(admin)
        yield served


@pytest.fixture(scope="module")
def sdk(gateway: ServedGateway) -> Iterator[Any]:
    with aws_sdk(gateway) as conn:
        yield conn


@pytest.fixture(scope="module")
def network(sdk: Any) -> Iterator[tuple[Any, Any, Any]]:
    """A network and subnet behind a router to the public network, and a security group."""
    routed = cloud.routed_network(sdk, unique("aws"), "10.50.0.0/24", cloud.external_network(sdk))
    net, subnet, router = routed.network, routed.subnet, routed.router
    group = cloud.ssh_group(sdk, unique("ssh"))
    yield net, subnet, group
    sdk.network.delete_security_group(group)
    sdk.network.remove_interface_from_router(router, subnet=subnet.id)
    sdk.network.delete_router(router)
    sdk.network.delete_subnet(subnet)
    sdk.network.delete_network(net)


def amis(**request: Any) -> dict[str, dict[str, Any]]:
    return {i["ImageId"]: i for i in ec2().describe_images(**request)["Images"]}


def glance_ami(sdk: Any, name: str) -> Any:
    return next(i for i in sdk.image.images() if i.name == name)


def instance_of(server_id: str) -> dict[str, Any]:
    """The live EC2 instance whose ``openstack_id`` tag is the server's id."""
    reply = ec2().describe_instances(
        Filters=[
            {"Name": "tag:openstack_id", "Values": [server_id]},
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "stopping", "stopped"],
            },
        ]
    )
    (instance,) = [i for r in reply["Reservations"] for i in r["Instances"]]
    return dict(instance)


def tag_map(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def nothing_left(server_id: str, ports: list[str]) -> None:
    """No live instance, key pair, ENI of the server's ports in the emulator."""
    reply = ec2().describe_instances(
        Filters=[
            {"Name": "tag:openstack_id", "Values": [server_id]},
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "stopping", "stopped"],
            },
        ]
    )
    assert reply["Reservations"] == []
    keys = ec2().describe_key_pairs()["KeyPairs"]
    assert f"interstack-{server_id}" not in {k["KeyName"] for k in keys}
    enis = ec2().describe_network_interfaces(
        Filters=[{"Name": "tag:interstack:gateway-id", "Values": ports or ["none"]}]
    )["NetworkInterfaces"]
    assert enis == []


def test_glance_lists_the_selected_amis_only(sdk: Any, gateway: ServedGateway) -> None:
    selected = amis(
        Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023*-x86_64"]}]
    )
    (own_id,) = amis(Owners=["self"])
    assert selected
    images = list(sdk.image.images())
    by_ami = {i.properties.get("aws_image_id"): i for i in images}
    assert set(by_ami) == {*selected, own_id}  # never the whole public catalogue
    for ami_id, ami in selected.items():
        shown = by_ami[ami_id]
        assert (shown.name, shown.status, shown.visibility) == (ami["Name"], "active", "public")
        assert (shown.disk_format, shown.container_format) == ("ami", "ami")
        assert shown.architecture == "x86_64"
    assert by_ami[own_id].name == OWN_AMI


def test_glance_follows_amis_registered_and_deregistered_while_it_runs(sdk: Any) -> None:
    made = register_ami("registered-later")
    shown = glance_ami(sdk, "registered-later")
    assert shown.properties["aws_image_id"] == made
    assert (shown.status, shown.visibility, shown.disk_format) == ("active", "public", "ami")
    uploaded = sdk.image.create_image(
        name=unique("kept"), disk_format="raw", container_format="bare"
    )

    ec2().deregister_image(ImageId=made)
    listed = {i.id: i.name for i in sdk.image.images()}
    assert shown.id not in listed
    assert "registered-later" not in listed.values()
    assert listed[uploaded.id] == uploaded.name  # only images the cloud provided go
    assert OWN_AMI in listed.values()
    sdk.image.delete_image(uploaded)


def test_the_sdk_runs_a_server_lifecycle_mapped_onto_ec2(
    sdk: Any, network: tuple[Any, Any, Any]
) -> None:
    net, subnet, group = network
    image = glance_ami(sdk, OWN_AMI)
    keypair = sdk.compute.create_keypair(name=unique("key"))
    flavor = sdk.compute.find_flavor("t3.micro", ignore_missing=False)
    created = sdk.compute.create_server(
        name=unique("aws"),
        flavor_id=flavor.id,
        image_id=image.id,
        networks=[{"uuid": net.id}],
        key_name=keypair.name,
        security_groups=[{"name": group.name}],
        user_data=base64.b64encode(USER_DATA).decode(),
        metadata={"owner": "sdk", "tier": "web"},
    )
    server = sdk.compute.wait_for_server(created, status="ACTIVE", wait=120, interval=0.2)

    instance = instance_of(server.id)
    labels = tag_map(instance)
    assert labels["openstack_id"] == server.id
    assert (labels["meta:owner"], labels["meta:tier"]) == ("sdk", "web")
    assert labels["interstack:region"] == AWS
    assert instance["ImageId"] == image.properties["aws_image_id"]
    assert instance["KeyName"] == f"interstack-{server.id}"
    (size,) = ec2().describe_instance_types(InstanceTypes=[instance["InstanceType"]])[
        "InstanceTypes"
    ]
    # the flavor is the instance type: exactly it, with EC2's own figures
    assert instance["InstanceType"] == flavor.name == "t3.micro"
    assert size["VCpuInfo"]["DefaultVCpus"] == flavor.vcpus
    assert size["MemoryInfo"]["SizeInMiB"] == flavor.ram
    user_data = ec2().describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="userData"
    )
    assert base64.b64decode(user_data["UserData"]["Value"]) == USER_DATA

    (port,) = sdk.network.ports(device_id=server.id)
    (aws_group,) = ec2().describe_security_groups(
        Filters=[{"Name": "tag:interstack:gateway-id", "Values": [group.id]}]
    )["SecurityGroups"]
    (eni,) = instance["NetworkInterfaces"]
    assert tag_map(eni).get("interstack:gateway-id", port.id) == port.id
    aws_subnet = ec2().describe_subnets(SubnetIds=[eni["SubnetId"]])["Subnets"][0]
    assert tag_map(aws_subnet)["interstack:gateway-id"] == subnet.id
    assert [g["GroupId"] for g in eni["Groups"]] == [aws_group["GroupId"]]
    assert eni["PrivateIpAddress"] == port.fixed_ips[0]["ip_address"]
    addresses = sdk.compute.get_server(server).addresses
    assert {a["addr"] for a in addresses[net.name]} == {ip["ip_address"] for ip in port.fixed_ips}
    assert {a["OS-EXT-IPS-MAC:mac_addr"] for a in addresses[net.name]} == {port.mac_address}

    fip = cloud.floating_ip(sdk, cloud.external_network(sdk), port.id)
    (eip,) = ec2().describe_addresses(PublicIps=[fip.floating_ip_address])["Addresses"]
    assert (eip["NetworkInterfaceId"], eip["PrivateIpAddress"]) == (
        eni["NetworkInterfaceId"],
        port.fixed_ips[0]["ip_address"],
    )
    shown = sdk.compute.get_server(server).addresses[net.name]
    assert {(a["addr"], a["OS-EXT-IPS:type"]) for a in shown} >= {
        (fip.floating_ip_address, "floating")
    }

    sdk.compute.stop_server(server)
    sdk.compute.wait_for_server(
        sdk.compute.get_server(server), status="SHUTOFF", wait=60, interval=0.2
    )
    assert instance_of(server.id)["State"]["Name"] == "stopped"
    sdk.compute.start_server(server)
    sdk.compute.wait_for_server(
        sdk.compute.get_server(server), status="ACTIVE", wait=60, interval=0.2
    )
    assert instance_of(server.id)["State"]["Name"] == "running"
    sdk.compute.reboot_server(server, "SOFT")
    sdk.compute.wait_for_server(
        sdk.compute.get_server(server), status="ACTIVE", wait=60, interval=0.2
    )
    assert instance_of(server.id)["State"]["Name"] == "running"
    console = sdk.compute.get_server_console_output(server)["output"]
    expected = ec2().get_console_output(InstanceId=instance["InstanceId"]).get("Output", "")
    assert console.splitlines() == expected.replace("\r\n", "\n").splitlines() != []

    snapshot = sdk.compute.create_server_image(server, unique("snap"), wait=True, timeout=120)
    shown_snapshot = sdk.image.get_image(snapshot.id)
    assert (shown_snapshot.status, shown_snapshot.visibility) == ("active", "private")
    assert snapshot.id in {i.id for i in sdk.image.images()}  # a re-read AMI list keeps it
    (ami,) = amis(
        Owners=["self"], Filters=[{"Name": "tag:interstack:gateway-id", "Values": [snapshot.id]}]
    ).values()
    assert ami["State"] == "available"
    snapshots = [m["Ebs"]["SnapshotId"] for m in ami["BlockDeviceMappings"] if "Ebs" in m]
    sdk.image.delete_image(snapshot)
    assert ami["ImageId"] not in amis(Owners=["self"])  # deregistered with its snapshots
    remaining = {s["SnapshotId"] for s in ec2().describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert remaining.isdisjoint(snapshots)

    sdk.network.delete_ip(fip)
    assert (
        ec2().describe_addresses(
            Filters=[{"Name": "tag:interstack:gateway-id", "Values": [fip.id]}]
        )["Addresses"]
        == []
    )
    sdk.compute.delete_server(server)
    sdk.compute.wait_for_delete(server, wait=60, interval=0.2)
    sdk.compute.delete_keypair(keypair)
    nothing_left(server.id, [port.id])


def test_the_cli_runs_a_server_lifecycle_mapped_onto_ec2(
    gateway: ServedGateway, sdk: Any, network: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    net, _subnet, group = network
    ami_name = sorted(
        a["Name"]
        for a in amis(
            Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023*-x86_64"]}]
        ).values()
    )[0]

    def run(*args: str) -> None:
        gateway.cli("interstack", "--os-region-name", AWS, *args)

    def batch(*commands: list[str]) -> list[str]:
        """Commands in a row in one ``openstack`` process (each must succeed)."""
        return gateway.cli_batch("interstack", *commands, region=AWS)

    public_key = tmp_path / "key.pub"
    public_key.write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGc1LMfaNjp0y6RBeSmEOJaHjxO2OlzAnCqJhE/ChbEV cli\n"
    )
    key = unique("cli-key")
    user_data = tmp_path / "user-data"
    user_data.write_bytes(USER_DATA)
    _, server = batch(
        ["keypair", "create", "--public-key", str(public_key), key],
        [
            "server", "create", unique("cli"), "--image", ami_name, "--flavor", "t3.micro",
            "--network", net.id, "--key-name", key, "--security-group", group.id,
            "--user-data", str(user_data), "--property", "owner=cli", "--wait", "-f", "json",
        ],
    )  # fmt: skip
    server = json.loads(server)
    instance = instance_of(server["id"])
    assert instance["InstanceType"] == "t3.micro"  # exactly the flavor's instance type
    assert tag_map(instance)["meta:owner"] == "cli"
    assert ec2().describe_key_pairs(KeyNames=[f"interstack-{server['id']}"])["KeyPairs"]
    for action, status, state in (
        ("stop", "SHUTOFF", "stopped"),
        ("start", "ACTIVE", "running"),
        ("reboot", "ACTIVE", "running"),
    ):
        run("server", action, server["id"])
        # the wait looks through openstacksdk (a request a look, not a CLI process); the
        # status it waited for is the CLI's own show's below
        eventually(
            lambda: str(sdk.compute.get_server(server["id"]).status),
            functools.partial(operator.eq, status),
            f"server {action}",
        )
        (shown,) = batch(["server", "show", server["id"], "-f", "json"])
        assert json.loads(shown)["status"] == status
        assert instance_of(server["id"])["State"]["Name"] == state
    console, ports = batch(
        ["console", "log", "show", server["id"]],
        ["port", "list", "--device-id", server["id"], "-f", "json"],
    )
    assert console.strip()
    batch(["server", "delete", "--wait", server["id"]], ["keypair", "delete", key])
    nothing_left(server["id"], [p["ID"] for p in json.loads(ports)])


def test_a_server_ec2_runs_at_once_is_active_at_the_first_look_and_gone_at_once(
    sdk: Any, network: tuple[Any, Any, Any]
) -> None:
    """EC2 answers a boot's and a delete's calls at once: the create and the delete make their
    task's first step before they answer, so where the instance runs at once (the emulator)
    the first look after the create shows the server ACTIVE, launched, and the first look
    after the delete finds it gone, with nothing left in EC2."""
    net, _subnet, group = network
    created = sdk.compute.create_server(
        name=unique("aws"),
        flavor_id="t3.micro",
        image_id=glance_ami(sdk, OWN_AMI).id,
        networks=[{"uuid": net.id}],
        security_groups=[{"name": group.name}],
    )
    shown = sdk.compute.get(f"/servers/{created.id}", raise_exc=False).json()["server"]
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    assert shown["OS-SRV-USG:launched_at"] is not None
    assert instance_of(created.id)["State"]["Name"] == "running"
    ports = [p.id for p in sdk.network.ports(device_id=created.id)]
    assert ports

    sdk.compute.delete_server(created)

    assert sdk.compute.get(f"/servers/{created.id}", raise_exc=False).status_code == 404
    nothing_left(created.id, ports)


def test_cinder_volumes_and_snapshots_are_ebs(sdk: Any) -> None:
    volume = sdk.block_storage.create_volume(size=2, name=unique("data"))
    volume = sdk.block_storage.wait_for_status(volume, "available", wait=60, interval=0.2)
    (ebs,) = ec2().describe_volumes(
        Filters=[{"Name": "tag:interstack:gateway-id", "Values": [volume.id]}]
    )["Volumes"]
    assert (ebs["Size"], ebs["State"], tag_map(ebs)["interstack:region"]) == (2, "available", AWS)

    snapshot = sdk.block_storage.create_snapshot(volume_id=volume.id, name=unique("snap"))
    snapshot = sdk.block_storage.wait_for_status(snapshot, "available", wait=60, interval=0.2)
    (ebs_snapshot,) = ec2().describe_snapshots(
        Filters=[{"Name": "tag:interstack:gateway-id", "Values": [snapshot.id]}]
    )["Snapshots"]
    assert (ebs_snapshot["VolumeId"], ebs_snapshot["VolumeSize"]) == (ebs["VolumeId"], 2)

    restored = sdk.block_storage.create_volume(size=3, snapshot_id=snapshot.id)
    restored = sdk.block_storage.wait_for_status(restored, "available", wait=60, interval=0.2)
    (ebs_restored,) = ec2().describe_volumes(
        Filters=[{"Name": "tag:interstack:gateway-id", "Values": [restored.id]}]
    )["Volumes"]
    assert (ebs_restored["SnapshotId"], ebs_restored["Size"]) == (ebs_snapshot["SnapshotId"], 3)

    for gone in (restored, snapshot, volume):
        delete = (
            sdk.block_storage.delete_snapshot
            if gone is snapshot
            else sdk.block_storage.delete_volume
        )
        delete(gone)
        sdk.block_storage.wait_for_delete(gone, wait=60, interval=0.2)
    mine = [{"Name": "tag:interstack:gateway-id", "Values": [volume.id, snapshot.id, restored.id]}]
    assert ec2().describe_volumes(Filters=mine)["Volumes"] == []
    assert ec2().describe_snapshots(Filters=mine)["Snapshots"] == []


def test_nova_attaches_a_cinder_volume_as_ebs_at_the_device_asked_for(sdk: Any) -> None:
    server = sdk.compute.create_server(
        name=unique("attach"),
        flavor_id="t3.micro",
        image_id=glance_ami(sdk, OWN_AMI).id,
        networks="none",
    )
    server = sdk.compute.wait_for_server(server, status="ACTIVE", wait=120, interval=0.2)
    volume = sdk.block_storage.create_volume(size=1, name=unique("data"))
    volume = sdk.block_storage.wait_for_status(volume, "available", wait=60, interval=0.2)

    sdk.compute.create_volume_attachment(server, volume_id=volume.id, device="/dev/sdg")
    sdk.block_storage.wait_for_status(volume, "in-use", wait=60, interval=0.2)
    (ebs,) = ec2().describe_volumes(
        Filters=[{"Name": "tag:interstack:gateway-id", "Values": [volume.id]}]
    )["Volumes"]
    assert [(a["InstanceId"], a["Device"]) for a in ebs["Attachments"]] == [
        (instance_of(server.id)["InstanceId"], "/dev/sdg")
    ]
    (shown,) = sdk.compute.volume_attachments(server)
    assert (shown.volume_id, shown.device) == (volume.id, "/dev/sdg")

    sdk.compute.delete_volume_attachment(server, volume.id)
    sdk.block_storage.wait_for_status(volume, "available", wait=60, interval=0.2)
    (ebs,) = ec2().describe_volumes(VolumeIds=[ebs["VolumeId"]])["Volumes"]
    assert ebs["Attachments"] == []
    sdk.block_storage.delete_volume(volume)
    sdk.block_storage.wait_for_delete(volume, wait=60, interval=0.2)
    sdk.compute.delete_server(server)
    sdk.compute.wait_for_delete(server, wait=60, interval=0.2)
    mine = [{"Name": "tag:interstack:gateway-id", "Values": [volume.id]}]
    assert ec2().describe_volumes(Filters=mine)["Volumes"] == []
    nothing_left(server.id, [])
