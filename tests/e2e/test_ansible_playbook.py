"""Users' Ansible ``openstack.cloud`` playbooks run unchanged against a served gateway.

``ansible-playbook`` (a subprocess, local connection, this venv's python as the interpreter)
runs playbooks/deploy.yml with the gateway's clouds.yaml: a routed network, a security group,
a keypair, an uploaded image and a server with a floating IP (auto_ip, then the floating_ip
module finds it), then gathers and asserts what the cloud reports. openstacksdk then checks
independently that each resource exists as asked. The second run must change nothing;
playbooks/teardown.yml removes everything (floating IPs released by the floating_ip module),
twice, the second time changing nothing, and openstacksdk finds nothing left. In between,
playbooks/volume_*.yml attach a new volume to the server, then detach and delete it.

The second runs of deploy.yml and volume_*.yml are on the sim region only: a second run changes
nothing when what the modules read back through the API matches what they ask, and the gateway
answers from its store, whatever the backend; on aws each only repeated that, at 5-15 s of
Ansible a playbook. The teardown runs twice on both: its second run finds nothing to remove.

The same playbooks run on a sim region and on an aws region backed by moto: the gateway's
clouds.yaml names its first region as each cloud's ``region_name``, so the playbooks select the
region without a change. On aws, boto3 sees in EC2 what the playbooks made (the instance on
the port's ENI with its tags and user data, the group's rules, the Elastic IP, the route table
to the internet gateway, the EBS attachment) and nothing of interstack's left after the
teardown.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.api.servers.conftest import FAST_SIM
from tests.support import ansible
from tests.support.ansible import PlaybookRun
from tests.support.gateway import ServedGateway
from tests.support.moto import AWS, aws_settings, ec2, tagged_in_region

PLAYBOOKS = Path(__file__).parent / "playbooks"
#: the cloud name as the gateway's clouds.yaml writes it: the demo project's member
CLOUD = "interstack"
PREFIX = "ans"
IMAGE_DATA = b"interstack ansible test image\n" * 512
#: what deploy.yml gives the server; checked against what the gateway stored
USER_DATA = "#cloud-config\npackages: [nginx]\n"
METADATA = {"role": "web", "owner": f"{PREFIX}-team"}


def gateway_config(backend: str) -> dict[str, Any]:
    """A gateway with one region of ``backend``: the clouds' ``region_name``."""
    if backend == "aws":
        return {"regions": [{"name": AWS, "backend": "aws", "settings": aws_settings()}]}
    return FAST_SIM


@pytest.fixture(scope="module", params=["sim", "aws"])
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedGateway]:
    """A gateway whose operator made an external network ``public`` for floating IPs."""
    data = tmp_path_factory.mktemp(f"ansible-{request.param}") / "data"
    with ServedGateway(data, config=gateway_config(request.param)) as served:
        admin = served.connect("interstack-admin")
        try:
            public = admin.network.create_network(name="public", is_router_external=True)
            admin.network.create_subnet(
                network_id=public.id, cidr="203.0.113.0/24", ip_version=4, is_dhcp_enabled=False
            )
        finally:
            admin.close()
        yield served


@pytest.fixture(scope="module")
def public_key() -> str:
    key = Ed25519PrivateKey.generate().public_key()
    openssh = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return openssh.decode()


def smallest_flavor(gateway: ServedGateway) -> str:
    """The region's smallest flavor of 512 MiB or more, chosen by Nova's filters as a user
    would: m1.tiny on sim, the instance type t3.nano on aws (its flavors are its types)."""
    conn = gateway.connect(CLOUD)
    try:
        first, *_ = conn.compute.flavors(min_ram=512, sort_key="memory_mb", sort_dir="asc")
        return str(first.name)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def workdir(
    tmp_path_factory: pytest.TempPathFactory, public_key: str, cloud: ServedGateway
) -> Path:
    """ansible-playbook's working directory: the variables file, the image, Ansible's home."""
    work = tmp_path_factory.mktemp("playbook")
    (work / "image.raw").write_bytes(IMAGE_DATA)
    variables = {
        "cloud": CLOUD,
        "prefix": PREFIX,
        "public_network": "public",
        "image_file": str(work / "image.raw"),
        "public_key": public_key,
        "flavor": smallest_flavor(cloud),
    }
    (work / "vars.json").write_text(json.dumps(variables))
    return work


