"""Glance uploads in an ``aws`` region on moto, through the gateway: a raw upload with
openstacksdk becomes an EBS snapshot (written through the EBS direct APIs) and an AMI
registered from it, both tagged; its download reads the snapshot back; a server boots from it;
deleting the image deregisters the AMI and deletes the snapshot. Another AMI's download, formats
EC2 cannot take, and VM Import where the endpoint lacks it (moto) are Glance's 501, with nothing
left behind in EC2 or S3. docs/aws-backend.md says what only real AWS proves (the AMI's root
device mapping, a real boot, VM Import).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.moto import (
    AWS,
    OBJECT_BUCKET,
    aws_gateway,
    aws_sdk,
    aws_settings,
    client,
    ec2,
    register_ami,
    s3,
)

BLOCK = 512 * 1024
#: a raw disk of two and a half EBS blocks with an all-zero block in the middle (left unwritten)
DISK = os.urandom(BLOCK) + bytes(BLOCK) + os.urandom(BLOCK // 2)
#: an AMI of the account that interstack did not make: Glance lists it, its data stays in EC2
OWN_AMI = "own-golden-image"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    settings = aws_settings()  # resets the emulator
    register_ami(OWN_AMI)
    with aws_gateway(tmp_path_factory.mktemp("aws-images") / "data", AWS, settings) as served:
        yield served


@pytest.fixture(scope="module")
def sdk(gateway: ServedGateway) -> Iterator[Any]:
    with aws_sdk(gateway) as conn:
        yield conn


def tagged(describe: str, key: str, gateway_id: str, **request: Any) -> list[dict[str, Any]]:
    found = getattr(ec2(), describe)(
        Filters=[{"Name": "tag:interstack:gateway-id", "Values": [gateway_id]}], **request
    )
    items: list[dict[str, Any]] = found[key]
    return items


def tag_map(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def test_a_raw_upload_becomes_an_ami_a_server_boots_and_deletion_removes_both(
    gateway: ServedGateway, sdk: Any
) -> None:
    image = sdk.create_image(
        unique("raw"),
        data=DISK,
        disk_format="raw",
        container_format="bare",
        wait=True,
        timeout=120,
    )
    image = sdk.image.get_image(image.id)
    assert (image.status, image.size) == ("active", len(DISK))
    assert image.checksum == hashlib.md5(DISK, usedforsecurity=False).hexdigest()

    (ami,) = tagged("describe_images", "Images", image.id, Owners=["self"])
    assert tag_map(ami)["interstack:region"] == AWS
    assert ami["State"] == "available"
    (snapshot,) = tagged("describe_snapshots", "Snapshots", image.id, OwnerIds=["self"])
    assert tag_map(snapshot)["interstack:size"] == str(len(DISK))
    assert snapshot["State"] == "completed"
    # the bytes are in the snapshot, block by block; the zero block was never written
    blocks = client("ebs").list_snapshot_blocks(SnapshotId=snapshot["SnapshotId"])["Blocks"]
    # (written in parallel, so listed in any order)
    assert sorted(b["BlockIndex"] for b in blocks) == [0, 2]
    last = client("ebs").get_snapshot_block(
        SnapshotId=snapshot["SnapshotId"], BlockIndex=2, BlockToken=blocks[1]["BlockToken"]
    )
    assert last["BlockData"].read() == DISK[2 * BLOCK :].ljust(BLOCK, b"\0")

    # a raw upload reads back from its snapshot (openstacksdk checks the md5 as well)
    assert sdk.image.download_image(image).content == DISK

    server = sdk.compute.create_server(
        name=unique("from-upload"),
        flavor_id="t3.micro",
        image_id=image.id,
        networks="none",
    )
    server = sdk.compute.wait_for_server(server, status="ACTIVE", wait=120, interval=0.2)
    (instance,) = (
        i
        for r in ec2().describe_instances(
            Filters=[{"Name": "tag:openstack_id", "Values": [server.id]}]
        )["Reservations"]
        for i in r["Instances"]
    )
    assert instance["ImageId"] == ami["ImageId"]
    sdk.compute.delete_server(server)
    sdk.compute.wait_for_delete(server, wait=120, interval=0.2)

    sdk.image.delete_image(image)
    assert ec2().describe_images(ImageIds=[ami["ImageId"]])["Images"] == []
    assert tagged("describe_snapshots", "Snapshots", image.id, OwnerIds=["self"]) == []


def upload(gateway: ServedGateway, sdk: Any, disk_format: str) -> tuple[str, httpx.Response]:
    image = sdk.image.create_image(
        name=unique(disk_format), disk_format=disk_format, container_format="bare"
    )
    response = httpx.put(
        f"{gateway.url}/{AWS}/image/v2/images/{image.id}/file",
        content=b"KDMV" + os.urandom(4096),
        headers={
            "X-Auth-Token": gateway.token("interstack"),
            "Content-Type": "application/octet-stream",
        },
        timeout=60,
    )
    return image.id, response


@pytest.mark.parametrize(
    ("disk_format", "says"),
    [("qcow2", "cannot make a machine image of a qcow2 disk"), ("vmdk", "does not import")],
)
def test_what_ec2_cannot_take_is_a_501_and_leaves_nothing(
    gateway: ServedGateway, sdk: Any, disk_format: str, says: str
) -> None:
    image_id, response = upload(gateway, sdk, disk_format)
    assert response.status_code == 501, response.text
    assert says in response.text
    assert sdk.image.get_image(image_id).status == "queued"
    assert tagged("describe_images", "Images", image_id, Owners=["self"]) == []
    assert tagged("describe_snapshots", "Snapshots", image_id, OwnerIds=["self"]) == []
    buckets = {b["Name"] for b in s3().list_buckets()["Buckets"]}
    if OBJECT_BUCKET in buckets:  # made on first use: by the vmdk upload, not by qcow2's
        listed = s3().list_objects_v2(Bucket=OBJECT_BUCKET, Prefix="interstack-images/")
        assert listed.get("KeyCount", 0) == 0
    sdk.image.delete_image(image_id)


def test_an_ami_not_uploaded_is_a_501_on_download(gateway: ServedGateway, sdk: Any) -> None:
    image = sdk.image.find_image(OWN_AMI, ignore_missing=False)
    response = httpx.get(
        f"{gateway.url}/{AWS}/image/v2/images/{image.id}/file",
        headers={"X-Auth-Token": sdk.auth_token},
        timeout=30,
    )
    assert response.status_code == 501, response.text
    assert "cannot be downloaded from AWS" in response.json()["message"]


def test_an_architecture_ec2_cannot_run_is_a_400_saying_what_to_set(
    gateway: ServedGateway, sdk: Any
) -> None:
    image = sdk.image.create_image(
        name=unique("power"), disk_format="raw", container_format="bare", architecture="ppc64le"
    )
    response = httpx.put(
        f"{gateway.url}/{AWS}/image/v2/images/{image.id}/file",
        content=DISK,
        headers={"X-Auth-Token": sdk.auth_token, "Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert response.status_code == 400, response.text
    assert "set the image's architecture property to x86_64, aarch64 or i686" in response.text
    assert sdk.image.get_image(image.id).status == "queued"
    assert tagged("describe_snapshots", "Snapshots", image.id, OwnerIds=["self"]) == []
    sdk.image.delete_image(image)


def snapshot_started(image_id: str) -> bool:
    return bool(tagged("describe_snapshots", "Snapshots", image_id, OwnerIds=["self"]))


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_raw_upload_with_its_length_streams_into_the_snapshot_as_it_comes(
    gateway: ServedGateway, sdk: Any, declared: bool
) -> None:
    """With a ``Content-Length`` the snapshot is started and written while the upload is
    still coming (the gateway holds no copy of it); sent chunked, without a length, the
    upload is read to its end first (a snapshot's size is fixed when it starts). Both give
    the same image."""
    image = sdk.image.create_image(
        name=unique("stream"), disk_format="raw", container_format="bare"
    )
    seen_before_the_end: list[bool] = []

    def body() -> Iterator[bytes]:
        yield DISK[: 2 * BLOCK]
        # wait (boundedly) for the snapshot to show before sending the rest
        for _ in range(100 if declared else 10):
            if snapshot_started(image.id):
                break
            time.sleep(0.1)
        seen_before_the_end.append(snapshot_started(image.id))
        yield DISK[2 * BLOCK :]

    headers = {"X-Auth-Token": sdk.auth_token, "Content-Type": "application/octet-stream"}
    if declared:
        headers["Content-Length"] = str(len(DISK))
    response = httpx.put(
        f"{gateway.url}/{AWS}/image/v2/images/{image.id}/file",
        content=body(),
        headers=headers,
        timeout=60,
    )
    assert response.status_code == 204, response.text
    assert seen_before_the_end == [declared]
    sdk.image.wait_for_status(sdk.image.get_image(image.id), "active", wait=120, interval=0.2)
    assert sdk.image.download_image(image).content == DISK
    (snapshot,) = tagged("describe_snapshots", "Snapshots", image.id, OwnerIds=["self"])
    assert tag_map(snapshot)["interstack:size"] == str(len(DISK))
    sdk.image.delete_image(image)
    assert tagged("describe_snapshots", "Snapshots", image.id, OwnerIds=["self"]) == []
