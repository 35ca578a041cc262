"""``interstack cleanup --region`` on an ``aws`` region (moto): resources made through the
gateway survive the loss of the gateway's state; the dry run lists them and touches nothing,
the cleanup removes every one of them, and what the account holds without interstack's tag
stays. boto3 against the same emulator is the witness.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

from interstack.client import networks as cloud
from interstack.client.served import BIN_DIR
from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.moto import (
    AWS,
    OBJECT_BUCKET,
    TEST_CREDENTIALS,
    aws_settings,
    ec2,
    s3,
    tagged_in_region,
)
from tests.support.network import external_network, neutron

AMI_FILTER = {"owners": ["amazon"], "filters": {"name": ["al2023-ami-2023*-x86_64"]}}


def build_a_project(gateway: ServedGateway) -> None:
    """A routed network, two groups referring to each other, a server with a key pair, a
    floating IP and a snapshot: every kind the aws backend creates."""
    sdk = gateway.connect("interstack", AWS)
    public = cloud.external_network(sdk)
    net = cloud.routed_network(sdk, unique("left"), "10.60.0.0/24", public).network
    web = sdk.network.create_security_group(name=unique("web"))
    db = sdk.network.create_security_group(name=unique("db"))
    sdk.network.create_security_group_rule(
        security_group_id=db.id, direction="ingress", remote_group_id=web.id
    )
    sdk.network.create_security_group_rule(
        security_group_id=web.id, direction="ingress", remote_group_id=db.id
    )
    keypair = sdk.compute.create_keypair(name=unique("key"))
    image = next(i for i in sdk.image.images() if i.disk_format == "ami")
    server = sdk.compute.create_server(
        name=unique("left"),
        flavor_id="t3.micro",
        image_id=image.id,
        networks=[{"uuid": net.id}],
        key_name=keypair.name,
        security_groups=[{"name": web.name}, {"name": db.name}],
        user_data=base64.b64encode(b"#!/bin/sh\n").decode(),
    )
    server = sdk.compute.wait_for_server(server, status="ACTIVE", wait=120, interval=0.2)
    cloud.floating_ip(sdk, public, cloud.server_port(sdk, server).id)
    sdk.compute.create_server_image(server, unique("snap"), wait=True, timeout=120)
    container = unique("left")
    sdk.object_store.create_container(name=container)
    sdk.object_store.upload_object(container=container, name="kept.txt", data=b"left behind")
    sdk.close()


def bucket_keys() -> list[str] | None:
    """The keys of the region's bucket, ``None`` once there is no bucket."""
    client = s3()
    if OBJECT_BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        return None
    return [o["Key"] for o in client.list_objects_v2(Bucket=OBJECT_BUCKET).get("Contents", [])]