def run_playbook(gateway: ServedGateway, workdir: Path, name: str) -> PlaybookRun:
    return ansible.run_playbook(gateway, workdir, PLAYBOOKS / name)


@pytest.fixture
def proves_reruns(request: pytest.FixtureRequest) -> bool:
    """Whether this test's region runs each playbook again to see it change nothing (sim only:
    see the module's docstring)."""
    backend: str = request.node.callspec.params["cloud"]
    return backend == "sim"


def run_again_changing_nothing(
    proves_reruns: bool, gateway: ServedGateway, workdir: Path, name: str
) -> None:
    if proves_reruns:
        run_playbook(gateway, workdir, name).assert_changed_nothing()


@pytest.fixture(scope="module")
def deployed(cloud: ServedGateway, workdir: Path) -> PlaybookRun:
    run = run_playbook(cloud, workdir, "deploy.yml")
    recap = run.assert_succeeded()
    assert recap["changed"] > 0, run.output
    return run


@pytest.fixture
def conn(cloud: ServedGateway) -> Iterator[Any]:
    """openstacksdk as the playbook's own user, to check what the playbook made."""
    connection = cloud.connect(CLOUD)
    yield connection
    connection.close()


def test_deploy_makes_what_the_playbook_asks_for(
    deployed: PlaybookRun, cloud: ServedGateway, conn: Any, public_key: str
) -> None:
    assert "All assertions passed" in deployed.output
    network = conn.network.find_network(f"{PREFIX}-net", ignore_missing=False)
    assert network.mtu == 1450
    subnet = conn.network.find_subnet(f"{PREFIX}-subnet", ignore_missing=False)
    assert subnet.network_id == network.id
    assert (subnet.cidr, subnet.gateway_ip) == ("10.42.0.0/24", "10.42.0.1")
    assert subnet.allocation_pools == [{"start": "10.42.0.10", "end": "10.42.0.200"}]
    assert subnet.dns_nameservers == ["10.42.0.2"]

    public = conn.network.find_network("public", ignore_missing=False)
    router = conn.network.find_router(f"{PREFIX}-router", ignore_missing=False)
    assert router.external_gateway_info["network_id"] == public.id
    (interface,) = conn.network.ports(device_id=router.id, device_owner="network:router_interface")
    assert interface.fixed_ips == [{"subnet_id": subnet.id, "ip_address": "10.42.0.1"}]

    group = conn.network.find_security_group(f"{PREFIX}-sg", ignore_missing=False)
    assert group.description == "ssh and ping from anywhere"
    ingress = {
        (r["protocol"], r["port_range_min"], r["port_range_max"], r["remote_ip_prefix"])
        for r in group.security_group_rules
        if r["direction"] == "ingress"
    }
    assert ingress == {("tcp", 22, 22, "0.0.0.0/0"), ("icmp", None, None, "0.0.0.0/0")}

    keypair = conn.compute.find_keypair(f"{PREFIX}-key", ignore_missing=False)
    assert keypair.public_key.strip() == public_key

    image = conn.image.find_image(f"{PREFIX}-image", ignore_missing=False)
    assert (image.status, image.disk_format, image.container_format) == ("active", "raw", "bare")
    assert image.size == len(IMAGE_DATA)
    assert image.checksum == hashlib.md5(IMAGE_DATA, usedforsecurity=False).hexdigest()
    assert image.tags == [PREFIX]

    server = conn.compute.find_server(f"{PREFIX}-server", ignore_missing=False)
    server = conn.compute.get_server(server.id)
    assert server.status == "ACTIVE"
    assert server.key_name == keypair.name
    assert server.image.id == image.id
    assert server.flavor.name == smallest_flavor(cloud)
    assert server.metadata == METADATA
    assert [g["name"] for g in server.security_groups] == [group.name]
    (port,) = conn.network.ports(device_id=server.id)
    assert port.network_id == network.id
    assert port.security_group_ids == [group.id]
    (floating,) = conn.network.ips(port_id=port.id)
    assert floating.floating_network_id == public.id
    assert floating.fixed_ip_address == port.fixed_ips[0]["ip_address"]
    shown = [
        a["addr"] for a in server.addresses[network.name] if a["OS-EXT-IPS:type"] == "floating"
    ]
    assert shown == [floating.floating_ip_address]

    # user data is visible to admins only (OS-EXT-SRV-ATTR:user_data, base64 as it was sent)
    admin = cloud.connect("interstack-admin")
    try:
        as_admin = admin.compute.get_server(server.id)
        assert base64.b64decode(as_admin.user_data).decode() == USER_DATA
    finally:
        admin.close()
    if conn.config.region_name == AWS:
        in_ec2(server.id, port.id, group.id, router.id, floating.floating_ip_address)


