"""moto, the AWS emulator, in server mode on loopback for the aws backend's tests.

One server per test session (started on first use, on 127.0.0.1 and a free port), reset before
each test that asks for it, so every test starts from an empty account. Used by the conformance
suite (through :func:`aws_settings`) and by the API tests (a gateway region backed by it).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import httpx

from tests.support.gateway import ServedGateway

AWS_REGION = "us-east-1"
#: the gateway region the API and end-to-end tests back by the emulator
AWS = "aws-us-east-1"
#: moto accepts any keys; explicit ones keep the tests independent of the environment
TEST_CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing-secret"}
#: the bucket an aws region's Swift objects go to (created by the backend on first use)
OBJECT_BUCKET = "interstack-tests-objects"
INSTANCE_TYPES = ["t3.nano", "t3.micro", "t3.small", "t3.medium", "t3.large"]

_lock = threading.Lock()
_endpoint: str | None = None


def moto_endpoint() -> str:
    """The session's moto server URL, started on first use."""
    global _endpoint  # noqa: PLW0603 - one emulator per test session
    with _lock:
        if _endpoint is None:
            from moto.server import ThreadedMotoServer

            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            _endpoint = f"http://{host}:{port}"
        return _endpoint


def reset_moto() -> None:
    """Forget every resource (moto keeps state across calls until reset)."""
    httpx.post(f"{moto_endpoint()}/moto-api/reset", timeout=30).raise_for_status()


def client(service: str) -> Any:
    """A boto3 client for ``service`` straight to the emulator, to see what the backend did."""
    return boto3.client(
        service,
        region_name=AWS_REGION,
        endpoint_url=moto_endpoint(),
        aws_access_key_id=TEST_CREDENTIALS["access_key_id"],
        aws_secret_access_key=TEST_CREDENTIALS["secret_access_key"],
    )


def ec2() -> Any:
    """EC2 straight to the emulator, to see what the backend made."""
    return client("ec2")


def s3() -> Any:
    """S3 straight to the emulator, to see the objects the backend stored."""
    return client("s3")


def register_ami(name: str) -> str:
    """An AMI of the account that interstack did not make (an 8 GiB EBS root), by name."""
    made: str = ec2().register_image(
        Name=name,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
    )["ImageId"]
    return made


@contextmanager
def aws_gateway(data: Path, region: str, settings: dict[str, Any]) -> Iterator[ServedGateway]:
    """A served gateway with one ``aws`` region on the emulator, stopped afterwards."""
    config = {"regions": [{"name": region, "backend": "aws", "settings": settings}]}
    with ServedGateway(data, config=config) as served:
        yield served


@contextmanager
def aws_gateway_booting(data: Path, image: str, **overrides: Any) -> Iterator[ServedGateway]:
    """:func:`aws_gateway` on an emptied emulator, its region booting an AMI named ``image``
    (registered now) for images without one."""
    settings = aws_settings(**overrides)  # resets the emulator
    settings["default_image"] = register_ami(image)
    with aws_gateway(data, AWS, settings) as served:
        yield served


@contextmanager
def aws_sdk(gateway: ServedGateway) -> Iterator[Any]:
    """openstacksdk as the demo project's member in the aws region, closed afterwards."""
    conn = gateway.connect("interstack", region_name=AWS)
    try:
        yield conn
    finally:
        conn.close()


@functools.cache
def an_ami() -> str:
    """One of moto's built-in Amazon AMIs, looked up once a session: the filtered listing takes
    seconds of the emulator's CPU, and every reset loads the same built-in list again."""
    images = ec2().describe_images(
        Owners=["amazon"], Filters=[{"Name": "root-device-type", "Values": ["ebs"]}]
    )["Images"]
    return str(sorted(images, key=lambda i: i["ImageId"])[0]["ImageId"])


def aws_settings(**overrides: Any) -> dict[str, Any]:
    """A region's settings for the aws backend on the (freshly reset) emulator."""
    reset_moto()
    return {
        "aws_region": AWS_REGION,
        "endpoint_url": moto_endpoint(),
        "credentials": dict(TEST_CREDENTIALS),
        "instance_types": INSTANCE_TYPES,
        "default_image": an_ami(),
        "max_attempts": 2,
        "object_bucket": OBJECT_BUCKET,
        **overrides,
    }


_LIVE = {
    "Name": "instance-state-name",
    "Values": ["pending", "running", "shutting-down", "stopping", "stopped"],
}