def run_cleanup(config_file: Path, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN_DIR / "interstack"),
            "cleanup",
            "--config",
            str(config_file),
            "--data-dir",
            str(data_dir),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def cleanup(gateway: ServedGateway, data_dir: Path, *args: str) -> list[str]:
    """The lines ``interstack cleanup --region`` prints for the aws region."""
    result = run_cleanup(gateway.config_file, data_dir, "--region", AWS, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert TEST_CREDENTIALS["secret_access_key"] not in result.stdout + result.stderr
    return result.stdout.splitlines()


def test_cleanup_removes_what_a_lost_gateway_left_in_aws(tmp_path: Path) -> None:
    config = {
        "regions": [{"name": AWS, "backend": "aws", "settings": aws_settings(images=[AMI_FILTER])}]
    }
    foreign_vpc = ec2().create_vpc(CidrBlock="172.31.0.0/16")["Vpc"]["VpcId"]  # not ours
    with ServedGateway(tmp_path / "data", config=config) as gateway:
        with neutron(gateway, gateway.token("interstack-admin"), AWS) as admin:
            external_network(admin)
        build_a_project(gateway)
    shutil.rmtree(gateway.data_dir)  # the gateway's state is gone; AWS still has it all
    left = tagged_in_region(AWS)
    assert set(left) >= {"instances", "key pairs", "addresses", "images", "interfaces"}
    assert set(left) >= {"groups", "route tables", "subnets", "internet gateways", "vpcs"}

    listed = cleanup(gateway, tmp_path / "fresh", "--dry-run")
    for aws_id in (aws_id for ids in left.values() for aws_id in ids):
        assert any(line.startswith("would remove ") and aws_id in line for line in listed), aws_id
    assert tagged_in_region(AWS) == left  # a dry run touches nothing
    assert f"would remove S3 bucket {OBJECT_BUCKET} (1 objects)" in listed
    assert len(bucket_keys() or []) == 1

    removed = cleanup(gateway, tmp_path / "fresh")
    # root volumes go with their terminated instances; everything else is removed by name
    for aws_id in (aws_id for kind, ids in left.items() if kind != "volumes" for aws_id in ids):
        assert any(line.startswith("removed ") and aws_id in line for line in removed), aws_id
    assert tagged_in_region(AWS) == {}
    assert bucket_keys() is None  # the bucket the backend made went with its objects
    assert ec2().describe_vpcs(VpcIds=[foreign_vpc])["Vpcs"]  # the account's own stays
    assert cleanup(gateway, tmp_path / "fresh")[-1] == f"region {AWS}: 0 resource(s) removed"


def test_cleanup_of_an_unknown_region_fails_plainly(tmp_path: Path) -> None:
    gateway = ServedGateway(
        tmp_path / "data", config={"regions": [{"name": "RegionOne", "backend": "sim"}]}
    )
    result = run_cleanup(gateway.config_file, gateway.data_dir, "--region", "nowhere")
    assert result.returncode == 1
    assert "no region nowhere" in result.stderr and "Traceback" not in result.stderr


def test_cleanup_of_a_region_without_cloud_resources_says_so(tmp_path: Path) -> None:
    gateway = ServedGateway(
        tmp_path / "data", config={"regions": [{"name": "RegionOne", "backend": "sim"}]}
    )
    result = run_cleanup(
        gateway.config_file, gateway.data_dir, "--region", "RegionOne", "--dry-run"
    )
    assert result.returncode == 1
    assert "no cloud resources to clean up" in result.stderr and "Traceback" not in result.stderr


def test_a_serving_gateway_builds_in_a_new_vpc_after_the_cleanup_removed_its_own(
    tmp_path: Path,
) -> None:
    config = {"regions": [{"name": AWS, "backend": "aws", "settings": aws_settings()}]}
    with ServedGateway(tmp_path / "data", config=config) as gateway:
        sdk = gateway.connect("interstack", region_name=AWS)
        net = sdk.network.create_network(name=unique("net"))
        subnet = sdk.network.create_subnet(network_id=net.id, cidr="10.61.0.0/24", ip_version=4)
        (old_vpc,) = tagged_in_region(AWS)["vpcs"]  # the gateway now remembers it
        sdk.network.delete_subnet(subnet)
        sdk.network.delete_network(net)

        removed = cleanup(gateway, tmp_path / "fresh")
        assert any(line.startswith("removed ") and old_vpc in line for line in removed)

        net = sdk.network.create_network(name=unique("net"))
        subnet = sdk.network.create_subnet(network_id=net.id, cidr="10.61.0.0/24", ip_version=4)
        router = sdk.network.create_router(name=unique("router"))
        sdk.network.add_interface_to_router(router, subnet=subnet.id)
        (new_vpc,) = tagged_in_region(AWS)["vpcs"]
        assert new_vpc != old_vpc
        (aws_subnet,) = ec2().describe_subnets(
            Filters=[{"Name": "tag:interstack:gateway-id", "Values": [subnet.id]}]
        )["Subnets"]
        assert aws_subnet["VpcId"] == new_vpc
        sdk.close()