def tagged(describe: str, key: str, gateway_id: str) -> list[dict[str, Any]]:
    """What the emulator's EC2 holds under ``gateway_id``, the interstack id it is tagged with."""
    found = getattr(ec2(), describe)(
        Filters=[{"Name": "tag:interstack:gateway-id", "Values": [gateway_id]}]
    )
    items: list[dict[str, Any]] = found[key]
    return items


def in_ec2(server_id: str, port_id: str, group_id: str, router_id: str, address: str) -> None:
    """What the playbook made, as boto3 sees it in EC2: the instance on the port's ENI with its
    tags and user data, the group's rules, the Elastic IP on the ENI, the router's route table
    routing the subnet out through the VPC's internet gateway."""
    (reservation,) = ec2().describe_instances(
        Filters=[{"Name": "tag:openstack_id", "Values": [server_id]}]
    )["Reservations"]
    (instance,) = reservation["Instances"]
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert instance["State"]["Name"] == "running"
    assert instance["InstanceType"] == "t3.nano"  # the flavor the playbook booted, exactly
    assert {k[len("meta:") :]: v for k, v in tags.items() if k.startswith("meta:")} == METADATA
    user_data = ec2().describe_instance_attribute(
        InstanceId=instance["InstanceId"], Attribute="userData"
    )["UserData"]["Value"]
    assert base64.b64decode(user_data).decode() == USER_DATA
    (eni,) = tagged("describe_network_interfaces", "NetworkInterfaces", port_id)
    assert [n["NetworkInterfaceId"] for n in instance["NetworkInterfaces"]] == [
        eni["NetworkInterfaceId"]
    ]
    (aws_group,) = tagged("describe_security_groups", "SecurityGroups", group_id)
    assert [g["GroupId"] for g in eni["Groups"]] == [aws_group["GroupId"]]
    ingress = {
        (p["IpProtocol"], p.get("FromPort"), r["CidrIp"])
        for p in aws_group["IpPermissions"]
        for r in p.get("IpRanges", [])
    }
    assert ingress == {("tcp", 22, "0.0.0.0/0"), ("icmp", -1, "0.0.0.0/0")}
    (eip,) = ec2().describe_addresses(PublicIps=[address])["Addresses"]
    assert eip["NetworkInterfaceId"] == eni["NetworkInterfaceId"]
    (table,) = tagged("describe_route_tables", "RouteTables", router_id)
    assert [a.get("SubnetId") for a in table["Associations"]] == [eni["SubnetId"]]
    assert [
        r["GatewayId"][:4] for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"
    ] == ["igw-"]


