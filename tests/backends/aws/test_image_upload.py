"""A Glance upload becomes an AMI of the architecture the image's ``architecture`` property
names (x86_64 without one); one EC2 cannot run is refused before anything is made. moto does
not keep an AMI's architecture, so the requests EC2 receives are the witness."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from interstack.backends.aws.images import AwsImages
from interstack.backends.aws.settings import AwsSettings
from interstack.errors import BadRequest
from tests.support.moto import aws_settings, ec2

REGION = "aws-test"


class Requests:
    """The parameters of each operation a boto3 client sends (botocore's ``before-call``)."""

    def __init__(self, client: Any) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("before-call.ec2", self._record)

    def _record(self, model: Any, params: dict[str, Any], **_kwargs: Any) -> None:
        self.seen.append((str(model.name), dict(params.get("body", {}))))

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.seen if name == operation]


@pytest.fixture
def images() -> Iterator[tuple[AwsImages, Requests]]:
    settings = AwsSettings.parse(REGION, aws_settings())
    client = ec2()
    driver = AwsImages(client, REGION, settings)
    yield driver, Requests(client)
    driver.uploads.close()
    client.close()


@pytest.mark.parametrize(
    ("glance", "ec2_name"),
    [(None, "x86_64"), ("x86_64", "x86_64"), ("aarch64", "arm64"), ("i686", "i386")],
)
def test_the_ami_has_the_architecture_the_image_property_names(
    images: tuple[AwsImages, Requests], glance: str | None, ec2_name: str
) -> None:
    driver, requests = images
    properties = {} if glance is None else {"architecture": glance}
    stored = driver.store_uploaded_image(
        str(uuid.uuid4()), [os.urandom(4096)], "raw", "bare", properties
    )
    (registered,) = requests.of("RegisterImage")
    assert registered["Architecture"] == ec2_name
    assert registered["Name"] == f"interstack-{stored.gateway_id}"


def test_an_architecture_ec2_cannot_run_is_refused_before_anything_is_made(
    images: tuple[AwsImages, Requests],
) -> None:
    driver, requests = images
    read: list[bytes] = []

    def data() -> Iterator[bytes]:
        read.append(b"x")
        yield os.urandom(4096)

    with pytest.raises(BadRequest, match=r"architecture 'ppc64le'.*x86_64, aarch64 or i686"):
        driver.store_uploaded_image(
            str(uuid.uuid4()), data(), "raw", "bare", {"architecture": "ppc64le"}
        )
    assert requests.seen == []
    assert read == []
