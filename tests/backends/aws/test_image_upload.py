"""A Glance upload on aws answers once its bytes are in EBS; the AMI follows from later looks
(the task runner's), registered with the architecture the image's ``architecture`` property
names (x86_64 without one); one EC2 cannot run is refused before anything is made. moto does
not keep an AMI's architecture, so the requests EC2 receives are the witness."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interstack.backends.aws.images import AwsImages
from interstack.backends.aws.objects import part_size
from interstack.backends.aws.settings import AwsSettings
from interstack.backends.contract import ImageInfo
from interstack.errors import BackendError, BadRequest, PayloadTooLarge
from tests.backends.aws.support import REGION, Calls, answer, new_id
from tests.support.moto import aws_settings, ec2


@pytest.fixture
def images() -> Iterator[tuple[AwsImages, Calls]]:
    settings = AwsSettings.parse(REGION, aws_settings())
    client = ec2()
    driver = AwsImages(client, REGION, settings)
    yield driver, Calls(client)
    driver.uploads.close()
    client.close()


@pytest.mark.parametrize(
    ("glance", "ec2_name"),
    [(None, "x86_64"), ("x86_64", "x86_64"), ("aarch64", "arm64"), ("i686", "i386")],
)
def test_the_ami_has_the_architecture_the_image_property_names(
    images: tuple[AwsImages, Calls], glance: str | None, ec2_name: str
) -> None:
    driver, requests = images
    properties = {} if glance is None else {"architecture": glance}
    stored = driver.store_uploaded_image(new_id(), [os.urandom(4096)], "raw", "bare", properties)
    finished = until_ready(driver, stored)
    (registered,) = requests.of("RegisterImage")
    assert registered["Architecture"] == ec2_name
    assert registered["Name"] == f"interstack-{stored.gateway_id}"
    assert ec2().describe_images(ImageIds=[finished.ref])["Images"][0]["State"] == "available"


def until_ready(driver: AwsImages, stored: ImageInfo) -> ImageInfo:
    """Look at the upload as the task runner does, until the AMI is ready."""
    assert not stored.ready  # the upload answers once the bytes are in EBS
    looks = [stored]
    while not looks[-1].ready and len(looks) < 20:
        looks.append(driver.finish_uploaded_image(stored.gateway_id, looks[-1].ref, 0.0))
    assert looks[-1].ready, looks
    return looks[-1]


def test_the_upload_answers_with_the_snapshot_and_the_ami_follows(
    images: tuple[AwsImages, Calls],
) -> None:
    driver, requests = images
    stored = driver.store_uploaded_image(new_id(), [os.urandom(4096)], "raw", "bare")
    assert str(stored.ref).startswith("snap-") and stored.size == 4096
    assert requests.of("RegisterImage") == []  # EC2's slow part is left to the looks
    requests.seen.clear()
    ami = until_ready(driver, stored).ref
    assert str(ami).startswith("ami-")
    # no look before registering: EC2 keeps AMI names unique
    assert [name for name, _ in requests.seen if "Image" in name][:2] == [
        "RegisterImage",
        "DescribeImages",  # the next look: is the AMI available
    ]
    # a look cut short and made again registers no second AMI: EC2 refuses the name again
    # (moto does not; its refusal is played here as EC2 answers)
    unique_names(driver.ec2)
    again = driver.finish_uploaded_image(stored.gateway_id, stored.ref, 0.0)
    assert again.ref == ami
    mine = [{"Name": "name", "Values": [f"interstack-{stored.gateway_id}"]}]
    assert len(ec2().describe_images(Owners=["self"], Filters=mine)["Images"]) == 1
    driver.abandon_uploaded_image(stored.gateway_id, ami)
    assert ec2().describe_images(ImageIds=[ami])["Images"] == []
    mine = [{"Name": "tag:interstack:gateway-id", "Values": [stored.gateway_id]}]
    assert ec2().describe_snapshots(OwnerIds=["self"], Filters=mine)["Snapshots"] == []


def unique_names(client: Any) -> None:
    """``register_image`` refuses a name an AMI of the account has, as EC2 does."""

    def refuse(params: dict[str, Any], **_kwargs: Any) -> Any:
        name = params.get("body", {}).get("Name")
        taken = [{"Name": "name", "Values": [name]}]
        if name and ec2().describe_images(Owners=["self"], Filters=taken)["Images"]:
            error = {"Code": "InvalidAMIName.Duplicate", "Message": f"AMI name {name} is in use"}
            return answer({"Error": error, "ResponseMetadata": {}}, 400)
        return None

    client.meta.events.register("before-call.ec2.RegisterImage", refuse)


def test_an_upload_ec2_takes_too_long_for_fails_and_abandoning_it_leaves_nothing(
    images: tuple[AwsImages, Calls], monkeypatch: pytest.MonkeyPatch
) -> None:
    driver, _requests = images
    stored = driver.store_uploaded_image(new_id(), [os.urandom(4096)], "raw", "bare")
    ami = driver.finish_uploaded_image(stored.gateway_id, stored.ref, 0.0).ref
    # moto's AMIs are available at once: an EC2 whose AMI stays pending is shown by its answer
    real = driver.uploads.ec2.describe_images
    monkeypatch.setattr(
        driver.uploads.ec2,
        "describe_images",
        lambda **request: {
            "Images": [{**i, "State": "pending"} for i in real(**request)["Images"]]
        },
    )
    assert not driver.finish_uploaded_image(stored.gateway_id, ami, 1.0).ready
    with pytest.raises(BackendError, match="still pending after"):
        driver.finish_uploaded_image(stored.gateway_id, ami, driver.settings.image_wait_seconds + 1)
    monkeypatch.undo()
    driver.abandon_uploaded_image(stored.gateway_id, ami)
    assert ec2().describe_images(ImageIds=[ami])["Images"] == []
    mine = [{"Name": "tag:interstack:gateway-id", "Values": [stored.gateway_id]}]
    assert ec2().describe_snapshots(OwnerIds=["self"], Filters=mine)["Snapshots"] == []


def test_an_architecture_ec2_cannot_run_is_refused_before_anything_is_made(
    images: tuple[AwsImages, Calls],
) -> None:
    driver, requests = images
    read: list[bytes] = []

    def data() -> Iterator[bytes]:
        read.append(b"x")
        yield os.urandom(4096)

    with pytest.raises(BadRequest, match=r"architecture 'ppc64le'.*x86_64, aarch64 or i686"):
        driver.store_uploaded_image(new_id(), data(), "raw", "bare", {"architecture": "ppc64le"})
    assert requests.seen == []
    assert read == []


@pytest.mark.parametrize("declared", [4095, 4097], ids=["longer", "shorter"])
def test_an_upload_not_of_its_declared_length_is_refused_and_leaves_no_snapshot(
    images: tuple[AwsImages, Calls], declared: int
) -> None:
    driver, _requests = images
    gateway_id = new_id()
    started: list[str] = []
    driver.uploads.ebs.meta.events.register(
        "before-call.ebs.StartSnapshot", lambda **_kwargs: started.append(gateway_id)
    )
    with pytest.raises(BadRequest, match=f"not the {declared} its Content-Length declared"):
        driver.store_uploaded_image(
            gateway_id, [os.urandom(2048), os.urandom(2048)], "raw", "bare", size=declared
        )
    assert started == [gateway_id]  # streamed: the snapshot was begun, and is removed
    mine = [{"Name": "tag:interstack:gateway-id", "Values": [gateway_id]}]
    assert ec2().describe_snapshots(OwnerIds=["self"], Filters=mine)["Snapshots"] == []


def test_large_uploads_to_s3_use_parts_that_fit_s3s_10000() -> None:
    mib, gib = 2**20, 2**30
    assert part_size(None) == part_size(4 * gib) == 8 * mib
    for length in (80 * gib + 1, 100 * gib, 5 * 2**40):
        size = part_size(length)
        assert size % mib == 0 and size * 10_000 >= length > (size - mib) * 10_000


def spool_files(directory: Path) -> list[str]:
    """The files this process has open in ``directory`` (an unnamed spool has no entry)."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # closed meanwhile
            target = os.readlink(fd)
            if target.startswith(f"{directory}/"):
                found.append(target)
    return found