def test_running_the_deploy_again_changes_nothing(
    deployed: PlaybookRun, cloud: ServedGateway, workdir: Path, proves_reruns: bool
) -> None:
    if not proves_reruns:
        pytest.skip("the second runs are proven on the sim region (see the module's docstring)")
    run_playbook(cloud, workdir, "deploy.yml").assert_changed_nothing()


def test_a_volume_attaches_and_detaches(
    deployed: PlaybookRun, cloud: ServedGateway, workdir: Path, conn: Any, proves_reruns: bool
) -> None:
    first = run_playbook(cloud, workdir, "volume_attach.yml")
    assert first.assert_succeeded()["changed"] > 0, first.output
    assert "All assertions passed" in first.output
    run_again_changing_nothing(proves_reruns, cloud, workdir, "volume_attach.yml")
    server = conn.compute.find_server(f"{PREFIX}-server", ignore_missing=False)
    volume = conn.block_storage.find_volume(f"{PREFIX}-data", ignore_missing=False)
    # Cinder shows the attachment's mode among the metadata while the volume is attached
    expected_metadata = {"role": "data", "attached_mode": "rw"}
    assert (volume.status, volume.size, volume.metadata) == ("in-use", 1, expected_metadata)
    (attachment,) = conn.compute.volume_attachments(server)
    assert attachment.volume_id == volume.id
    assert [a["server_id"] for a in volume.attachments] == [server.id]
    if conn.config.region_name == AWS:  # an EBS volume attached to the server's instance
        (ebs,) = tagged("describe_volumes", "Volumes", volume.id)
        (attached,) = ebs["Attachments"]
        (reservation,) = ec2().describe_instances(
            Filters=[{"Name": "tag:openstack_id", "Values": [server.id]}]
        )["Reservations"]
        assert attached["InstanceId"] == reservation["Instances"][0]["InstanceId"]
        assert (attached["State"], ebs["Size"]) == ("attached", 1)

    first = run_playbook(cloud, workdir, "volume_detach.yml")
    assert first.assert_succeeded()["changed"] > 0, first.output
    run_again_changing_nothing(proves_reruns, cloud, workdir, "volume_detach.yml")
    assert list(conn.compute.volume_attachments(server)) == []
    assert list(conn.block_storage.volumes()) == []


def test_teardown_twice_leaves_nothing_behind(
    deployed: PlaybookRun, cloud: ServedGateway, workdir: Path, conn: Any
) -> None:
    first = run_playbook(cloud, workdir, "teardown.yml")
    assert first.assert_succeeded()["changed"] > 0, first.output
    run_playbook(cloud, workdir, "teardown.yml").assert_changed_nothing()

    project_id = conn.current_project_id
    assert list(conn.compute.servers()) == []
    assert list(conn.network.ports(project_id=project_id)) == []
    assert list(conn.network.ips(project_id=project_id)) == []
    assert list(conn.network.routers(project_id=project_id)) == []
    assert list(conn.network.networks(project_id=project_id)) == []
    assert [g.name for g in conn.network.security_groups(project_id=project_id)] == ["default"]
    assert list(conn.compute.keypairs()) == []
    assert [i.name for i in conn.image.images(owner=project_id)] == []
    if conn.config.region_name == AWS:
        # what the project keeps on any OpenStack, its default group, is an EC2 group in the
        # project's VPC; nothing else is left: instances, EIPs, volumes, key pairs, AMIs, ...
        (default,) = conn.network.security_groups(project_id=project_id)
        left = tagged_in_region(AWS)
        assert set(left) == {"groups", "vpcs"}, left
        (group,) = ec2().describe_security_groups(GroupIds=left["groups"])["SecurityGroups"]
        assert {"Key": "interstack:gateway-id", "Value": default.id} in group["Tags"]
        assert left["vpcs"] == [group["VpcId"]]