def tagged_in_region(region: str) -> dict[str, list[str]]:
    """The ids of every resource kind in the emulator carrying ``region``'s interstack tag
    (instances only while not terminated), for the kinds that hold any."""
    client = ec2()
    mine = [{"Name": "tag:interstack:region", "Values": [region]}]
    instances = client.describe_instances(Filters=[*mine, _LIVE])["Reservations"]
    found = {
        "instances": [i["InstanceId"] for r in instances for i in r["Instances"]],
        "key pairs": [k["KeyName"] for k in client.describe_key_pairs(Filters=mine)["KeyPairs"]],
        "addresses": [a["PublicIp"] for a in client.describe_addresses(Filters=mine)["Addresses"]],
        "images": [
            i["ImageId"] for i in client.describe_images(Owners=["self"], Filters=mine)["Images"]
        ],
        "snapshots": [
            s["SnapshotId"]
            for s in client.describe_snapshots(OwnerIds=["self"], Filters=mine)["Snapshots"]
        ],
        "volumes": [v["VolumeId"] for v in client.describe_volumes(Filters=mine)["Volumes"]],
        "interfaces": [
            n["NetworkInterfaceId"]
            for n in client.describe_network_interfaces(Filters=mine)["NetworkInterfaces"]
        ],
        "groups": [
            g["GroupId"] for g in client.describe_security_groups(Filters=mine)["SecurityGroups"]
        ],
        "route tables": [
            t["RouteTableId"] for t in client.describe_route_tables(Filters=mine)["RouteTables"]
        ],
        "subnets": [s["SubnetId"] for s in client.describe_subnets(Filters=mine)["Subnets"]],
        "internet gateways": [
            g["InternetGatewayId"]
            for g in client.describe_internet_gateways(Filters=mine)["InternetGateways"]
        ],
        "vpcs": [v["VpcId"] for v in client.describe_vpcs(Filters=mine)["Vpcs"]],
    }
    return {kind: ids for kind, ids in found.items() if ids}


def left_in_region(region: str) -> dict[str, list[str]]:
    """What of ``region`` a test left in the emulator: every interstack-tagged resource
    (:func:`tagged_in_region`) and every object or unfinished upload in the region's buckets,
    except what the region keeps by design once made: a project's VPC holding nothing but
    its placeholder block (only ``interstack cleanup`` deletes it) and the emptied bucket."""
    left = tagged_in_region(region)
    if left.get("vpcs"):
        vpcs = ec2().describe_vpcs(VpcIds=left["vpcs"])["Vpcs"]
        holding = [v["VpcId"] for v in vpcs if len(_live_blocks(v)) > 1]
        left["vpcs"] = [f"{vpc} (a secondary CIDR block still associated)" for vpc in holding]
    client = s3()
    for bucket in client.list_buckets()["Buckets"]:
        name = bucket["Name"]
        if _bucket_region(client, name) != region:
            continue
        keys = client.list_objects_v2(Bucket=name, MaxKeys=20).get("Contents", [])
        left.setdefault("objects", []).extend(f"{name}/{o['Key']}" for o in keys)
        uploads = client.list_multipart_uploads(Bucket=name).get("Uploads", [])
        left.setdefault("unfinished uploads", []).extend(f"{name}/{u['Key']}" for u in uploads)
    return {kind: found for kind, found in left.items() if found}


def group_mentions(ref: str) -> list[str]:
    """Where the emulator's EC2 still names the security group ``ref``: the group itself, and
    each other group's permission referencing it."""
    found = ec2().describe_security_groups(Filters=[{"Name": "group-id", "Values": [ref]}])
    return [f"security group {ref}"] * len(found["SecurityGroups"]) + permissions_naming(ref)


def permissions_naming(ref: str) -> list[str]:
    """Each permission (ingress or egress) of another group referencing the group ``ref``."""
    found: list[str] = []
    for group in ec2().describe_security_groups()["SecurityGroups"]:
        for key in ("IpPermissions", "IpPermissionsEgress"):
            for permission in group.get(key, []) if group["GroupId"] != ref else []:
                pairs = permission.get("UserIdGroupPairs", [])
                if any(pair.get("GroupId") == ref for pair in pairs):
                    found.append(f"{key} of {group['GroupId']}: {permission}")
    return found


def _live_blocks(vpc: dict[str, Any]) -> list[str]:
    return [
        a["CidrBlock"]
        for a in vpc.get("CidrBlockAssociationSet", [])
        if a["CidrBlockState"]["State"] in {"associating", "associated"}
    ]


def _bucket_region(client: Any, bucket: str) -> str | None:
    """The interstack region a bucket is tagged with, if any."""
    try:
        tag_set = client.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except botocore.exceptions.ClientError:  # a bucket without tags
        return None
    return next((t["Value"] for t in tag_set if t["Key"] == "interstack:region"), None)