def test_a_chunked_raw_upload_is_spooled_in_the_regions_data_dir_and_nothing_stays(
    tmp_path: Path,
) -> None:
    settings = AwsSettings.parse(REGION, aws_settings())
    client = ec2()
    driver = AwsImages(client, REGION, settings, spool_dir=tmp_path)
    held: list[list[str]] = []

    def data() -> Iterator[bytes]:
        yield os.urandom(4096)
        held.append(spool_files(tmp_path))  # while the upload is still coming
        yield os.urandom(4096)

    try:
        stored = driver.store_uploaded_image(new_id(), data(), "raw", "bare")
    finally:
        driver.uploads.close()
        client.close()
    assert stored.size == 8192
    assert len(held) == 1 and len(held[0]) == 1  # one file, in the region's directory
    assert spool_files(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_a_chunked_raw_upload_without_room_to_spool_is_a_413_and_starts_no_snapshot(
    images: tuple[AwsImages, Calls], monkeypatch: pytest.MonkeyPatch
) -> None:
    driver, _requests = images
    # every write to the spool fails as on a full disk (the spool's own ``with`` closes it)
    full = lambda **_kwargs: open("/dev/full", "w+b")  # noqa: E731, SIM115
    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    gateway_id = new_id()
    started: list[str] = []
    driver.uploads.ebs.meta.events.register(
        "before-call.ebs.StartSnapshot", lambda **_kwargs: started.append(gateway_id)
    )
    with pytest.raises(PayloadTooLarge, match="send the image with its Content-Length"):
        driver.store_uploaded_image(gateway_id, [os.urandom(2**20)] * 2, "raw", "bare")
    assert started == []
    mine = [{"Name": "tag:interstack:gateway-id", "Values": [gateway_id]}]
    assert ec2().describe_snapshots(OwnerIds=["self"], Filters=mine)["Snapshots"] == []
